"""Tests for heritcli.core.reml (spectral REML/ML).

Every reference number says where it came from. The oracles are

* dense computations written here from the textbook formulas (scipy.stats.multivariate_normal for
  ML, the restricted likelihood −½[log|V| + log|XᵀV⁻¹X| − log|XᵀX| + yᵀPy + df·log 2π] for REML),
* scipy.optimize on the naive dense objective,
* regression values from the test suites of FaST-LMM and limix (seeded, no data files).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import optimize, stats

from heritcli.core import reml
from heritcli.errors import DataError

LOG_2PI = math.log(2 * math.pi)


# --------------------------------------------------------------------------------------------
# Helpers: simulated data and dense oracles
# --------------------------------------------------------------------------------------------


def _simulate(seed: int, n: int = 40, m: int = 100, c: int = 1, h2: float = 0.5):
    """Random GRM (mean diagonal 1, full rank when m > n), covariates with intercept, phenotype."""
    rng = np.random.RandomState(seed)
    z = rng.randn(n, m)
    k = z @ z.T / m
    k /= np.mean(np.diag(k))
    x = np.column_stack([np.ones(n)] + [rng.randn(n) for _ in range(c - 1)])
    g = z @ rng.randn(m) * math.sqrt(h2 / m)
    y = x @ rng.randn(c) + g + rng.randn(n) * math.sqrt(1.0 - h2)
    return k, x, y


def _rotate(k, x, y):
    d, u = np.linalg.eigh(k)
    return d, u.T @ y, u.T @ x


def _dense_profile(h2, k, x, y, method):
    """Dense GLS profile at h²: β̂, Q and σ̂p² from H = h²K + (1−h²)I (no spectral tricks)."""
    n, c = x.shape
    h = h2 * k + (1.0 - h2) * np.eye(n)
    hi = np.linalg.inv(h)
    beta = np.linalg.solve(x.T @ hi @ x, x.T @ hi @ y)
    r = y - x @ beta
    q = float(r @ hi @ r)
    vp = q / (n - c if method == "reml" else n)
    return h, beta, vp


def _dense_reml(vg, ve, k, x, y):
    """Restricted log-likelihood with all constants: −½[log|V| + log|XᵀV⁻¹X| − log|XᵀX| + yᵀPy
    + (n−c)·log 2π] (Harville 1974)."""
    n, c = x.shape
    v = vg * k + ve * np.eye(n)
    vi = np.linalg.inv(v)
    xvx = x.T @ vi @ x
    p = vi - vi @ x @ np.linalg.solve(xvx, x.T @ vi)
    return -0.5 * (
        np.linalg.slogdet(v)[1]
        + np.linalg.slogdet(xvx)[1]
        - np.linalg.slogdet(x.T @ x)[1]
        + y @ p @ y
        + (n - c) * LOG_2PI
    )


def _dense_profiled(h2, k, x, y, method):
    """Naive dense profiled log-likelihood ℓ(h²) (β, σp² maximised out)."""
    h, beta, vp = _dense_profile(h2, k, x, y, method)
    if method == "ml":
        return stats.multivariate_normal.logpdf(y, mean=x @ beta, cov=vp * h)
    return _dense_reml(vp * h2, vp * (1.0 - h2), k, x, y)


def _dense_expected_information(vg, ve, k, x, method):
    """½tr(P V_a P V_b) (REML) or ½tr(V⁻¹V_a V⁻¹V_b) (ML) for θ = (σg², σe²)."""
    n = k.shape[0]
    v = vg * k + ve * np.eye(n)
    vi = np.linalg.inv(v)
    if method == "reml":
        p = vi - vi @ x @ np.linalg.solve(x.T @ vi @ x, x.T @ vi)
    else:
        p = vi
    mats = (k, np.eye(n))
    return np.array([[0.5 * np.trace(p @ a @ p @ b) for b in mats] for a in mats])


# --------------------------------------------------------------------------------------------
# 1. Dense oracle for the log-likelihood
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("method", ["reml", "ml"])
@pytest.mark.parametrize("h2", [0.0, 0.1, 0.37, 0.8, 1.0])
def test_loglik__equals_dense_oracle(c, method, h2):
    # ML: scipy.stats.multivariate_normal.logpdf at the dense GLS β̂ and σ̂p² = Q/n.
    # REML: −½[log|V| + log|XᵀV⁻¹X| − log|XᵀX| + yᵀPy + df·log 2π] at σ̂p² = Q/df (all terms).
    k, x, y = _simulate(seed=11 + c, n=40, m=100, c=c)
    d, y_rot, x_rot = _rotate(k, x, y)
    got = reml.loglik(h2, d, y_rot, x_rot, method=method)
    want = _dense_profiled(h2, k, x, y, method)
    assert got == pytest.approx(want, rel=1e-10, abs=1e-9)

    point = reml.profile(h2, d, y_rot, x_rot, method=method)
    _, beta, vp = _dense_profile(h2, k, x, y, method)
    assert point.logl == pytest.approx(got, rel=1e-12)
    assert point.vp == pytest.approx(vp, rel=1e-10)
    np.testing.assert_allclose(point.beta, beta, rtol=1e-9, atol=1e-12)


def test_loglik__matches_gcta_and_gemma_conventions():
    # GCTA prints −½[log|V| + log|XᵀV⁻¹X| + yᵀPy] (est_hsq.cpp reml_iteration, lgL); module
    # docstring: logL_GCTA = ℓ_REML + ½·df·log 2π − ½·log|XᵀX|.
    k, x, y = _simulate(seed=3, n=40, c=3)
    d, y_rot, x_rot = _rotate(k, x, y)
    h2 = 0.42
    n, c = x.shape
    h, _, vp = _dense_profile(h2, k, x, y, "reml")
    v = vp * h
    vi = np.linalg.inv(v)
    xvx = x.T @ vi @ x
    p = vi - vi @ x @ np.linalg.solve(xvx, x.T @ vi)
    gcta = -0.5 * (np.linalg.slogdet(v)[1] + np.linalg.slogdet(xvx)[1] + y @ p @ y)
    ours = reml.loglik(h2, d, y_rot, x_rot)
    xtx = np.linalg.slogdet(x.T @ x)[1]
    assert gcta == pytest.approx(ours + 0.5 * (n - c) * LOG_2PI - 0.5 * xtx, rel=1e-11)

    # GEMMA's LogRL_f (lmm.cpp): ½df(log df − log 2π − 1) − ½log|H| − ½(log|XᵀH⁻¹X| − log|XᵀX|)
    # − ½df·log(yᵀP_H y) with H = λK + I, λ = h²/(1−h²): identical to ℓ_REML.
    lam = h2 / (1.0 - h2)
    hh = lam * k + np.eye(n)
    hi = np.linalg.inv(hh)
    xhx = x.T @ hi @ x
    ph = hi - hi @ x @ np.linalg.solve(xhx, x.T @ hi)
    df = n - c
    gemma = (
        0.5 * df * (math.log(df) - LOG_2PI - 1.0)
        - 0.5 * np.linalg.slogdet(hh)[1]
        - 0.5 * (np.linalg.slogdet(xhx)[1] - xtx)
        - 0.5 * df * math.log(y @ ph @ y)
    )
    assert ours == pytest.approx(gemma, rel=1e-11)
    # GEMMA's LogL_f: ½n(log n − log 2π − 1) − ½log|H| − ½n·log(yᵀP_H y).
    gemma_ml = 0.5 * n * (math.log(n) - LOG_2PI - 1.0) - 0.5 * np.linalg.slogdet(hh)[1]
    gemma_ml -= 0.5 * n * math.log(y @ ph @ y)
    assert reml.loglik(h2, d, y_rot, x_rot, method="ml") == pytest.approx(gemma_ml, rel=1e-11)


def test_loglik__invariant_to_covariate_reparameterisation():
    # ℓ depends on X only through its column space (log|C| − log|XᵀX| is invariant to X → XT).
    k, x, y = _simulate(seed=5, n=40, c=3)
    d, y_rot, x_rot = _rotate(k, x, y)
    t = np.array([[2.0, 0.3, -1.0], [0.0, 5.0, 0.2], [0.1, 0.0, 0.01]])
    for method in ("reml", "ml"):
        a = reml.loglik(0.3, d, y_rot, x_rot, method=method)
        b = reml.loglik(0.3, d, y_rot, x_rot @ t, method=method)
        assert a == pytest.approx(b, rel=1e-11)


def test_loglik__xtx_logdet_enters_reml_only():
    k, x, y = _simulate(seed=5, n=40, c=2)
    d, y_rot, x_rot = _rotate(k, x, y)
    own = np.linalg.slogdet(x.T @ x)[1]
    base = reml.loglik(0.3, d, y_rot, x_rot)
    assert reml.loglik(0.3, d, y_rot, x_rot, xtx_logdet=own) == pytest.approx(base, rel=1e-12)
    assert reml.loglik(0.3, d, y_rot, x_rot, xtx_logdet=own + 2.0) == pytest.approx(base + 1.0)
    ml = reml.loglik(0.3, d, y_rot, x_rot, method="ml")
    assert reml.loglik(0.3, d, y_rot, x_rot, method="ml", xtx_logdet=own + 2.0) == ml


@pytest.mark.parametrize("method", ["reml", "ml"])
def test_evaluate__derivatives_match_finite_differences(method):
    k, x, y = _simulate(seed=8, n=40, c=3)
    d, y_rot, x_rot = _rotate(k, x, y)
    model = reml._SpectralModel(d, x_rot, method=method)
    for h2 in (0.05, 0.4, 0.9):
        _, d1, d2 = model.evaluate(h2, y_rot, 2)
        eps = 1e-5
        lp, d1p, _ = model.evaluate(h2 + eps, y_rot, 1)
        lm, d1m, _ = model.evaluate(h2 - eps, y_rot, 1)
        assert d1 == pytest.approx((lp - lm) / (2 * eps), rel=1e-6, abs=1e-6)
        assert d2 == pytest.approx((d1p - d1m) / (2 * eps), rel=1e-6, abs=1e-6)


# --------------------------------------------------------------------------------------------
# 2. The optimum agrees with scipy.optimize on the naive dense objective
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["reml", "ml"])
@pytest.mark.parametrize("c", [1, 3])
def test_fit_spectral__optimum_matches_scipy_on_dense_objective(method, c):
    k, x, y = _simulate(seed=21, n=60, m=150, c=c, h2=0.6)
    d, y_rot, x_rot = _rotate(k, x, y)
    fit = reml.fit_spectral(d, y_rot, x_rot, method=method)
    res = optimize.minimize_scalar(
        lambda h: -_dense_profiled(h, k, x, y, method),
        bounds=(0.0, 1.0),
        method="bounded",
        options={"xatol": 1e-12},
    )
    assert 0.0 < res.x < 1.0  # precondition: an interior optimum
    assert fit.converged and fit.boundary is None
    assert fit.h2 == pytest.approx(res.x, abs=1e-6)
    assert fit.logl == pytest.approx(-res.fun, rel=1e-10)
    # Score in the unprofiled (σg², σe²) parameterisation is zero at the optimum.
    if method == "reml":
        eps = 1e-6
        for dv in (np.array([eps, 0.0]), np.array([0.0, eps])):
            up = _dense_reml(fit.vg + dv[0], fit.ve + dv[1], k, x, y)
            dn = _dense_reml(fit.vg - dv[0], fit.ve - dv[1], k, x, y)
            assert (up - dn) / (2 * eps) == pytest.approx(0.0, abs=1e-5)


# --------------------------------------------------------------------------------------------
# 3. Standard errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["reml", "ml"])
@pytest.mark.parametrize("c", [1, 3])
def test_fit_spectral__covariance_is_inverse_dense_expected_information(method, c):
    # Oracle: ½tr(PV_aPV_b) (REML) / ½tr(V⁻¹V_aV⁻¹V_b) (ML) computed densely at (σ̂g², σ̂e²).
    k, x, y = _simulate(seed=21, n=60, m=150, c=c, h2=0.6)
    d, y_rot, x_rot = _rotate(k, x, y)
    fit = reml.fit_spectral(d, y_rot, x_rot, method=method)
    info = _dense_expected_information(fit.vg, fit.ve, k, x, method)
    cov = np.linalg.inv(info)
    np.testing.assert_allclose(fit.cov_vc, cov, rtol=1e-8)
    assert fit.vg_se == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-8)
    assert fit.ve_se == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-8)
    assert fit.vp_se == pytest.approx(math.sqrt(cov.sum()), rel=1e-8)
    # GCTA's delta method (est_hsq.cpp calcu_hsq):
    # var(h²) = h⁴[var(Vg)/Vg² + var(Vp)/Vp² − 2cov(Vg,Vp)/(Vg·Vp)].
    vg, vp = fit.vg, fit.vp
    var_vp = cov.sum()
    cov_g_p = cov[0, 0] + cov[0, 1]
    var_h2 = (vg / vp) ** 2 * (cov[0, 0] / vg**2 + var_vp / vp**2 - 2 * cov_g_p / (vg * vp))
    assert fit.h2_se == pytest.approx(math.sqrt(var_h2), rel=1e-7)
    # β̂ covariance σ̂p²(XᵀH⁻¹X)⁻¹.
    h = fit.h2 * k + (1 - fit.h2) * np.eye(k.shape[0])
    beta_cov = fit.vp * np.linalg.inv(x.T @ np.linalg.solve(h, x))
    np.testing.assert_allclose(fit.beta_cov, beta_cov, rtol=1e-8)
    np.testing.assert_allclose(fit.beta_se, np.sqrt(np.diag(beta_cov)), rtol=1e-8)


def test_fit_spectral__expected_close_to_observed_information():
    # Observed information: numerical Hessian of the unprofiled dense REML log-likelihood in
    # (σg², σe²) at the optimum. With n = 400 it should agree with the expected information to
    # within sampling noise of O(n^-1/2); here they differ by ~2.5% (seeded, so deterministic).
    k, x, y = _simulate(seed=2, n=400, m=1000, c=2, h2=0.5)
    d, y_rot, x_rot = _rotate(k, x, y)
    fit = reml.fit_spectral(d, y_rot, x_rot)
    assert fit.boundary is None
    theta = np.array([fit.vg, fit.ve])
    step = 1e-3 * fit.vp
    hess = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * step, np.eye(2)[j] * step
            hess[i, j] = (
                _dense_reml(*(theta + ei + ej), k, x, y)
                - _dense_reml(*(theta + ei - ej), k, x, y)
                - _dense_reml(*(theta - ei + ej), k, x, y)
                + _dense_reml(*(theta - ei - ej), k, x, y)
            ) / (4 * step * step)
    observed_cov = np.linalg.inv(-hess)
    np.testing.assert_allclose(
        np.sqrt(np.diag(fit.cov_vc)), np.sqrt(np.diag(observed_cov)), rtol=0.05
    )


# --------------------------------------------------------------------------------------------
# 4-5. Peer tests from FaST-LMM and limix
# --------------------------------------------------------------------------------------------


def _fastlmm_setup():
    # fastlmm/inference/tests/test.py, TestLmmKernel.setUpClass: RandomState(621360), N = 50,
    # X = randn(50, 1), G0 = randn(50, 5), G1 = randn(50, 10), y = randn(50), a2 = 0.4,
    # G = [√(1−a2)·G0, √a2·G1], K = GGᵀ (not rescaled), V = σ²(K + δI).
    r = np.random.RandomState(621360)
    x = r.randn(50, 1)
    g0 = r.randn(50, 5)
    g1 = r.randn(50, 10)
    y = r.randn(50)
    g = np.hstack([math.sqrt(0.6) * g0, math.sqrt(0.4) * g1])
    return g @ g.T, x, y


def test_loglik__fastlmm_nlleval_ml():
    # fastlmm test_nLLeval_1 (delta = 1, REML = False): nLL = 91.92983775736522,
    # beta = 0.05863443, sigma2 = 0.948262073554296. V = σ²(K + δI) = σ²(1+δ)(h²K + (1−h²)I)
    # with h² = 1/(1+δ) = 0.5, so σ² = σ̂p²·h² = σ̂g².
    k, x, y = _fastlmm_setup()
    d, y_rot, x_rot = _rotate(k, x, y)
    delta = 1.0
    h2 = 1.0 / (1.0 + delta)
    nll = -reml.loglik(h2, d, y_rot, x_rot, method="ml")
    assert nll == pytest.approx(91.92983775736522, rel=1e-10)
    point = reml.profile(h2, d, y_rot, x_rot, method="ml")
    assert point.vg == pytest.approx(0.948262073554296, rel=1e-10)
    assert point.beta[0] == pytest.approx(0.05863443, abs=5e-9)


def test_loglik__fastlmm_nlleval_reml():
    # fastlmm test_nLLeval_2 (delta = 1, REML = True): nLL = 90.940636012858121,
    # sigma2 = 0.96761436076968987; test_nLLeval_3 (h2 = 0.5, REML = True) has the same nLL and
    # sigma2 = 1.9352287215393797 (= σ̂p² here). FaST-LMM's REML nLL is
    # ½[log|K+δI| + log|XᵀH⁻¹X| − log|XᵀX| + df(log 2πσ² + 1)], the same constants as ℓ_REML.
    k, x, y = _fastlmm_setup()
    d, y_rot, x_rot = _rotate(k, x, y)
    h2 = 0.5
    nll = -reml.loglik(h2, d, y_rot, x_rot, method="reml")
    assert nll == pytest.approx(90.940636012858121, rel=1e-10)
    point = reml.profile(h2, d, y_rot, x_rot, method="reml")
    assert point.vg == pytest.approx(0.96761436076968987, rel=1e-10)
    assert point.vp == pytest.approx(1.9352287215393797, rel=1e-10)
    assert point.beta[0] == pytest.approx(0.05863443, abs=5e-9)


def test_fit_spectral__limix_heritability_estimate_normal():
    # limix/her/test/test_heritability.py test_heritability_estimate_normal: RandomState(0),
    # G = randn(50, 100), K = GGᵀ, z = G @ randn(100) / 10, y = z + 0.2·randn(50), K divided by
    # its mean diagonal, intercept only; expected REML h² = 0.9751053293095242 (rtol 1e-5).
    r = np.random.RandomState(0)
    g = r.randn(50, 100)
    k = g @ g.T
    z = g @ r.randn(100) / 10
    y = z + 0.2 * r.randn(50)
    k /= np.mean(np.diag(k))
    d, y_rot, x_rot = _rotate(k, np.ones((50, 1)), y)
    fit = reml.fit_spectral(d, y_rot, x_rot)
    assert fit.h2 == pytest.approx(0.9751053293095242, rel=1e-5)
    assert fit.converged


# --------------------------------------------------------------------------------------------
# 6. Boundaries and the unconstrained range
# --------------------------------------------------------------------------------------------


def _null_trait():
    # Seed chosen so that the h² = 0 simulation has its unconstrained REML optimum below 0.
    rng = np.random.RandomState(3)
    n, m = 60, 200
    z = rng.randn(n, m)
    z = (z - z.mean(0)) / z.std(0)  # centred genotypes: the GRM is singular (K·1 = 0)
    k = z @ z.T / m
    k /= np.mean(np.diag(k))
    x = np.ones((n, 1))
    y = 2.0 + rng.randn(n)
    return k, x, y


def test_fit_spectral__lower_boundary():
    k, x, y = _null_trait()
    d, y_rot, x_rot = _rotate(k, x, y)
    fit = reml.fit_spectral(d, y_rot, x_rot)
    assert fit.h2 == 0.0
    assert fit.boundary == "lower"
    assert fit.vg == 0.0
    assert fit.lrt == 0.0
    assert fit.pval == 0.5  # ½·P(χ²₁ > 0)
    assert fit.logl == fit.logl0
    assert fit.h2_ci[0] == 0.0 and 0.0 < fit.h2_ci[1] < 1.0
    for se in (fit.h2_se, fit.vg_se, fit.ve_se, fit.vp_se):
        assert se is not None and math.isfinite(se) and se > 0
    assert fit.converged
    json.dumps(fit.to_dict(), allow_nan=False)


def test_fit_spectral__unconstrained_can_be_negative():
    k, x, y = _null_trait()
    d, y_rot, x_rot = _rotate(k, x, y)
    fit = reml.fit_spectral(d, y_rot, x_rot, constrain=False)
    constrained = reml.fit_spectral(d, y_rot, x_rot)
    lo, hi = fit.h2_range
    assert lo < fit.h2 < 0.0
    assert fit.boundary is None
    assert fit.vg < 0.0 < fit.ve
    assert fit.logl > constrained.logl
    assert fit.lrt == pytest.approx(2 * (fit.logl - fit.logl0))
    assert fit.h2_ci[0] < fit.h2 < fit.h2_ci[1]
    # the range keeps V positive definite: every w_i ≥ 1e-6 at both ends
    assert np.min(1 + lo * (d - 1)) == pytest.approx(1e-6, rel=1e-6)
    assert hi == pytest.approx((1 - 1e-6) / (1 - d.min()))
    # and the estimate is a stationary point of the dense objective on the negative side
    res = optimize.minimize_scalar(
        lambda h: -_dense_profiled(h, k, x, y, "reml"),
        bounds=(lo, 0.5),
        method="bounded",
        options={"xatol": 1e-12},
    )
    assert fit.h2 == pytest.approx(res.x, abs=1e-6)


def test_fit_spectral__upper_boundary():
    # Phenotype with no residual noise and a full-rank GRM: ĥ² = 1.
    rng = np.random.RandomState(5)
    n, m = 80, 300
    z = rng.randn(n, m)
    k = z @ z.T / m
    k /= np.mean(np.diag(k))
    y = 1.0 + z @ rng.randn(m) / math.sqrt(m)
    d, y_rot, x_rot = _rotate(k, np.ones((n, 1)), y)
    fit = reml.fit_spectral(d, y_rot, x_rot)
    assert d.min() > 1e-6 and fit.h2_range == (0.0, 1.0)
    assert fit.h2 == 1.0 and fit.boundary == "upper"
    assert fit.ve == 0.0
    assert fit.h2_ci[1] == 1.0 and fit.h2_ci[0] < 1.0
    assert fit.h2_se is not None and math.isfinite(fit.h2_se)
    json.dumps(fit.to_dict(), allow_nan=False)


def test_loglik__ml_diverges_with_centred_grm_and_intercept():
    # Documented degeneracy (module Notes): K·1 = 0 and an intercept make ℓ_ML ~ −½·log(1 − h²)
    # as h² → 1, while ℓ_REML stays finite.
    k, x, y = _null_trait()
    d, y_rot, x_rot = _rotate(k, x, y)
    assert abs(d.min()) < 1e-10
    ml = [reml.loglik(1 - t, d, y_rot, x_rot, method="ml") for t in (1e-4, 1e-6)]
    assert ml[1] - ml[0] == pytest.approx(0.5 * math.log(100.0), abs=0.01)
    rl = [reml.loglik(1 - t, d, y_rot, x_rot) for t in (1e-4, 1e-6)]
    assert rl[1] - rl[0] == pytest.approx(0.0, abs=0.01)


def test_allowed_range():
    d = np.array([0.0, 0.5, 1.0, 3.0])
    assert reml.allowed_range(d) == (0.0, pytest.approx(1 - 1e-6))
    lo, hi = reml.allowed_range(d, constrain=False)
    assert lo == pytest.approx(-(1 - 1e-6) / 2.0)
    assert hi == pytest.approx(1 - 1e-6)
    assert reml.allowed_range(np.array([0.2, 1.0, 1.8])) == (0.0, 1.0)
    lo, hi = reml.allowed_range(np.array([1.0, 2.0]), constrain=False)
    assert hi == 1e4  # no positivity limit above: capped


# --------------------------------------------------------------------------------------------
# 7. Many traits
# --------------------------------------------------------------------------------------------


def test_fit_spectral_many__equals_loop():
    k, x, _ = _simulate(seed=4, n=50, c=3)
    rng = np.random.RandomState(9)
    ys = np.column_stack(
        [
            _simulate(seed=4, n=50, c=3, h2=h)[2] + rng.randn(50) * s
            for h, s in [(0.0, 0.0), (0.3, 0.1), (0.7, 0.2), (0.9, 0.0), (0.5, 1.0)]
        ]
    )
    d, u = np.linalg.eigh(k)
    y_rot, x_rot = u.T @ ys, u.T @ x
    fits = reml.fit_spectral_many(d, y_rot, x_rot)
    assert len(fits) == ys.shape[1]
    for j, fit in enumerate(fits):
        single = reml.fit_spectral(d, y_rot[:, j], x_rot)
        a, b = fit.to_dict(), single.to_dict()
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float):
                assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-14), key
            else:
                assert a[key] == b[key] or np.allclose(a[key], b[key], rtol=1e-12), key
    fits_ml = reml.fit_spectral_many(d, y_rot, x_rot, method="ml", constrain=False)
    assert all(f.method == "ml" for f in fits_ml)


def test_fit_spectral_many__names_constant_column():
    k, x, y = _simulate(seed=4, n=30)
    d, u = np.linalg.eigh(k)
    ys = np.column_stack([y, np.full(30, 3.0)])
    with pytest.raises(DataError, match="phenotype column 2 is constant"):
        reml.fit_spectral_many(d, u.T @ ys, u.T @ x)


# --------------------------------------------------------------------------------------------
# 9. Profile-likelihood interval
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["reml", "ml"])
def test_fit_spectral__profile_ci_bounds_drop_by_half_chi2(method):
    k, x, y = _simulate(seed=0, n=200, m=500, c=3, h2=0.5)
    d, y_rot, x_rot = _rotate(k, x, y)
    fit = reml.fit_spectral(d, y_rot, x_rot, method=method)
    lo, hi = fit.h2_ci
    assert 0.0 < lo < fit.h2 < hi < 1.0  # precondition: both bounds interior
    target = fit.logl - 0.5 * 3.841458820694124  # χ²₁ 95% quantile (scipy.stats.chi2.ppf)
    assert stats.chi2.ppf(0.95, 1) == pytest.approx(reml.CHI2_1_95, rel=1e-14)
    for bound in (lo, hi):
        assert reml.loglik(bound, d, y_rot, x_rot, method=method) == pytest.approx(target, abs=1e-8)
    # inside the interval the likelihood stays above the target
    for h in np.linspace(lo, hi, 9)[1:-1]:
        assert reml.loglik(h, d, y_rot, x_rot, method=method) > target


# --------------------------------------------------------------------------------------------
# Results, invariances and degenerate input
# --------------------------------------------------------------------------------------------


def test_fit_spectral__result_fields_and_dict():
    k, x, y = _simulate(seed=21, n=60, m=150, c=3, h2=0.6)
    d, y_rot, x_rot = _rotate(k, x, y)
    fit = reml.fit_spectral(d, y_rot, x_rot)
    assert fit.vp == pytest.approx(fit.vg + fit.ve)
    assert fit.h2 == pytest.approx(fit.vg / fit.vp)
    assert fit.n == 60 and fit.n_covariates == 3 and fit.df_lrt == 1
    assert fit.method == "reml" and fit.iterations > 0
    assert fit.pval == pytest.approx(0.5 * stats.chi2.sf(fit.lrt, 1))
    assert fit.cov_vc.shape == (2, 2) and fit.beta_cov.shape == (3, 3)
    out = fit.to_dict()
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text)["h2"] == fit.h2
    assert isinstance(out["beta"], list) and isinstance(out["cov_vc"][0], list)
    assert isinstance(out["h2_ci"], list) and out["boundary"] is None


def test_fit_spectral__invariant_to_phenotype_scale():
    k, x, y = _simulate(seed=21, n=60, m=150, c=3, h2=0.6)
    d, y_rot, x_rot = _rotate(k, x, y)
    a = reml.fit_spectral(d, y_rot, x_rot)
    b = reml.fit_spectral(d, 1000.0 * y_rot, x_rot)
    assert b.h2 == pytest.approx(a.h2, abs=1e-9)
    assert b.vp == pytest.approx(1e6 * a.vp, rel=1e-9)
    assert b.h2_se == pytest.approx(a.h2_se, rel=1e-7)
    assert b.lrt == pytest.approx(a.lrt, rel=1e-7)


def test_fit_spectral__no_covariates():
    # With c = 0 REML and ML coincide (df = n); oracle: scipy on the dense Gaussian log-density.
    k, _, y = _simulate(seed=6, n=40, h2=0.7)
    y = y - 0.3
    d, u = np.linalg.eigh(k)
    fit = reml.fit_spectral(d, u.T @ y, np.zeros((40, 0)))
    assert fit.n_covariates == 0 and fit.beta.shape == (0,)

    def neg(h):
        h_mat = h * k + (1 - h) * np.eye(40)
        vp = y @ np.linalg.solve(h_mat, y) / 40
        return -stats.multivariate_normal.logpdf(y, cov=vp * h_mat)

    res = optimize.minimize_scalar(neg, bounds=(0, 1), method="bounded", options={"xatol": 1e-12})
    assert fit.h2 == pytest.approx(res.x, abs=1e-6)
    assert fit.logl == pytest.approx(-res.fun, rel=1e-10)


def test_fit_spectral__constant_phenotype_raises():
    k, x, _ = _simulate(seed=6, n=30, c=2)
    d, u = np.linalg.eigh(k)
    with pytest.raises(DataError, match="constant after removing covariates"):
        reml.fit_spectral(d, u.T @ np.full(30, 7.5), u.T @ x)
    # a phenotype that is an exact linear function of the covariates is constant too
    with pytest.raises(DataError, match="constant after removing covariates"):
        reml.fit_spectral(d, u.T @ (x @ np.array([1.0, -2.0])), u.T @ x)


def test_fit_spectral__no_degrees_of_freedom_raises():
    rng = np.random.RandomState(0)
    d = rng.rand(4) + 0.5
    with pytest.raises(DataError, match="no residual degrees of freedom"):
        reml.fit_spectral(d, rng.randn(4), rng.randn(4, 4))


def test_fit_spectral__collinear_covariates_raise():
    k, x, y = _simulate(seed=6, n=30, c=2)
    d, u = np.linalg.eigh(k)
    xx = np.column_stack([x, 2.0 * x[:, 1] - x[:, 0]])
    with pytest.raises(DataError, match="collinear"):
        reml.fit_spectral(d, u.T @ y, u.T @ xx)
    with pytest.raises(DataError, match="column 2 is all zero"):
        reml.fit_spectral(d, u.T @ y, u.T @ np.column_stack([x[:, 0], np.zeros(30)]))


def test_fit_spectral__bad_input_raises():
    k, x, y = _simulate(seed=6, n=30)
    d, u = np.linalg.eigh(k)
    y_bad = y.copy()
    y_bad[3] = np.nan
    with pytest.raises(DataError, match="non-finite"):
        reml.fit_spectral(d, y_bad, u.T @ x)
    with pytest.raises(DataError, match="not identifiable"):
        reml.fit_spectral(np.ones(30), u.T @ y, u.T @ x)
    with pytest.raises(ValueError, match="method"):
        reml.fit_spectral(d, u.T @ y, u.T @ x, method="bayes")
    with pytest.raises(ValueError, match="fit_spectral_many"):
        reml.fit_spectral(d, np.column_stack([y, y]), u.T @ x)
    with pytest.raises(ValueError, match="positive definite"):
        reml.loglik(1.0, np.r_[0.0, d[1:]], u.T @ y, u.T @ x)


def test_core_does_not_import_cli_libraries():
    import subprocess
    import sys

    code = (
        "import sys, heritcli.core.reml, heritcli.core.liability; "
        "bad = [m for m in ('click', 'rich', 'h5py') if m in sys.modules]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
