"""Tests for heritcli.core.mcem (spike-and-slab SAEM).

The oracles are written here from the textbook formulas, independently of the module:

* the collapsed inclusion log-odds against the ratio of two Gaussian marginal likelihoods
  computed with ``scipy.stats.multivariate_normal`` in an explicit basis of the residual space;
* the M-step against ``scipy.optimize`` on the expected complete-data log-likelihood;
* the score, Fisher's identity and Louis' identity against the exact marginal likelihood of a
  problem small enough to enumerate every inclusion pattern (2⁶ of them), differentiated
  numerically; the posterior moments of the sufficient statistics are computed exactly from
  the Gaussian moments of the effects given each pattern;
* the numba sweep against the numpy reference sweep from the same random numbers.

No reference number here comes from another program; tolerances are stated where used.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import optimize, stats

from heritcli.core import mcem

HAS_NUMBA = mcem.numba_sweep() is not None


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _genotypes(seed: int, n: int, m: int, missing: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.1, 0.9, m)
    counts = rng.binomial(2, p[:, None], (m, n)).astype(np.int8)
    if missing:
        counts[rng.random(counts.shape) < missing] = -1
    called = counts >= 0
    freq = np.where(called, counts, 0).sum(axis=1) / (2.0 * called.sum(axis=1))
    return counts, freq


def _problem(seed: int = 0, n: int = 60, m: int = 40, c: int = 2, missing: float = 0.03):
    """SweepData with covariates and missing calls, a phenotype with a few effects."""
    rng = np.random.default_rng(seed + 100)
    counts, freq = _genotypes(seed, n, m, missing)
    x = np.column_stack([np.ones(n)] + [rng.standard_normal(n) for _ in range(c - 1)])
    data = mcem.prepare_sweep_data(counts.copy(), freq, x)
    z = np.stack([data.z(j) for j in range(m)], axis=1)
    b = np.zeros(m)
    b[rng.choice(m, 3, replace=False)] = rng.normal(0, 0.5, 3)
    y = x @ rng.standard_normal(c) + z @ b + rng.standard_normal(n)
    y_projected = y - data.q @ (data.q.T @ y)
    return data, z, x, y_projected, counts


def _complement(q: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the orthogonal complement of the columns of q (n × (n − c))."""
    full, _ = np.linalg.qr(np.column_stack([q, np.eye(q.shape[0])]))
    return full[:, q.shape[1] : q.shape[0]]


# --------------------------------------------------------------------------------------------
# Genotype preparation
# --------------------------------------------------------------------------------------------


def test_prepare_sweep_data__matches_make_grm_standardization() -> None:
    from heritcli.core.standardize import standardize

    data, z, _, _, counts = _problem()
    _, freq = _genotypes(0, 60, 40, 0.03)
    expected = standardize(counts, freq, dtype=np.float64)
    np.testing.assert_allclose(z.T, expected, rtol=0, atol=1e-12)
    q = data.q
    np.testing.assert_allclose(data.a, z.T @ q, atol=1e-12)
    pz = z - q @ (q.T @ z)
    np.testing.assert_allclose(data.d, (pz * pz).sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(data.zsum, z.sum(axis=0), atol=1e-10)
    assert data.x.dtype == np.int8 and data.x.min() >= 0


# --------------------------------------------------------------------------------------------
# Collapsed log-odds
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_collapsed_log_odds__equals_gaussian_marginal_ratio(seed: int) -> None:
    data, z, _, y, _ = _problem(seed)
    rng = np.random.default_rng(seed)
    basis = _complement(data.q)
    n_df = basis.shape[1]
    b = np.where(rng.random(data.n_snps) < 0.2, rng.normal(0, 0.3, data.n_snps), 0.0)
    sigma_e2, tau2, pi = 0.8, 0.05, 0.07
    for j in (0, 5, 17):
        rest = b.copy()
        rest[j] = 0.0
        r = basis.T @ (y - z @ rest)  # the residual without SNP j, in the residual space
        w = basis.T @ z[:, j]
        slab = stats.multivariate_normal(
            np.zeros(n_df), sigma_e2 * np.eye(n_df) + tau2 * np.outer(w, w)
        )
        spike = stats.multivariate_normal(np.zeros(n_df), sigma_e2 * np.eye(n_df))
        brute = math.log(pi / (1 - pi)) + slab.logpdf(r) - spike.logpdf(r)
        u = float(w @ r)
        log_odds, mu, v = mcem.collapsed_log_odds(u, float(w @ w), sigma_e2, tau2, pi)
        assert log_odds == pytest.approx(brute, abs=1e-8)
        # b_j | γ_j = 1, rest: Gaussian posterior of a one-coefficient regression.
        v_ref = 1.0 / (float(w @ w) / sigma_e2 + 1.0 / tau2)
        assert v == pytest.approx(v_ref, rel=1e-12)
        assert mu == pytest.approx(v_ref * float(w @ r) / sigma_e2, rel=1e-10)


@pytest.mark.parametrize(
    "engine",
    [
        "numpy",
        pytest.param(
            "numba", marks=pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")
        ),
    ],
)
def test_gibbs_sweep__conditional_probability_equals_brute_force(engine: str) -> None:
    data, z, _, y, _ = _problem(3)
    rng = np.random.default_rng(3)
    basis = _complement(data.q)
    n_df = basis.shape[1]
    state = mcem.SweepState.empty(data, y)
    params = mcem.Params(sigma_e2=0.9, pi=0.1, sigma_g2=0.4)
    out_p = np.zeros(data.n_snps)
    out_mu = np.zeros(data.n_snps)
    for _ in range(3):  # reach a state with some SNPs included
        draws = mcem.SweepDraws.draw(rng, data.n_snps, np.arange(data.n_snps))
        mcem.gibbs_sweep(data, state, params, draws, out_p, out_mu, engine=engine)
    assert state.gamma.sum() > 0
    tau2 = params.tau2(data.n_snps)
    for j in (int(np.flatnonzero(state.gamma)[0]), int(np.flatnonzero(state.gamma == 0)[0])):
        rest = state.beta.copy()
        rest[j] = 0.0
        r = basis.T @ (y - z @ rest)
        w = basis.T @ z[:, j]
        cov1 = params.sigma_e2 * np.eye(n_df) + tau2 * np.outer(w, w)
        brute = (
            math.log(params.pi / (1 - params.pi))
            + stats.multivariate_normal(np.zeros(n_df), cov1).logpdf(r)
            - stats.multivariate_normal(np.zeros(n_df), params.sigma_e2 * np.eye(n_df)).logpdf(r)
        )
        one = mcem.SweepDraws(np.array([j]), np.array([0.5]), np.array([0.0]))
        mcem.gibbs_sweep(data, state.copy(), params, one, out_p, out_mu, engine=engine)
        assert out_p[j] == pytest.approx(1.0 / (1.0 + math.exp(-brute)), rel=1e-8)


def test_gibbs_sweep__residual_bookkeeping_is_exact() -> None:
    data, z, _, y, _ = _problem(4)
    rng = np.random.default_rng(4)
    state = mcem.SweepState.empty(data, y)
    params = mcem.Params(0.9, 0.2, 0.5)
    out_p = np.zeros(data.n_snps)
    out_mu = np.zeros(data.n_snps)
    for _ in range(5):
        draws = mcem.SweepDraws.draw(rng, data.n_snps, rng.permutation(data.n_snps))
        result = mcem.gibbs_sweep(data, state, params, draws, out_p, out_mu, engine="numpy")
    np.testing.assert_allclose(state.s, y - z @ state.beta, atol=1e-10)
    assert np.all((state.beta != 0) == (state.gamma == 1))
    resid = y - z @ state.beta
    resid -= data.q @ (data.q.T @ resid)
    assert result.sampled[0] == pytest.approx(float(resid @ resid), rel=1e-10)
    assert result.sampled[1] == state.gamma.sum()
    assert result.sampled[2] == pytest.approx(float(state.beta @ state.beta), rel=1e-12)


@pytest.mark.skipif(not HAS_NUMBA, reason="numba not installed")
def test_gibbs_sweep__numba_and_numpy_draw_the_same() -> None:
    data, _, _, y, _ = _problem(5, n=120, m=300, c=3, missing=0.05)
    params = mcem.Params(0.7, 0.05, 0.6)
    states = {e: mcem.SweepState.empty(data, y) for e in ("numpy", "numba")}
    outs = {e: (np.zeros(data.n_snps), np.zeros(data.n_snps)) for e in states}
    rng = np.random.default_rng(11)
    for sweep in range(8):
        order = rng.permutation(data.n_snps) if sweep % 2 else np.arange(data.n_snps)
        draws = mcem.SweepDraws.draw(rng, data.n_snps, order)
        results = {
            e: mcem.gibbs_sweep(data, states[e], params, draws, *outs[e], engine=e) for e in states
        }
        # Same inclusion decisions; effects equal to rounding (the two sum in different orders).
        np.testing.assert_array_equal(states["numpy"].gamma, states["numba"].gamma)
        np.testing.assert_allclose(
            states["numpy"].beta, states["numba"].beta, rtol=1e-9, atol=1e-12
        )
        np.testing.assert_allclose(states["numpy"].s, states["numba"].s, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(outs["numpy"][0], outs["numba"][0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            results["numpy"].rao_blackwell, results["numba"].rao_blackwell, rtol=1e-9
        )
    assert states["numba"].gamma.sum() > 0


def test_resolve_engine__falls_back_to_numpy_with_a_warning(monkeypatch) -> None:
    monkeypatch.setattr(mcem, "_NUMBA_TRIED", True)
    monkeypatch.setattr(mcem, "_NUMBA_SWEEP", None)
    engine, warning = mcem.resolve_engine("auto")
    assert engine == "numpy"
    assert warning is not None and "numba" in warning
    assert mcem.resolve_engine("numpy") == ("numpy", None)
    with pytest.raises(ValueError, match="engine"):
        mcem.resolve_engine("fortran")


# --------------------------------------------------------------------------------------------
# M-step, score, Hessian, Louis
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stats_", [(80.0, 12.3, 0.9), (55.0, 400.0, 2.5), (30.0, 1.5, 0.01)])
def test_m_step__maximises_expected_complete_loglik(stats_: tuple[float, float, float]) -> None:
    n_df, m = 98, 1000
    best = mcem.m_step(np.array(stats_), n_df, m)

    def negative(phi: np.ndarray) -> float:
        params = mcem.Params(math.exp(phi[0]), 1 / (1 + math.exp(-phi[1])), math.exp(phi[2]))
        return -mcem.complete_loglik(params, np.array(stats_), n_df, m)

    start = np.array([0.0, -3.0, 0.0])
    numeric = optimize.minimize(
        negative,
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    found = mcem.Params(
        math.exp(numeric.x[0]), 1 / (1 + math.exp(-numeric.x[1])), math.exp(numeric.x[2])
    )
    assert found.sigma_e2 == pytest.approx(best.sigma_e2, rel=1e-5)
    assert found.pi == pytest.approx(best.pi, rel=1e-5)
    assert found.sigma_g2 == pytest.approx(best.sigma_g2, rel=1e-5)
    value = mcem.complete_loglik(best, np.array(stats_), n_df, m)
    assert value >= -numeric.fun - 1e-9
    # and no perturbation of the closed form does better
    for k in range(3):
        for sign in (-1, 1):
            fields = [best.sigma_e2, best.pi, best.sigma_g2]
            fields[k] *= 1 + sign * 1e-3
            assert mcem.complete_loglik(mcem.Params(*fields), np.array(stats_), n_df, m) < value


def test_score_and_hessian__match_numerical_derivatives() -> None:
    n_df, m = 50, 200
    s = np.array([40.0, 7.0, 0.8])
    params = mcem.Params(0.8, 0.03, 0.6)
    mat, const = mcem.score_matrix(params, n_df, m)
    grad = mat @ s + const
    hess = mcem.complete_hessian(params, s, n_df, m)
    theta = np.array([params.sigma_e2, params.pi, params.sigma_g2])

    def f(t: np.ndarray) -> float:
        return mcem.complete_loglik(mcem.Params(*t), s, n_df, m)

    grad_num, hess_num = _numeric_grad_hess(f, theta)
    # central differences with relative step 1e-4: error O(1e-8) relative, plus rounding
    np.testing.assert_allclose(grad, grad_num, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(hess, hess_num, rtol=1e-5, atol=1e-4)


class _Enumerated:
    """A problem with M = 6 SNPs: exact marginal likelihood and posterior moments of S."""

    def __init__(self, seed: int = 7, n: int = 30, m: int = 6) -> None:
        rng = np.random.default_rng(seed)
        counts, freq = _genotypes(seed, n, m)
        x = np.column_stack([np.ones(n), rng.standard_normal(n)])
        self.data = mcem.prepare_sweep_data(counts.copy(), freq, x)
        z = np.stack([self.data.z(j) for j in range(m)], axis=1)
        basis = _complement(self.data.q)
        self.w = basis.T @ z  # Z in the residual space
        y = x @ np.array([1.0, -0.5]) + z[:, 1] * 0.8 + z[:, 4] * 0.5 + rng.standard_normal(n)
        self.y_projected = y - self.data.q @ (self.data.q.T @ y)
        self.r = basis.T @ y
        self.n_df = basis.shape[1]
        self.m = m

    def patterns(self) -> list[tuple[int, ...]]:
        return list(itertools.product((0, 1), repeat=self.m))

    def loglik(self, params: mcem.Params) -> float:
        tau2 = params.tau2(self.m)
        terms = []
        for gamma in self.patterns():
            idx = np.flatnonzero(gamma)
            cov = params.sigma_e2 * np.eye(self.n_df) + tau2 * self.w[:, idx] @ self.w[:, idx].T
            k = len(idx)
            prior = k * math.log(params.pi) + (self.m - k) * math.log1p(-params.pi)
            terms.append(prior + stats.multivariate_normal(np.zeros(self.n_df), cov).logpdf(self.r))
        return float(np.logaddexp.reduce(terms))

    def moments(self, params: mcem.Params) -> tuple[np.ndarray, np.ndarray]:
        """Exact E[S | y] and Cov(S | y), S = (R, k, B)."""
        tau2 = params.tau2(self.m)
        weights, means, covs = [], [], []
        for gamma in self.patterns():
            idx = np.flatnonzero(gamma)
            k = len(idx)
            wg = self.w[:, idx]
            cov = params.sigma_e2 * np.eye(self.n_df) + tau2 * wg @ wg.T
            prior = k * math.log(params.pi) + (self.m - k) * math.log1p(-params.pi)
            weights.append(
                prior + stats.multivariate_normal(np.zeros(self.n_df), cov).logpdf(self.r)
            )
            # b_γ | y ~ N(mu, V); R = bᵀWᵀWb − 2rᵀWb + rᵀr, B = bᵀb (quadratic forms)
            if k:
                prec = wg.T @ wg / params.sigma_e2 + np.eye(k) / tau2
                v = np.linalg.inv(prec)
                mu = v @ wg.T @ self.r / params.sigma_e2
                a_r, c_r = wg.T @ wg, -2 * wg.T @ self.r
                a_b, c_b = np.eye(k), np.zeros(k)
                forms = [(a_r, c_r, float(self.r @ self.r)), (a_b, c_b, 0.0)]
                mean_q = [float(mu @ a @ mu + np.trace(a @ v) + c @ mu + c0) for a, c, c0 in forms]
                grads = [2 * a @ mu + c for a, c, _ in forms]
                cq = np.zeros((2, 2))
                for i, (ai, _, _) in enumerate(forms):
                    for j, (aj, _, _) in enumerate(forms):
                        cq[i, j] = 2 * np.trace(ai @ v @ aj @ v) + grads[i] @ v @ grads[j]
                mean = np.array([mean_q[0], k, mean_q[1]])
                cov_s = np.array([[cq[0, 0], 0, cq[0, 1]], [0, 0, 0], [cq[1, 0], 0, cq[1, 1]]])
            else:
                mean = np.array([float(self.r @ self.r), 0.0, 0.0])
                cov_s = np.zeros((3, 3))
            means.append(mean)
            covs.append(cov_s)
        logw = np.array(weights)
        prob = np.exp(logw - np.logaddexp.reduce(logw))
        means_arr = np.array(means)
        total_mean = prob @ means_arr
        centred = means_arr - total_mean
        total_cov = np.einsum("g,gij->ij", prob, np.array(covs)) + (centred.T * prob) @ centred
        return total_mean, total_cov


def _numeric_grad_hess(f, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = 1e-4 * theta
    grad = np.zeros(3)
    hess = np.zeros((3, 3))
    for i in range(3):
        e = np.zeros(3)
        e[i] = h[i]
        grad[i] = (f(theta + e) - f(theta - e)) / (2 * h[i])
        for k in range(3):
            g = np.zeros(3)
            g[k] = h[k]
            hess[i, k] = (
                f(theta + e + g) - f(theta + e - g) - f(theta - e + g) + f(theta - e - g)
            ) / (4 * h[i] * h[k])
    return grad, hess


def test_fisher_and_louis_identities__match_exact_marginal_likelihood() -> None:
    problem = _Enumerated()
    params = mcem.Params(sigma_e2=0.9, pi=0.3, sigma_g2=0.5)
    theta = np.array([params.sigma_e2, params.pi, params.sigma_g2])
    mean, cov = problem.moments(params)

    def loglik(t: np.ndarray) -> float:
        return problem.loglik(mcem.Params(*t))

    grad, hess = _numeric_grad_hess(loglik, theta)
    mat, const = mcem.score_matrix(params, problem.n_df, problem.m)
    np.testing.assert_allclose(mat @ mean + const, grad, rtol=1e-5, atol=1e-6)  # Fisher
    louis = mcem.louis_standard_errors(params, mean, cov, problem.n_df, problem.m)
    np.testing.assert_allclose(louis.information, -hess, rtol=2e-4, atol=2e-4)  # Louis
    # and the φ-gradient used by path sampling is the chain rule of the same thing
    phi_grad = mcem.loglik_gradient_phi(params, mean, problem.n_df, problem.m)
    jac = np.array([params.sigma_e2, params.pi * (1 - params.pi), params.sigma_g2])
    np.testing.assert_allclose(phi_grad, grad * jac, rtol=1e-5, atol=1e-6)


def test_louis_standard_errors__delta_method_for_h2() -> None:
    problem = _Enumerated()
    params = mcem.Params(sigma_e2=0.9, pi=0.3, sigma_g2=0.5)
    mean, cov = problem.moments(params)
    louis = mcem.louis_standard_errors(params, mean, cov, problem.n_df, problem.m)
    assert louis.covariance is not None
    grad = np.array([-0.5, 0.0, 0.9]) / 1.4**2
    assert louis.h2_se == pytest.approx(math.sqrt(grad @ louis.covariance @ grad), rel=1e-12)
    assert louis.pi_se == pytest.approx(math.sqrt(louis.covariance[1, 1]), rel=1e-12)
    assert np.all((louis.missing_fraction > 0) & (louis.missing_fraction < 1))


def test_score_difference_information__matches_exact_hessian() -> None:
    """The common-random-number score differences estimate −∂²log L/∂φ² of the exact likelihood."""
    problem = _Enumerated()
    params = mcem.Params(sigma_e2=0.9, pi=0.3, sigma_g2=0.5)
    phi = np.array([math.log(0.9), math.log(0.3 / 0.7), math.log(0.5)])

    def loglik_phi(f: np.ndarray) -> float:
        return problem.loglik(
            mcem.Params(math.exp(f[0]), 1 / (1 + math.exp(-f[1])), math.exp(f[2]))
        )

    h = 1e-3
    exact = np.zeros((3, 3))
    for i in range(3):
        for k in range(3):
            e, g = np.eye(3)[i] * h, np.eye(3)[k] * h
            exact[i, k] = -(
                loglik_phi(phi + e + g)
                - loglik_phi(phi + e - g)
                - loglik_phi(phi - e + g)
                + loglik_phi(phi - e - g)
            ) / (4 * h * h)
    rng = np.random.default_rng(5)
    state = mcem.SweepState.empty(problem.data, problem.y_projected)
    out = np.zeros((2, problem.m))
    for _ in range(50):
        draws = mcem.SweepDraws.draw(rng, problem.m, np.arange(problem.m))
        mcem.gibbs_sweep(problem.data, state, params, draws, out[0], out[1], engine="numpy")
    info, used = mcem.score_difference_information(
        problem.data, state, params, 11, delta=0.05, burn=20, sweeps=4000, engine="numpy"
    )
    assert used == 6 * 4020
    # Monte-Carlo error of 4,000 sweeps and O(δ²) bias: 10% of the largest entry.
    np.testing.assert_allclose(info, exact, atol=0.1 * np.abs(exact).max())
    np.testing.assert_allclose(np.diag(info), np.diag(exact), rtol=0.15)
    ses = mcem.standard_errors_phi(params, exact)
    cov = np.linalg.inv(exact)
    d = np.array([-0.45 / 1.4**2, 0.0, 0.45 / 1.4**2])  # ∂h²/∂φ = (−σe²σg², 0, σe²σg²)/T²
    assert ses.h2 == pytest.approx(math.sqrt(d @ cov @ d), rel=1e-12)
    assert ses.pi == pytest.approx(0.3 * 0.7 * math.sqrt(cov[1, 1]), rel=1e-12)
    assert ses.pi_identified


def test_standard_errors_phi__pi_not_identified() -> None:
    params = mcem.Params(0.5, 0.2, 0.5)
    info = np.array([[400.0, 0.0, 50.0], [0.0, -1.0, 0.0], [50.0, 0.0, 80.0]])
    ses = mcem.standard_errors_phi(params, info)
    assert not ses.pi_identified and math.isnan(ses.pi)
    block = np.linalg.inv(info[np.ix_([0, 2], [0, 2])])
    d = np.array([-0.25, 0.25]) / 1.0**2
    assert ses.h2 == pytest.approx(math.sqrt(d @ block @ d), rel=1e-12)


def test_path_loglik_difference__matches_exact_difference() -> None:
    problem = _Enumerated()
    start = mcem.Params(0.9, 0.3, 0.5)
    end = mcem.Params(1.0, 0.1, 0.8)
    exact = problem.loglik(end) - problem.loglik(start)
    rng = np.random.default_rng(3)
    state = mcem.SweepState.empty(problem.data, problem.y_projected)
    out = np.zeros((2, problem.m))
    for _ in range(50):
        draws = mcem.SweepDraws.draw(rng, problem.m, np.arange(problem.m))
        mcem.gibbs_sweep(problem.data, state, start, draws, out[0], out[1], engine="numpy")
    estimate, sweeps = mcem.path_loglik_difference(
        problem.data, state, start, end, rng, nodes=20, sweeps=200, engine="numpy"
    )
    assert sweeps == 4000
    # Monte-Carlo and midpoint-rule error: well below the 0.1 log-units that matter here.
    assert estimate == pytest.approx(exact, abs=0.1)


# --------------------------------------------------------------------------------------------
# R-hat
# --------------------------------------------------------------------------------------------


def test_gelman_rubin__textbook_formula() -> None:
    rng = np.random.default_rng(0)
    draws = rng.standard_normal((3, 200))
    assert mcem.gelman_rubin(draws) == pytest.approx(1.0, abs=0.02)
    shifted = draws + np.array([[0.0], [0.0], [3.0]])
    # by hand: split into 6 chains of 100, B = n·var(means), W = mean within variance
    split = np.concatenate([shifted[:, :100], shifted[:, 100:]])
    n = 100
    w = split.var(axis=1, ddof=1).mean()
    b = n * split.mean(axis=1).var(ddof=1)
    expected = math.sqrt(((n - 1) / n * w + b / n) / w)
    assert mcem.gelman_rubin(shifted) == pytest.approx(expected, rel=1e-12)
    assert mcem.gelman_rubin(shifted) > 1.5
    assert math.isnan(mcem.gelman_rubin(draws[:, :3]))


# --------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------


def _sparse_trait(seed: int, n: int = 300, m: int = 600, n_causal: int = 8):
    rng = np.random.default_rng(seed)
    counts, freq = _genotypes(seed, n, m)
    data = mcem.prepare_sweep_data(counts.copy(), freq, np.ones((n, 1)))
    causal = rng.choice(m, n_causal, replace=False)
    genetic = np.stack([data.z(j) for j in causal], axis=1) @ rng.standard_normal(n_causal)
    genetic *= math.sqrt(0.5 / genetic.var())
    y = genetic + rng.standard_normal(n) * math.sqrt(0.5)
    return data, y - y.mean(), causal


def test_fit_spike_slab__same_seed_same_output_whatever_threads() -> None:
    data, y, _ = _sparse_trait(1, n=150, m=300)
    settings = mcem.McemSettings(max_iterations=160, burn_in=60, window=40, check_every=20)
    one = mcem.fit_spike_slab(data, y, sigma_e2=0.5, sigma_g2=0.5, settings=settings)
    two = mcem.fit_spike_slab(
        data,
        y,
        sigma_e2=0.5,
        sigma_g2=0.5,
        settings=mcem.McemSettings(**{**settings.__dict__, "threads": 2}),
    )
    assert one.params == two.params
    assert one.trace == two.trace
    np.testing.assert_array_equal(one.pip, two.pip)
    other = mcem.fit_spike_slab(
        data,
        y,
        sigma_e2=0.5,
        sigma_g2=0.5,
        settings=mcem.McemSettings(**{**settings.__dict__, "seed": 2}),
    )
    assert other.params != one.params


def test_fit_spike_slab__finds_sparse_effects_from_every_start() -> None:
    data, y, causal = _sparse_trait(2)
    fit = mcem.fit_spike_slab(
        data,
        y,
        sigma_e2=0.5,
        sigma_g2=0.5,
        settings=mcem.McemSettings(max_iterations=500, burn_in=120, window=100),
    )
    assert fit.converged
    # Unlinked simulated SNPs, 8 causal: π·M within a factor 2 of 8.
    assert 4 <= fit.params.pi * data.n_snps <= 16
    assert fit.rhat_h2 < 1.1 and fit.rhat_pi < 1.1
    top = set(np.argsort(fit.pip)[-8:].tolist())
    assert len(top & set(causal.tolist())) >= 6
    for chain in fit.chains:  # every start ends at the same place
        assert chain.params.pi * data.n_snps == pytest.approx(fit.params.pi * data.n_snps, rel=0.3)
    assert len(fit.trace) == fit.iterations * 4
    assert math.isfinite(fit.h2_se) and 0 < fit.h2_se < 0.2
