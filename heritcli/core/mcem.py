"""Spike-and-slab heritability by stochastic-approximation EM (numpy/scipy; numba optional).

Model
-----
y = Xβ + Zb + e,  e ~ N(0, σe²·I),  b_j ~ (1 − π)·δ₀ + π·N(0, τ²),  τ² = σg²/(Mπ),

with Z the n × M standardized genotypes of :mod:`heritcli.core.standardize` (missing = 0, the
standardization of ``make-grm``), so that E[var(Zb)] ≈ σg² and h² = σg²/(σg² + σe²) is the same
quantity as REML's V(G)/Vp (Golan & Rosset 2011, Bioinformatics 27:i317).
β has a flat prior and is integrated out: with Q an orthonormal basis of the columns of X and
P = I − QQᵀ, everything depends on the data only through Py and PZ, the likelihood is the
restricted one and the residual degrees of freedom are n − c.

Notes
-----
**Collapsed Gibbs sweep (E-step).** With b_j removed from the residual,
r = P(y − Σ_{k≠j} z_k b_k), u = (Pz_j)ᵀr and d = ‖Pz_j‖², integrating b_j out of the slab gives
the collapsed conditional log-odds of inclusion

    log-odds_j = logit π + ½·log(v/τ²) + ½·μ²/v,   v = (d/σe² + 1/τ²)⁻¹,   μ = v·u/σe²,

and, when included, b_j | rest ~ N(μ, v).  The sweep keeps the unprojected residual
s = Py − Zb and its projection t = Qᵀs, so (Pz_j)ᵀ(Ps) = z_jᵀs − a_jᵀt with a_j = Qᵀz_j
precomputed: one pass over the n genotypes of SNP j to form u, and one more only when b_j
changes, O(n) per visit.  Genotypes are held as int8 A1 counts (SNPs × samples, missing
recoded to 0 with a per-SNP list of missing samples) and standardized on the fly:
z_jᵀs = scale_j·(x_jᵀs − 2p_j·Σ_{i called} s_i).  The sweep also returns the Rao-Blackwellised
conditional inclusion probabilities p_j and slab means μ_j, whose sums estimate E[k | y] and
E[Σb² | y] with far less Monte-Carlo noise than the sampled counts.

**M-step.** The complete-data restricted log-likelihood depends on the data through
S = (R, k, B) = (‖P(y − Zb)‖², number of included SNPs, Σ b_j²):

    ℓ_c(θ; S) = −½(n−c)·log σe² − R/(2σe²) + k·log π + (M−k)·log(1−π) − ½k·log τ² − B/(2τ²),

maximised in closed form by σe² = R/(n−c), π = k/M, τ² = B/k, i.e. σg² = Mπτ² = B.

**Schedule.** Stochastic-approximation EM (SAEM; Delyon, Lavielle & Moulines 1999, Ann. Stat.
27:94): one sweep per iteration, Ŝ_t = Ŝ_{t−1} + γ_t(S_t − Ŝ_{t−1}) with γ_t = 1 during a
burn-in and γ_t = (t − burn-in)^(−0.6) after it, θ_t = M-step(Ŝ_t).  See
:func:`fit_spike_slab` for the acceleration of π during the burn-in, the multi-chain protocol,
the likelihood comparison of chains and the convergence rule.

**Standard errors.** Louis' identity (Louis 1982, JRSS-B 44:226) gives the observed information
I = −∇²ℓ_c(θ̂; E[S | y]) − A·Cov(S | y)·Aᵀ, where ∇ℓ_c = A·S + a is linear in S.  With M effects
as the complete data and n ≪ M observations, the fraction of missing information of σg² (and
π) is close to 1 as soon as many SNPs are in the slab (0.99 on the HS mice for a polygenic
trait), and the Monte-Carlo estimate of the difference is then noise.  herit therefore reports
standard errors from the observed information obtained by central differences of Fisher's
score identity with common random numbers (:func:`score_difference_information`), which agrees
with Louis where Louis is reliable (sparse fits) and with REML's SE for polygenic traits; the
Louis SEs are reported beside them.

**Convergence diagnostic.** Gelman & Rubin (1992, Stat. Sci. 7:457) potential scale reduction
on split chains of the per-sweep draws of h² and π (see :func:`gelman_rubin`), and log-likelihood
differences between chains by path sampling (Gelman & Meng 1998, Stat. Sci. 13:163) with the
gradient from Fisher's identity (:func:`path_loglik_difference`).

**Sweep implementations.** :func:`gibbs_sweep` runs either a numba-compiled loop or a plain numpy
reference with the same arithmetic; both consume the same pre-drawn uniforms and normals
(:class:`SweepDraws`), so they make the same inclusion decisions and their effects agree to
rounding (the compiled dot products are summed in another order).  Without numba the numpy
sweep is used (about 50 times slower on the HS mice).
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Exponent of the SAEM step sizes γ_t = t^(−κ) after the burn-in (1/2 < κ ≤ 1).
SAEM_EXPONENT = 0.6
#: Default dispersed starting values of π, one chain each.
DEFAULT_PI_STARTS = (0.001, 0.01, 0.1, 0.5)


# --------------------------------------------------------------------------------------------
# Genotypes prepared for the sweep
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SweepData:
    """Genotypes and covariate projections in the form the sweep consumes.

    Attributes
    ----------
    x : ndarray of int8, shape (M, n), C-contiguous
        A1 counts with missing calls recoded to 0.
    shift, scale : ndarray of float64, shape (M,)
        2p_j and 1/√(2p_j(1−p_j)): z_ij = scale_j·(x_ij − shift_j) when called, 0 when missing.
    miss_ptr : ndarray of int64, shape (M + 1,)
        CSR pointers into ``miss_idx``.
    miss_idx : ndarray of int64
        Samples with a missing call, per SNP.
    zsum : ndarray of float64, shape (M,)
        Σ_i z_ij over the analysed samples.
    a : ndarray of float64, shape (M, c)
        Qᵀz_j.
    d : ndarray of float64, shape (M,)
        ‖Pz_j‖² = ‖z_j‖² − ‖a_j‖².
    q : ndarray of float64, shape (n, c)
        Orthonormal basis of the covariates (intercept included).
    """

    x: np.ndarray
    shift: np.ndarray
    scale: np.ndarray
    miss_ptr: np.ndarray
    miss_idx: np.ndarray
    zsum: np.ndarray
    a: np.ndarray
    d: np.ndarray
    q: np.ndarray

    @property
    def n_snps(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.x.shape[1])

    @property
    def n_covariates(self) -> int:
        return int(self.q.shape[1])

    def z(self, j: int) -> np.ndarray:
        """Standardized genotypes of SNP ``j`` as float64 (n,), for tests and small data."""
        z = self.scale[j] * (self.x[j].astype(np.float64) - self.shift[j])
        z[self.miss_idx[self.miss_ptr[j] : self.miss_ptr[j + 1]]] = 0.0
        return z


def orthonormal_covariates(x: np.ndarray) -> np.ndarray:
    """Orthonormal basis Q (n × c) of the columns of a full-rank design matrix."""
    q, _ = np.linalg.qr(np.asarray(x, dtype=np.float64))
    return np.ascontiguousarray(q)


def prepare_sweep_data(
    counts: np.ndarray,
    freq: np.ndarray,
    covariates: np.ndarray,
    *,
    block: int = 2048,
) -> SweepData:
    """Precompute what the sweep needs from int8 A1 counts (SNPs × samples, −1 missing).

    Parameters
    ----------
    counts : ndarray of int8, shape (M, n)
        A1 counts of the analysed samples; −1 for a missing call.  Modified: missing calls are
        recoded to 0 in place (the array becomes :attr:`SweepData.x`) to avoid a copy of M × n.
    freq : ndarray of float, shape (M,)
        A1 frequencies used for the standardization (those of ``make-grm``), 0 < p < 1.
    covariates : ndarray, shape (n, c)
        Full-rank design matrix, intercept included.
    block : int
        SNPs standardized at a time (memory O(n·block)).
    """
    from heritcli.core.standardize import standardize

    counts = np.ascontiguousarray(counts, dtype=np.int8)
    m, n = counts.shape
    freq = np.asarray(freq, dtype=np.float64)
    if freq.shape != (m,):
        raise ValueError(f"freq has shape {freq.shape}, expected ({m},)")
    if np.any(~(freq > 0) | ~(freq < 1)):
        raise ValueError("every SNP must be polymorphic (0 < freq < 1)")
    q = orthonormal_covariates(covariates)
    if q.shape[0] != n:
        raise ValueError(f"covariates have {q.shape[0]} rows, genotypes {n} samples")
    a = np.empty((m, q.shape[1]))
    zz = np.empty(m)
    zsum = np.empty(m)
    ptr = np.zeros(m + 1, dtype=np.int64)
    idx_parts: list[np.ndarray] = []
    for start in range(0, m, block):
        stop = min(start + block, m)
        part = counts[start:stop]
        z = standardize(part, freq[start:stop], dtype=np.float64)
        a[start:stop] = z @ q
        zz[start:stop] = np.einsum("ij,ij->i", z, z)
        zsum[start:stop] = z.sum(axis=1)
        missing = part < 0
        if missing.any():
            rows, cols = np.nonzero(missing)
            ptr[start + 1 : stop + 1] = np.bincount(rows, minlength=stop - start)
            idx_parts.append(cols.astype(np.int64))
            part[missing] = 0
    np.cumsum(ptr, out=ptr)
    miss_idx = np.concatenate(idx_parts) if idx_parts else np.zeros(0, dtype=np.int64)
    scale = 1.0 / np.sqrt(2.0 * freq * (1.0 - freq))
    d = np.maximum(zz - np.einsum("ij,ij->i", a, a), 0.0)
    return SweepData(
        x=counts,
        shift=2.0 * freq,
        scale=scale,
        miss_ptr=ptr,
        miss_idx=miss_idx,
        zsum=zsum,
        a=np.ascontiguousarray(a),
        d=d,
        q=q,
    )


# --------------------------------------------------------------------------------------------
# Model pieces: collapsed log-odds, complete-data likelihood, M-step, Louis' identity
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    """Model parameters θ = (σe², π, σg²).

    Attributes
    ----------
    sigma_e2 : float
        Residual variance σe².
    pi : float
        Prior inclusion probability π.
    sigma_g2 : float
        Genetic variance σg² (slab variance τ² = σg²/(Mπ)).
    """

    sigma_e2: float
    pi: float
    sigma_g2: float

    @property
    def h2(self) -> float:
        return self.sigma_g2 / (self.sigma_g2 + self.sigma_e2)

    def tau2(self, n_snps: int) -> float:
        """Slab variance σg²/(Mπ)."""
        return self.sigma_g2 / (n_snps * self.pi)


def collapsed_log_odds(
    u: float, d: float, sigma_e2: float, tau2: float, pi: float
) -> tuple[float, float, float]:
    """Collapsed inclusion log-odds of one SNP and its slab posterior.

    Parameters
    ----------
    u : float
        (Pz_j)ᵀr, r the projected residual without SNP j.
    d : float
        ‖Pz_j‖².
    sigma_e2, tau2, pi : float
        Residual variance, slab variance and prior inclusion probability.

    Returns
    -------
    log_odds, mu, v : float
        log P(γ_j = 1 | rest)/P(γ_j = 0 | rest) with b_j integrated out, and the mean and
        variance of b_j | γ_j = 1, rest.

    Notes
    -----
    The ratio of the Gaussian marginal likelihoods N(r; 0, σe²P + τ²Pz zᵀP) / N(r; 0, σe²P) on
    the (n − c)-dimensional range of P is √(v/τ²)·exp(μ²/(2v)), v = (d/σe² + 1/τ²)⁻¹,
    μ = v·u/σe² (Golan & Rosset 2011, eq. for the collapsed sampler).
    """
    v = 1.0 / (d / sigma_e2 + 1.0 / tau2)
    mu = v * u / sigma_e2
    log_odds = math.log(pi) - math.log1p(-pi) + 0.5 * math.log(v / tau2) + 0.5 * mu * mu / v
    return log_odds, mu, v


def complete_loglik(params: Params, stats: np.ndarray, n_df: int, n_snps: int) -> float:
    """Expected complete-data restricted log-likelihood ℓ_c(θ; S) up to θ-free constants.

    Parameters
    ----------
    params : Params
    stats : array_like, shape (3,)
        (R, k, B): residual sum of squares ‖P(y − Zb)‖², number of included SNPs, Σ b².
    n_df : int
        n − c.
    n_snps : int
        M.
    """
    r, k, b = (float(v) for v in stats)
    se2, pi, sg2 = params.sigma_e2, params.pi, params.sigma_g2
    tau2 = sg2 / (n_snps * pi)
    return (
        -0.5 * n_df * math.log(se2)
        - r / (2.0 * se2)
        + k * math.log(pi)
        + (n_snps - k) * math.log1p(-pi)
        - 0.5 * k * math.log(tau2)
        - b / (2.0 * tau2)
    )


def m_step(
    stats: np.ndarray,
    n_df: int,
    n_snps: int,
    *,
    pi_bounds: tuple[float, float] | None = None,
    sigma_floor: float = 0.0,
) -> Params:
    """Maximise ℓ_c(θ; S) over θ: σe² = R/(n−c), π = k/M, σg² = B.

    Parameters
    ----------
    stats : array_like, shape (3,)
        Expected sufficient statistics (R, k, B).
    n_df, n_snps : int
        n − c and M.
    pi_bounds : (float, float), optional
        π is clipped to this interval (default [0.1/M, 1 − 0.1/M]: at least a tenth of a SNP
        expected in, and out, of the slab).
    sigma_floor : float
        Lower bound for σe² and σg² (keeps τ² > 0 when nothing is included).
    """
    r, k, b = (float(v) for v in stats)
    lo, hi = pi_bounds if pi_bounds is not None else (0.1 / n_snps, 1.0 - 0.1 / n_snps)
    pi = min(max(k / n_snps, lo), hi)
    return Params(sigma_e2=max(r / n_df, sigma_floor), pi=pi, sigma_g2=max(b, sigma_floor, 1e-300))


def score_matrix(params: Params, n_df: int, n_snps: int) -> tuple[np.ndarray, np.ndarray]:
    """∇θ ℓ_c = A·S + a for θ = (σe², π, σg²) and S = (R, k, B).

    Returns
    -------
    A : ndarray, shape (3, 3)
    a : ndarray, shape (3,)
    """
    se2, pi, sg2 = params.sigma_e2, params.pi, params.sigma_g2
    m = n_snps
    mat = np.array(
        [
            [1.0 / (2.0 * se2**2), 0.0, 0.0],
            [0.0, 1.5 / pi + 1.0 / (1.0 - pi), -m / (2.0 * sg2)],
            [0.0, -1.0 / (2.0 * sg2), m * pi / (2.0 * sg2**2)],
        ]
    )
    const = np.array([-n_df / (2.0 * se2), -m / (1.0 - pi), 0.0])
    return mat, const


def complete_hessian(params: Params, stats: np.ndarray, n_df: int, n_snps: int) -> np.ndarray:
    """∇²θ ℓ_c(θ; S) for θ = (σe², π, σg²)."""
    r, k, b = (float(v) for v in stats)
    se2, pi, sg2 = params.sigma_e2, params.pi, params.sigma_g2
    m = n_snps
    h = np.zeros((3, 3))
    h[0, 0] = n_df / (2.0 * se2**2) - r / se2**3
    h[1, 1] = -1.5 * k / pi**2 - (m - k) / (1.0 - pi) ** 2
    h[1, 2] = h[2, 1] = m * b / (2.0 * sg2**2)
    h[2, 2] = k / (2.0 * sg2**2) - m * pi * b / sg2**3
    return h


@dataclass(frozen=True)
class LouisResult:
    """Observed information by Louis' identity and the resulting standard errors.

    Attributes
    ----------
    information : ndarray, shape (3, 3)
        Observed information for (σe², π, σg²).
    covariance : ndarray or None
        Its inverse, None when it is not positive definite.
    h2_se, pi_se, sigma_g2_se, sigma_e2_se : float
        NaN where not estimable.
    missing_fraction : ndarray, shape (3,)
        Fraction of missing information per parameter, 1 − I_obs,ii/I_complete,ii.
    pi_identified : bool
        False when the observed information is not positive definite: π is then treated as
        known and the SEs of the variances come from their own 2 × 2 block.
    """

    information: np.ndarray
    covariance: np.ndarray | None
    h2_se: float
    pi_se: float
    sigma_g2_se: float
    sigma_e2_se: float
    missing_fraction: np.ndarray
    pi_identified: bool = True


def louis_standard_errors(
    params: Params, mean_stats: np.ndarray, cov_stats: np.ndarray, n_df: int, n_snps: int
) -> LouisResult:
    """Standard errors of θ̂ and ĥ² from Louis' identity.

    Parameters
    ----------
    params : Params
        The estimate θ̂.
    mean_stats, cov_stats : ndarray, shapes (3,), (3, 3)
        Posterior mean and covariance of S = (R, k, B) at θ̂.

    Notes
    -----
    I_obs = −∇²ℓ_c(θ̂; E[S]) − A·Cov(S)·Aᵀ (Louis 1982), because ℓ_c is linear in S; then
    Cov(θ̂) = I_obs⁻¹ and, by the delta method, Var(ĥ²) = gᵀCov(σ̂e², σ̂g²)g with
    g = (−σg², σe²)/(σg² + σe²)².  When π carries almost no information its fraction of
    missing information is close to 1 and the Monte-Carlo estimate of I_obs,ππ can come out
    negative; π's SE is then reported as NaN (not identified) and the variances' SEs are taken
    from the (σe², σg²) block of I_obs, i.e. with π held at π̂.
    """
    mat, _ = score_matrix(params, n_df, n_snps)
    complete = -complete_hessian(params, mean_stats, n_df, n_snps)
    info = complete - mat @ np.asarray(cov_stats, dtype=float) @ mat.T
    info = 0.5 * (info + info.T)
    nan = float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        missing = 1.0 - np.diag(info) / np.diag(complete)
    se2, sg2 = params.sigma_e2, params.sigma_g2
    total = se2 + sg2
    grad = np.array([-sg2 / total**2, 0.0, se2 / total**2])
    cov = _inverse_if_positive(info)
    if cov is not None:
        h2_var = float(grad @ cov @ grad)
        return LouisResult(
            information=info,
            covariance=cov,
            h2_se=math.sqrt(max(h2_var, 0.0)),
            pi_se=math.sqrt(cov[1, 1]),
            sigma_g2_se=math.sqrt(cov[2, 2]),
            sigma_e2_se=math.sqrt(cov[0, 0]),
            missing_fraction=missing,
        )
    keep = [0, 2]
    block = _inverse_if_positive(info[np.ix_(keep, keep)])
    if block is None:
        return LouisResult(info, None, nan, nan, nan, nan, missing, pi_identified=False)
    g2 = grad[keep]
    return LouisResult(
        information=info,
        covariance=None,
        h2_se=math.sqrt(max(float(g2 @ block @ g2), 0.0)),
        pi_se=nan,
        sigma_g2_se=math.sqrt(block[1, 1]),
        sigma_e2_se=math.sqrt(block[0, 0]),
        missing_fraction=missing,
        pi_identified=False,
    )


def _inverse_if_positive(mat: np.ndarray) -> np.ndarray | None:
    try:
        np.linalg.cholesky(mat)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.inv(mat)


@dataclass(frozen=True)
class StandardErrors:
    """Standard errors from an observed information in φ = (log σe², logit π, log σg²).

    Attributes
    ----------
    h2, pi, sigma_g2, sigma_e2 : float
        Standard errors (delta method from φ); NaN where not estimable.
    pi_identified : bool
        False when the information is not positive definite with π included: π's SE is then
        NaN and the others come from the (log σe², log σg²) block, π held at π̂.
    """

    h2: float
    pi: float
    sigma_g2: float
    sigma_e2: float
    pi_identified: bool


def standard_errors_phi(params: Params, information: np.ndarray) -> StandardErrors:
    """SEs of ĥ², π̂, σ̂g², σ̂e² from the observed information of φ = (log σe², logit π, log σg²).

    Notes
    -----
    Delta method: ∂h²/∂log σe² = −σe²σg²/(σe² + σg²)², ∂h²/∂log σg² = +σe²σg²/(σe² + σg²)²,
    dπ/dlogit π = π(1 − π), dσ²/dlog σ² = σ².
    """
    se2, pi, sg2 = params.sigma_e2, params.pi, params.sigma_g2
    total = se2 + sg2
    grad_h2 = np.array([-se2 * sg2 / total**2, 0.0, se2 * sg2 / total**2])
    info = 0.5 * (np.asarray(information, dtype=float) + np.asarray(information, dtype=float).T)
    nan = float("nan")
    cov = _inverse_if_positive(info)
    if cov is not None:
        return StandardErrors(
            h2=math.sqrt(max(float(grad_h2 @ cov @ grad_h2), 0.0)),
            pi=pi * (1.0 - pi) * math.sqrt(cov[1, 1]),
            sigma_g2=sg2 * math.sqrt(cov[2, 2]),
            sigma_e2=se2 * math.sqrt(cov[0, 0]),
            pi_identified=True,
        )
    keep = [0, 2]
    block = _inverse_if_positive(info[np.ix_(keep, keep)])
    if block is None:
        return StandardErrors(nan, nan, nan, nan, False)
    g2 = grad_h2[keep]
    return StandardErrors(
        h2=math.sqrt(max(float(g2 @ block @ g2), 0.0)),
        pi=nan,
        sigma_g2=sg2 * math.sqrt(block[1, 1]),
        sigma_e2=se2 * math.sqrt(block[0, 0]),
        pi_identified=False,
    )


def score_difference_information(
    data: SweepData,
    state: SweepState,
    params: Params,
    seed: int,
    *,
    delta: float = 0.1,
    burn: int = 3,
    sweeps: int = 20,
    engine: str = "numba",
) -> tuple[np.ndarray, int]:
    """Observed information of φ = (log σe², logit π, log σg²) by differencing Fisher's score.

    Parameters
    ----------
    data : SweepData
    state : SweepState
        A latent state in equilibrium at ``params`` (copied, not changed).
    params : Params
        Where the information is wanted (θ̂).
    seed : int
        Seed of the common random numbers.
    delta : float
        Half-step of the central differences, in φ units.
    burn, sweeps : int
        Sweeps discarded and averaged at each perturbed point.

    Returns
    -------
    information : ndarray, shape (3, 3)
        −∂²log L/∂φ², symmetrised.
    sweeps_run : int

    Notes
    -----
    Fisher's identity gives the score ∇φ log L(φ) = E[∇φ ℓ_c | y, φ] (:func:`loglik_gradient_phi`),
    estimated from the Rao-Blackwellised statistics of a few sweeps; the information is its
    central difference, column i = −(s(φ + δe_i) − s(φ − δe_i))/(2δ).  The two sides start from
    the same state and consume the same random numbers (common random numbers), so most of the
    Monte-Carlo noise cancels in the difference.  Louis' identity (:func:`louis_standard_errors`)
    gives the same matrix in expectation but subtracts two large numbers when the fraction of
    missing information is close to 1, which it is for σg² and π whenever many SNPs are in the
    slab (the complete data then carry M effects, the observed data n ≪ M observations), and its
    Monte-Carlo estimate becomes useless there; the score differences do not have that problem.
    """
    m = data.n_snps
    n_df = data.n_samples - data.n_covariates
    phi = _to_phi(params)
    out_p = np.zeros(m)
    out_mu = np.zeros(m)
    order = np.arange(m)
    hessian = np.zeros((3, 3))
    used = 0
    for i in range(3):
        scores = []
        for sign in (1.0, -1.0):
            point = phi.copy()
            point[i] += sign * delta
            at = _from_phi(point)
            work = state.copy()
            rng = np.random.default_rng([seed, i])
            acc = np.zeros(3)
            for sweep in range(burn + sweeps):
                draws = SweepDraws.draw(rng, m, order)
                result = gibbs_sweep(data, work, at, draws, out_p, out_mu, engine=engine)
                if sweep >= burn:
                    acc += result.rao_blackwell
            used += burn + sweeps
            scores.append(loglik_gradient_phi(at, acc / sweeps, n_df, m))
        hessian[:, i] = (scores[0] - scores[1]) / (2.0 * delta)
    return -0.5 * (hessian + hessian.T), used


def gelman_rubin(draws: np.ndarray) -> float:
    """Potential scale reduction factor R̂ of split chains (Gelman & Rubin 1992).

    Parameters
    ----------
    draws : ndarray, shape (chains, iterations)
        Each chain is split into halves, so one chain already gives a (within-chain) R̂.

    Returns
    -------
    float
        √(V̂/W), V̂ = (N−1)/N·W + B/N; 1.0 when every draw is equal, NaN with fewer than 4
        draws per chain.
    """
    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 2 or draws.shape[1] < 4:
        return float("nan")
    half = draws.shape[1] // 2
    split = np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half :]], axis=0)
    n = split.shape[1]
    means = split.mean(axis=1)
    within = float(split.var(axis=1, ddof=1).mean())
    between = n * float(means.var(ddof=1))
    if within <= 0.0:
        return 1.0 if between <= 0.0 else float("inf")
    var_hat = (n - 1) / n * within + between / n
    return math.sqrt(var_hat / within)


# --------------------------------------------------------------------------------------------
# The sweep: a plain numpy reference and a numba-compiled version of the same arithmetic
# --------------------------------------------------------------------------------------------


@dataclass
class SweepState:
    """The latent state of one chain.

    Attributes
    ----------
    gamma : ndarray of int8, shape (M,)
        Inclusion indicators.
    beta : ndarray of float64, shape (M,)
        Effects (0 where excluded).
    s : ndarray of float64, shape (n,)
        Unprojected residual Py − Zb.
    t : ndarray of float64, shape (c,)
        Qᵀs.
    """

    gamma: np.ndarray
    beta: np.ndarray
    s: np.ndarray
    t: np.ndarray

    @classmethod
    def empty(cls, data: SweepData, y_projected: np.ndarray) -> SweepState:
        """No SNP included: s = Py, t = 0."""
        s = np.array(y_projected, dtype=np.float64, copy=True)
        return cls(
            gamma=np.zeros(data.n_snps, dtype=np.int8),
            beta=np.zeros(data.n_snps),
            s=s,
            t=data.q.T @ s,
        )

    def copy(self) -> SweepState:
        return SweepState(self.gamma.copy(), self.beta.copy(), self.s.copy(), self.t.copy())


@dataclass(frozen=True)
class SweepDraws:
    """Random numbers for one sweep, in visiting order (both sweeps consume them identically)."""

    order: np.ndarray
    uniforms: np.ndarray
    normals: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, n_snps: int, order: np.ndarray) -> SweepDraws:
        return cls(order=order, uniforms=rng.random(n_snps), normals=rng.standard_normal(n_snps))


def _sweep_numpy(
    x: np.ndarray,
    shift: np.ndarray,
    scale: np.ndarray,
    miss_ptr: np.ndarray,
    miss_idx: np.ndarray,
    zsum: np.ndarray,
    a: np.ndarray,
    d: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    s: np.ndarray,
    t: np.ndarray,
    order: np.ndarray,
    uniforms: np.ndarray,
    normals: np.ndarray,
    logit_pi: float,
    tau2: float,
    sigma_e2: float,
    out_p: np.ndarray,
    out_mu: np.ndarray,
) -> tuple[float, float]:
    """Reference sweep: the arithmetic of :func:`_sweep_kernel` with numpy vector operations."""
    ssum = float(s.sum())
    k_rb = 0.0
    b2_rb = 0.0
    for pos in range(order.shape[0]):
        j = int(order[pos])
        lo, hi = miss_ptr[j], miss_ptr[j + 1]
        xs = float(np.dot(x[j].astype(np.float64), s))
        called_sum = ssum - float(s[miss_idx[lo:hi]].sum()) if hi > lo else ssum
        zs = scale[j] * (xs - shift[j] * called_sum)
        b_old = beta[j]
        u = zs - float(np.dot(a[j], t)) + b_old * d[j]
        prec = d[j] / sigma_e2 + 1.0 / tau2
        v = 1.0 / prec
        mu = v * u / sigma_e2
        log_odds = logit_pi + 0.5 * math.log(v / tau2) + 0.5 * mu * mu / v
        p = _expit(log_odds)
        out_p[j] = p
        out_mu[j] = mu
        k_rb += p
        b2_rb += p * (mu * mu + v)
        if uniforms[pos] < p:
            b_new = mu + math.sqrt(v) * normals[pos]
            gamma[j] = 1
        else:
            b_new = 0.0
            gamma[j] = 0
        delta = b_new - b_old
        if delta != 0.0:
            beta[j] = b_new
            c = delta * scale[j]
            s -= c * (x[j].astype(np.float64) - shift[j])
            if hi > lo:
                s[miss_idx[lo:hi]] -= c * shift[j]
            t -= delta * a[j]
            ssum -= delta * zsum[j]
    return k_rb, b2_rb


def _expit(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def numba_cache_dir() -> Path | None:
    """herit's per-user directory for numba's compiled sweep, created if needed.

    ``$XDG_CACHE_HOME/herit/numba``, or ``~/.cache/herit/numba`` when ``XDG_CACHE_HOME`` is
    unset or not an absolute path (the XDG base-directory rule).  numba's default would be the
    package's own ``__pycache__``, which outlives an uninstall of herit.

    Returns
    -------
    pathlib.Path or None
        The directory, or None when it cannot be created or written to.
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    try:
        root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
        directory = root / "herit" / "numba"
        directory.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()  # the check numba itself makes
    except (OSError, RuntimeError):  # RuntimeError: no home directory
        return None
    return directory


def _make_numba_sweep() -> Callable[..., tuple[float, float]] | None:
    """Compile the sweep with numba; None when numba is missing or cannot compile it.

    The compiled code is cached on disk in the directory the user gave numba
    (``NUMBA_CACHE_DIR``) or else in :func:`numba_cache_dir`; when neither can be used, or
    caching fails in any way, the sweep is compiled without a cache.
    """
    try:
        import numba
        import numba.core.config
    except Exception:  # ImportError, or a numba that does not work with this numpy
        return None
    numba_config: Any = numba.core.config  # its settings are module globals set at run time

    # numba read NUMBA_CACHE_DIR when it was imported; its locator reads config.CACHE_DIR when
    # a function is decorated, so herit's directory is set only around the decoration below
    # (leaving other numba code in the process alone).
    numba_config.reload_config()
    user_dir = numba_config.CACHE_DIR
    own_dir = None if user_dir else numba_cache_dir()
    attempts = [True, False] if user_dir or own_dir is not None else [False]
    for cache in attempts:
        if cache and own_dir is not None:
            numba_config.CACHE_DIR = str(own_dir)
        try:
            return _compile_numba_sweep(numba, cache=cache)
        except Exception:  # a cache that cannot be written or read, or no working numba
            continue
        finally:
            numba_config.CACHE_DIR = user_dir
    return None


# The numba kernels are plain module-level functions, compiled by _compile_numba_sweep.  They
# are not closures: numba's on-disk cache keys a closure by its pickled cells, and a compiled
# function pickles differently in every process, so a closure would never be found again.


def _dot_int8(xrow: Any, s: Any) -> float:  # pragma: no cover - compiled
    acc = 0.0
    for i in range(s.shape[0]):
        acc += xrow[i] * s[i]
    return acc


def _axpy_int8(s: Any, xrow: Any, c: float, offset: float) -> None:  # pragma: no cover
    # s -= c * (x - shift), written as s -= c*x - c*shift
    for i in range(s.shape[0]):
        s[i] -= c * xrow[i] - offset


def _sweep_kernel(  # pragma: no cover - compiled
    x: Any,
    shift: Any,
    scale: Any,
    miss_ptr: Any,
    miss_idx: Any,
    zsum: Any,
    a: Any,
    d: Any,
    gamma: Any,
    beta: Any,
    s: Any,
    t: Any,
    order: Any,
    uniforms: Any,
    normals: Any,
    logit_pi: float,
    tau2: float,
    sigma_e2: float,
    out_p: Any,
    out_mu: Any,
) -> tuple[float, float]:
    ssum = 0.0
    for i in range(s.shape[0]):
        ssum += s[i]
    c_dim = t.shape[0]
    k_rb = 0.0
    b2_rb = 0.0
    for pos in range(order.shape[0]):
        j = order[pos]
        lo = miss_ptr[j]
        hi = miss_ptr[j + 1]
        xs = _dot_int8(x[j], s)
        called_sum = ssum
        for m in range(lo, hi):
            called_sum -= s[miss_idx[m]]
        zs = scale[j] * (xs - shift[j] * called_sum)
        at = 0.0
        for k in range(c_dim):
            at += a[j, k] * t[k]
        b_old = beta[j]
        u = zs - at + b_old * d[j]
        prec = d[j] / sigma_e2 + 1.0 / tau2
        v = 1.0 / prec
        mu = v * u / sigma_e2
        log_odds = logit_pi + 0.5 * math.log(v / tau2) + 0.5 * mu * mu / v
        p = _expit(log_odds)
        out_p[j] = p
        out_mu[j] = mu
        k_rb += p
        b2_rb += p * (mu * mu + v)
        if uniforms[pos] < p:
            b_new = mu + math.sqrt(v) * normals[pos]
            gamma[j] = 1
        else:
            b_new = 0.0
            gamma[j] = 0
        delta = b_new - b_old
        if delta != 0.0:
            beta[j] = b_new
            c = delta * scale[j]
            _axpy_int8(s, x[j], c, c * shift[j])
            for m in range(lo, hi):
                s[miss_idx[m]] -= c * shift[j]
            for k in range(c_dim):
                t[k] -= delta * a[j, k]
            ssum -= delta * zsum[j]
    return k_rb, b2_rb


def _compile_numba_sweep(numba: Any, *, cache: bool) -> Callable[..., tuple[float, float]]:
    """Compile :func:`_sweep_kernel` and its helpers, and run it on a tiny problem.

    Raises whatever numba raises when it cannot compile (or cache) the sweep.
    """
    # Reassociation lets LLVM vectorise the two O(n) loops; the result is deterministic for
    # a given build and machine, and equals the numpy sweep to rounding.
    fm = {"reassoc", "contract"}
    # The sweep is compiled from a copy of the module namespace in which its helpers are
    # the compiled ones (numba resolves the helpers through the function's globals).
    namespace = dict(globals())
    namespace["_dot_int8"] = numba.njit(cache=cache, nogil=True, fastmath=fm)(_dot_int8)
    namespace["_axpy_int8"] = numba.njit(cache=cache, nogil=True, fastmath=fm)(_axpy_int8)
    namespace["_expit"] = numba.njit(cache=cache, nogil=True)(_expit)
    kernel = types.FunctionType(_sweep_kernel.__code__, namespace, _sweep_kernel.__name__)
    sweep = numba.njit(cache=cache, nogil=True)(kernel)

    # Compile now, in this thread, on a tiny problem: a failure means "no numba".
    x = np.zeros((1, 2), dtype=np.int8)
    one = np.ones(1)
    sweep(
        x,
        one,
        one,
        np.zeros(2, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        one,
        np.zeros((1, 1)),
        one,
        np.zeros(1, dtype=np.int8),
        np.zeros(1),
        np.zeros(2),
        np.zeros(1),
        np.zeros(1, dtype=np.int64),
        one,
        one,
        0.0,
        1.0,
        1.0,
        np.zeros(1),
        np.zeros(1),
    )
    return sweep


_NUMBA_SWEEP: Callable[..., tuple[float, float]] | None = None
_NUMBA_TRIED = False
_NUMBA_LOCK = threading.Lock()


def numba_sweep() -> Callable[..., tuple[float, float]] | None:
    """The compiled sweep (compiled on first use), or None without numba."""
    global _NUMBA_SWEEP, _NUMBA_TRIED
    with _NUMBA_LOCK:
        if not _NUMBA_TRIED:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _NUMBA_SWEEP = _make_numba_sweep()
            _NUMBA_TRIED = True
    return _NUMBA_SWEEP


def resolve_engine(engine: str = "auto") -> tuple[str, str | None]:
    """The sweep implementation to use and a warning to show, if any.

    Parameters
    ----------
    engine : {"auto", "numba", "numpy"}
        ``auto``: numba when it can be imported, else numpy with a warning.
    """
    if engine not in ("auto", "numba", "numpy"):
        raise ValueError(f"engine must be auto, numba or numpy, not {engine!r}")
    if engine == "numpy":
        return "numpy", None
    if numba_sweep() is not None:
        return "numba", None
    message = (
        "numba is not installed: using the plain numpy sweep, which is much slower "
        "(pip install numba)"
    )
    return "numpy", message


@dataclass(frozen=True)
class SweepResult:
    """Statistics of one sweep.

    Attributes
    ----------
    sampled : ndarray, shape (3,)
        (R, k, B) of the state after the sweep.
    rao_blackwell : ndarray, shape (3,)
        (R, Σ p_j, Σ p_j(μ_j² + v_j)): R as sampled, the others Rao-Blackwellised.
    """

    sampled: np.ndarray
    rao_blackwell: np.ndarray


def gibbs_sweep(
    data: SweepData,
    state: SweepState,
    params: Params,
    draws: SweepDraws,
    out_p: np.ndarray,
    out_mu: np.ndarray,
    *,
    engine: str = "numba",
) -> SweepResult:
    """One residual-updating collapsed Gibbs sweep over the SNPs in ``draws.order``.

    Updates ``state`` in place and writes each SNP's conditional inclusion probability and
    slab mean into ``out_p`` and ``out_mu``.  ``engine="numba"`` and ``engine="numpy"`` make
    the same decisions from the same ``draws`` (see the module Notes).
    """
    tau2 = params.tau2(data.n_snps)
    logit_pi = math.log(params.pi) - math.log1p(-params.pi)
    func: Callable[..., tuple[float, float]] | None
    func = numba_sweep() if engine == "numba" else _sweep_numpy
    if func is None:
        raise RuntimeError("numba is not available")
    k_rb, b2_rb = func(
        data.x,
        data.shift,
        data.scale,
        data.miss_ptr,
        data.miss_idx,
        data.zsum,
        data.a,
        data.d,
        state.gamma,
        state.beta,
        state.s,
        state.t,
        draws.order,
        draws.uniforms,
        draws.normals,
        logit_pi,
        tau2,
        params.sigma_e2,
        out_p,
        out_mu,
    )
    # Recompute t and R from s: removes rounding drift of the incremental updates.
    state.t[:] = data.q.T @ state.s
    rss = float(state.s @ state.s - state.t @ state.t)
    k = float(np.count_nonzero(state.gamma))
    b2 = float(state.beta @ state.beta)
    return SweepResult(sampled=np.array([rss, k, b2]), rao_blackwell=np.array([rss, k_rb, b2_rb]))


# --------------------------------------------------------------------------------------------
# The multi-chain SAEM driver
# --------------------------------------------------------------------------------------------


def dispersed_pi_starts(chains: int) -> tuple[float, ...]:
    """Starting π of ``chains`` chains: 0.001, 0.01, 0.1, 0.5 for four, log-spaced otherwise."""
    if chains == len(DEFAULT_PI_STARTS):
        return DEFAULT_PI_STARTS
    if chains == 1:
        return (0.01,)
    logs = np.linspace(math.log(DEFAULT_PI_STARTS[0]), math.log(DEFAULT_PI_STARTS[-1]), chains)
    return tuple(float(v) for v in np.exp(logs))


#: Half the 95% point of χ²₁: chains whose log-likelihoods differ by less are equally supported.
LOGLIK_TOLERANCE = 0.5 * 3.841458820694124


@dataclass(frozen=True)
class McemSettings:
    """Tuning of :func:`fit_spike_slab`.

    Attributes
    ----------
    pi_starts : tuple of float
        Starting π of each chain (one chain per entry).
    max_iterations : int
        Cap on the iterations (sweeps) per chain, burn-in and final window included.
    burn_in : int
        Iterations with SAEM step size 1 (stochastic EM) and the accelerated π update.
    window : int
        Iterations at the end over which PIPs, effects, the realised h², Louis' statistics
        and the reported R̂ are computed.
    seed : int
        Seed of every random number (chains and likelihood comparisons).
    threads : int
        Chains run concurrently on this many threads (results do not depend on it).
    engine : {"numba", "numpy"}
    rhat_max : float
        Convergence requires R̂ of h² (and of π, or equal likelihoods) below this.
    check_every : int
        Iterations between convergence checks.
    min_sa_iterations : int
        Iterations after the burn-in before convergence may be declared.
    compare_every : int
        Least number of iterations between two likelihood comparisons of the chains.
    accelerate : bool
        Use the sign-adaptive π step during the burn-in (see :func:`fit_spike_slab`).
    move_threshold : float
        At the end of the burn-in a chain whose log-likelihood is more than this (plus twice
        the uncertainty of the comparison) below the best chain's is moved to its parameters.
    path_nodes, path_sweeps : int
        Nodes of the path-sampling estimate and sweeps per node.
    """

    pi_starts: tuple[float, ...] = DEFAULT_PI_STARTS
    max_iterations: int = 1500
    burn_in: int = 200
    window: int = 200
    seed: int = 1
    threads: int = 1
    engine: str = "numba"
    rhat_max: float = 1.1
    check_every: int = 25
    min_sa_iterations: int = 50
    compare_every: int = 100
    accelerate: bool = True
    move_threshold: float = 3.0
    path_nodes: int = 16
    path_sweeps: int = 4

    def __post_init__(self) -> None:
        if not self.pi_starts:
            raise ValueError("need at least one chain")
        if any(not 0.0 < p < 1.0 for p in self.pi_starts):
            raise ValueError("every starting pi must be strictly between 0 and 1")
        if self.burn_in < 1 or self.max_iterations < self.burn_in + 20:
            raise ValueError("need burn_in >= 1 and max_iterations >= burn_in + 20")


@dataclass(frozen=True)
class ChainSummary:
    """One chain's start, end point and fate.

    Attributes
    ----------
    pi_start : float
    params : Params
        The chain's own final estimate (M-step of its SA statistics).
    params_burn_in : Params
        Its estimate at the end of the burn-in (before any move).
    loglik_delta : float or None
        Estimated log-likelihood of the chain's parameters relative to the best chain's, at the
        last comparison (None when the chains were never compared).
    loglik_uncertainty : float or None
        Hysteresis of that estimate (half the disagreement of the two path directions, summed
        over the two chains compared).
    moved : bool
        Whether the chain was moved to the best chain's parameters after the burn-in.
    """

    pi_start: float
    params: Params
    params_burn_in: Params
    loglik_delta: float | None
    loglik_uncertainty: float | None
    moved: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "pi_start": self.pi_start,
            "h2": self.params.h2,
            "pi": self.params.pi,
            "sigma_g2": self.params.sigma_g2,
            "sigma_e2": self.params.sigma_e2,
            "h2_burn_in": self.params_burn_in.h2,
            "pi_burn_in": self.params_burn_in.pi,
            "loglik_delta": self.loglik_delta,
            "loglik_uncertainty": self.loglik_uncertainty,
            "moved_to_best": self.moved,
        }


@dataclass(frozen=True, eq=False)
class McemFit:
    """Result of :func:`fit_spike_slab`.

    Attributes
    ----------
    params : Params
        θ̂: the M-step of the mean SA statistics of the chosen chains.
    h2_se, pi_se, sigma_g2_se, sigma_e2_se : float
        Standard errors from the observed information of :func:`score_difference_information`
        averaged over the chosen chains (π's is NaN when it is not identified).
    information : ndarray, shape (3, 3)
        That information, for φ = (log σe², logit π, log σg²).
    h2_se_chains : tuple of float
        The SE of ĥ² from each chosen chain's own information (a Monte-Carlo check).
    louis_h2_se, louis_pi_se : float
        The same SEs by Louis' identity from the window statistics (reliable only when the
        fractions of missing information are well below 1).
    missing_information : dict
        Fraction of missing information of σe², π, σg² (Louis).
    pi_identified : bool
        False when π's observed information is not positive.
    converged_by : str
        ``"rhat"`` (R̂ of h² and π below the limit), ``"likelihood"`` (chains with equal
        log-likelihood, see the convergence rule) or ``""`` (not converged).
    pi_range : tuple of float
        Smallest and largest final π of the chosen chains.
    h2_realised, h2_realised_sd : float
        Mean and SD over the final window of var(PZb)/(var(PZb) + σ̂e²).
    h2_realised_interval : tuple of float
        Its 2.5% and 97.5% quantiles.
    pip, beta_mean : ndarray, shape (M,)
        Posterior inclusion probabilities and posterior mean effects (standardized scale),
        Rao-Blackwellised, averaged over the final window of the chosen chains.
    iterations : int
        Iterations per chain (all chains run the same number).
    burn_in : int
    converged : bool
    convergence_rule : str
    rhat_h2, rhat_pi : float
        R̂ over the final window of every chain.
    chains : list of ChainSummary
    chosen_chains : tuple of int
        Chains the estimates are combined from (0-based).
    trace : list of tuple
        Every iteration of every chain, in the order of :data:`TRACE_COLUMNS`.
    trace_columns : tuple of str
    sweeps : int
        Sweeps run in all, likelihood comparisons included.
    notes : tuple of str
        What happened (comparisons, chains moved), for the log.
    """

    params: Params
    h2_se: float
    pi_se: float
    sigma_g2_se: float
    sigma_e2_se: float
    information: np.ndarray
    h2_se_chains: tuple[float, ...]
    louis_h2_se: float
    louis_pi_se: float
    missing_information: dict[str, float]
    pi_identified: bool
    converged_by: str
    pi_range: tuple[float, float]
    h2_realised: float
    h2_realised_sd: float
    h2_realised_interval: tuple[float, float]
    pip: np.ndarray
    beta_mean: np.ndarray
    iterations: int
    burn_in: int
    converged: bool
    convergence_rule: str
    rhat_h2: float
    rhat_pi: float
    chains: list[ChainSummary]
    chosen_chains: tuple[int, ...]
    trace: list[tuple[Any, ...]]
    trace_columns: tuple[str, ...]
    sweeps: int
    notes: tuple[str, ...] = ()

    @property
    def h2(self) -> float:
        return self.params.h2


TRACE_COLUMNS = (
    "chain",
    "iteration",
    "phase",
    "h2",
    "pi",
    "pi_m",
    "sigma_g2",
    "sigma_e2",
    "k",
    "sum_b2",
    "rss",
    "k_rb",
    "h2_draw",
    "step",
)


class _Chain:
    """One SAEM chain: latent state, parameters, stochastic-approximation statistics."""

    def __init__(
        self,
        index: int,
        data: SweepData,
        y_projected: np.ndarray,
        start: Params,
        seed: np.random.SeedSequence,
        settings: McemSettings,
    ) -> None:
        self.index = index
        self.data = data
        self.y = y_projected
        self.settings = settings
        self.n_df = data.n_samples - data.n_covariates
        self.rng = np.random.default_rng(seed)
        self.state = SweepState.empty(data, y_projected)
        self.params = start
        self.pi_start = start.pi
        self.params_burn_in = start
        self.stats = np.zeros(3)
        self.iteration = 0
        self.sweeps = 0
        self.omega = 1.0
        self.previous_delta = 0.0
        self.order = np.arange(data.n_snps)
        self.out_p = np.zeros(data.n_snps)
        self.out_mu = np.zeros(data.n_snps)
        self.trace: list[tuple[Any, ...]] = []
        self.draws: list[tuple[float, float]] = []  # (h², π) draws after the burn-in
        self.window_stats: list[np.ndarray] = []
        self.window_realised: list[float] = []
        self.pip_sum = np.zeros(data.n_snps)
        self.beta_sum = np.zeros(data.n_snps)
        self.window_count = 0
        self.moved = False
        self.loglik: tuple[float, float] | None = None

    def step(self, in_window: bool) -> None:
        """One iteration: a sweep, the SA update of the statistics, the M-step."""
        settings = self.settings
        m = self.data.n_snps
        self.iteration += 1
        t = self.iteration
        draws = SweepDraws.draw(self.rng, m, self.order)
        self.sweeps += 1
        result = gibbs_sweep(
            self.data,
            self.state,
            self.params,
            draws,
            self.out_p,
            self.out_mu,
            engine=settings.engine,
        )
        r, k, b2 = result.sampled
        h2_draw = b2 / (b2 + r / self.n_df) if b2 + r > 0 else 0.0
        step_size = 1.0
        if t <= settings.burn_in:
            self.stats = result.rao_blackwell.copy()
            proposal = m_step(self.stats, self.n_df, m)
            if settings.accelerate:
                proposal = self._accelerate(proposal)
            phase = "burn-in"
        else:
            step_size = (t - settings.burn_in) ** (-SAEM_EXPONENT)
            self.stats += step_size * (result.rao_blackwell - self.stats)
            proposal = m_step(self.stats, self.n_df, m)
            phase = "window" if in_window else "sa"
            self.draws.append((h2_draw, k / m))
        if in_window:
            self.window_stats.append(result.sampled.copy())
            self.pip_sum += self.out_p
            self.beta_sum += self.out_p * self.out_mu
            self.window_count += 1
            genetic = self.y - (self.state.s - self.data.q @ self.state.t)
            vg = float(genetic @ genetic) / self.n_df
            self.window_realised.append(vg / (vg + self.params.sigma_e2))
        self.trace.append(
            (
                self.index + 1,
                t,
                phase,
                proposal.h2,
                proposal.pi,
                proposal.pi * m,
                proposal.sigma_g2,
                proposal.sigma_e2,
                int(k),
                b2,
                r,
                float(result.rao_blackwell[1]),
                h2_draw,
                step_size,
            )
        )
        self.params = proposal
        if t == settings.burn_in:
            self.params_burn_in = proposal

    def _accelerate(self, proposal: Params) -> Params:
        """Sign-adaptive step on log π (see :func:`fit_spike_slab`, Notes)."""
        m = self.data.n_snps
        delta = math.log(proposal.pi) - math.log(self.params.pi)
        if delta * self.previous_delta > 0:
            self.omega = min(2.0 * self.omega, _OMEGA_MAX)
        elif delta * self.previous_delta < 0:
            self.omega = max(1.0, self.omega / 4.0)
        self.previous_delta = delta
        step = max(min(self.omega * delta, _MAX_LOG_STEP), -_MAX_LOG_STEP)
        pi = min(max(math.exp(math.log(self.params.pi) + step), 0.1 / m), 1.0 - 0.1 / m)
        return Params(proposal.sigma_e2, pi, proposal.sigma_g2)

    def move_to(self, params: Params) -> None:
        """Take another chain's parameters (keeping this chain's own state and stream)."""
        self.params = params
        self.moved = True

    def window_covariance(self) -> tuple[np.ndarray, int]:
        """Sum of squared deviations of the window statistics from their own mean, and count."""
        stats = np.asarray(self.window_stats, dtype=float).reshape(-1, 3)
        centred = stats - stats.mean(axis=0)
        return centred.T @ centred, stats.shape[0]


#: Cap on the multiplier of the EM increment of log π during the burn-in.
_OMEGA_MAX = 1024.0
#: Largest change of log π in one accelerated iteration (a factor of 4).
_MAX_LOG_STEP = math.log(4.0)


def _to_phi(params: Params) -> np.ndarray:
    return np.array(
        [
            math.log(params.sigma_e2),
            math.log(params.pi) - math.log1p(-params.pi),
            math.log(params.sigma_g2),
        ]
    )


def _from_phi(phi: np.ndarray) -> Params:
    return Params(
        sigma_e2=math.exp(phi[0]), pi=1.0 / (1.0 + math.exp(-phi[1])), sigma_g2=math.exp(phi[2])
    )


def loglik_gradient_phi(params: Params, stats: np.ndarray, n_df: int, n_snps: int) -> np.ndarray:
    """∇ log L in φ = (log σe², logit π, log σg²) by Fisher's identity, from E[S | y, θ].

    Notes
    -----
    ∇θ log L(θ) = E[∇θ ℓ_c(θ; S) | y, θ] = A·E[S | y, θ] + a, and dθ/dφ = (σe², π(1−π), σg²).
    """
    mat, const = score_matrix(params, n_df, n_snps)
    grad = mat @ np.asarray(stats, dtype=float) + const
    jac = np.array([params.sigma_e2, params.pi * (1.0 - params.pi), params.sigma_g2])
    return grad * jac


def path_loglik_difference(
    data: SweepData,
    state: SweepState,
    start: Params,
    end: Params,
    rng: np.random.Generator,
    *,
    nodes: int = 16,
    sweeps: int = 4,
    engine: str = "numba",
) -> tuple[float, int]:
    """log L(end) − log L(start) by path sampling along a straight line in φ.

    Parameters
    ----------
    data : SweepData
    state : SweepState
        Latent state to start from (a copy is used), in equilibrium at ``start``.
    start, end : Params
    rng : numpy.random.Generator
    nodes, sweeps : int
        Midpoint-rule nodes and sweeps per node.

    Returns
    -------
    delta : float
    sweeps_run : int

    Notes
    -----
    Thermodynamic integration (Gelman & Meng 1998, Stat. Sci. 13:163) with the gradient from
    Fisher's identity (:func:`loglik_gradient_phi`): log L(θ₁) − log L(θ₀) =
    ∫₀¹ ∇φ log L(φ(s))·(φ₁ − φ₀) ds, φ = (log σe², logit π, log σg²).  The expectation at each
    node is the mean of the Rao-Blackwellised statistics over ``sweeps`` sweeps, the state being
    carried from node to node; running the path in both directions (see
    :func:`compare_chains`) cancels most of the bias from the state lagging behind θ.
    """
    phi0, phi1 = _to_phi(start), _to_phi(end)
    direction = phi1 - phi0
    work = state.copy()
    m = data.n_snps
    n_df = data.n_samples - data.n_covariates
    out_p = np.zeros(m)
    out_mu = np.zeros(m)
    order = np.arange(m)
    total = 0.0
    for node in range(nodes):
        params = _from_phi(phi0 + (node + 0.5) / nodes * direction)
        acc = np.zeros(3)
        for _ in range(sweeps):
            draws = SweepDraws.draw(rng, m, order)
            result = gibbs_sweep(data, work, params, draws, out_p, out_mu, engine=engine)
            acc += result.rao_blackwell
        grad = loglik_gradient_phi(params, acc / sweeps, n_df, m)
        total += float(grad @ direction) / nodes
    return total, nodes * sweeps


def compare_chains(
    data: SweepData,
    states: list[SweepState],
    params: list[Params],
    rng: np.random.Generator,
    *,
    nodes: int = 16,
    sweeps: int = 4,
    engine: str = "numba",
    pool: Any = None,
) -> tuple[list[tuple[float, float]], int]:
    """Log-likelihood of every chain's θ relative to the best chain's, with its uncertainty.

    Parameters
    ----------
    data : SweepData
    states, params : lists
        Each chain's latent state (in equilibrium at its θ) and θ.
    rng : numpy.random.Generator
        Seeds the path-sampling runs (drawn in chain order, so the result does not depend on
        ``pool``).
    pool : concurrent.futures.Executor, optional
        Runs the paths concurrently.

    Returns
    -------
    list of (delta, uncertainty)
        delta ≤ 0 is log L(θ_c) − max_k log L(θ_k); uncertainty is the sum of the hysteresis of
        the two estimates it is the difference of.
    sweeps : int

    Notes
    -----
    Every chain is compared with the first: the difference is the mean of the forward (from the
    first chain's state) and the backward (from the other chain's state) path-sampling
    estimates of :func:`path_loglik_difference`, the hysteresis half their disagreement.
    """
    jobs = []
    for c in range(1, len(states)):
        seeds = rng.integers(0, 2**63, size=2)
        jobs.append((c, int(seeds[0]), int(seeds[1])))

    def run(job: tuple[int, int, int]) -> tuple[float, float, int]:
        c, s1, s2 = job
        kw = {"nodes": nodes, "sweeps": sweeps, "engine": engine}
        fwd, n1 = path_loglik_difference(
            data, states[0], params[0], params[c], np.random.default_rng(s1), **kw
        )
        bwd, n2 = path_loglik_difference(
            data, states[c], params[c], params[0], np.random.default_rng(s2), **kw
        )
        return 0.5 * (fwd - bwd), 0.5 * abs(fwd + bwd), n1 + n2

    results = list(pool.map(run, jobs)) if pool is not None else [run(j) for j in jobs]
    relative = [(0.0, 0.0)] + [(d, h) for d, h, _ in results]
    best = max(range(len(relative)), key=lambda c: relative[c][0])
    top, top_h = relative[best]
    out = [(d - top, h + top_h if c != best else 0.0) for c, (d, h) in enumerate(relative)]
    return out, sum(n for _, _, n in results)


def fit_spike_slab(
    data: SweepData,
    y_projected: np.ndarray,
    *,
    sigma_e2: float,
    sigma_g2: float,
    settings: McemSettings | None = None,
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> McemFit:
    """Fit (σe², π, σg²) by multi-chain SAEM with an accelerated burn-in.

    Parameters
    ----------
    data : SweepData
        From :func:`prepare_sweep_data`.
    y_projected : ndarray, shape (n,)
        Py, the phenotype with the covariates projected out.
    sigma_e2, sigma_g2 : float
        Starting variances (the REML estimates).
    settings : McemSettings, optional
    progress : callable, optional
        Called after every round of ``check_every`` iterations with the number of sweeps
        done since the last call and a dict of current values (``h2``, ``pi``, ``pi_m``,
        ``rhat_h2``, ``rhat_pi``).

    Returns
    -------
    McemFit

    Notes
    -----
    **Chains.** One chain per starting π (default 0.001, 0.01, 0.1, 0.5), each starting at the
    REML variances with no SNP included and with its own random stream (spawned from the seed),
    so the output does not depend on how many threads run them.

    **Burn-in** (iterations 1 … ``burn_in``): stochastic EM (γ_t = 1) on the
    Rao-Blackwellised statistics.  π is weakly identified when M > n, so the EM map of π
    contracts very slowly (its rate is the fraction of missing information, close to 1): from a
    dense start the EM increment of log π is a percent per sweep or less.  During the burn-in
    the increment δ_t = log π_EM − log π_t is therefore multiplied by ω_t, which doubles while
    δ_t keeps its sign and is divided by four when it changes sign (a sign-adaptive step in
    the spirit of SQUAREM's extrapolation of the EM map, Varadhan & Roland 2008, Scand. J.
    Stat. 35:335, but robust to Monte-Carlo noise because only the sign of δ_t steers ω_t;
    the Rao-Blackwellised E[k] keeps that sign reliable), with |ω_t δ_t| ≤ log 4.  On the
    HS mice with 12 causal SNPs this takes a chain from π·M ≈ 5,500 to ≈ 12 in 40 sweeps,
    where plain stochastic EM is still at ≈ 3,000 after 200.

    **Comparison.** When chains disagree at the end of the burn-in, the log-likelihood of each
    chain's θ relative to the best is estimated by path sampling in both directions
    (:func:`compare_chains`); a chain more than ``move_threshold`` plus twice the uncertainty
    below the best is moved to the best chain's θ (keeping its own state and random stream).

    **SAEM** (after the burn-in; Delyon, Lavielle & Moulines 1999):
    Ŝ_t = Ŝ_{t−1} + (t − burn_in)^(−0.6)·(S_t − Ŝ_{t−1}), θ_t = M-step(Ŝ_t).

    **Convergence rule.** Every ``check_every`` iterations, once ``min_sa_iterations`` are done,
    R̂ (:func:`gelman_rubin`) of the per-sweep draws h²_t = B_t/(B_t + R_t/(n−c)) and
    π_t = k_t/M over the last half of the post-burn-in iterations.  The rule is met when both
    are below ``rhat_max``, or else when the chains' log-likelihoods all lie within
    :data:`LOGLIK_TOLERANCE` (= χ²₁,0.95/2 = 1.92) of the best, uncertainty included
    (compared at most every ``compare_every`` iterations).  The second branch is needed
    because the per-sweep draws measure Monte-Carlo spread, which for a weakly identified π
    (or for h² of a sparse trait, whose SE is several times the spread of the draws) is much
    smaller than the statistical uncertainty: chains that end at different π with equal
    likelihood are all inside the 95% profile-likelihood region and differ only in what the
    data cannot tell apart.  Then a final window of ``window`` iterations is run (it starts
    regardless when the cap would otherwise be reached); the fit is converged when the rule
    was met and still holds over the window.

    **Combination.** Converged: θ̂ = M-step of the mean SA statistics of all chains; PIPs,
    effects, the realised h² and Louis' statistics pooled over the window of every chain (the
    covariance of S within chains).  Not converged: the same over the chains within the
    tolerance of the best estimated log-likelihood.
    """
    from concurrent.futures import ThreadPoolExecutor

    settings = settings or McemSettings()
    m = data.n_snps
    n_df = data.n_samples - data.n_covariates
    if n_df < 2:
        raise ValueError("need at least two residual degrees of freedom")
    seeds = np.random.SeedSequence(settings.seed).spawn(len(settings.pi_starts) + 1)
    compare_rng = np.random.default_rng(seeds[-1])
    chains = [
        _Chain(c, data, y_projected, Params(sigma_e2, pi0, sigma_g2), seeds[c], settings)
        for c, pi0 in enumerate(settings.pi_starts)
    ]
    notes: list[str] = []
    extra_sweeps = 0
    rule = (
        f"R-hat of the per-sweep h2 and pi draws below {settings.rhat_max}, or all chains "
        f"within {LOGLIK_TOLERANCE:.2f} log-likelihood units of the best (path sampling), over "
        f"the last half of the post-burn-in iterations (checked every "
        f"{settings.check_every} iterations after {settings.min_sa_iterations}), and still so "
        f"over a final window of {settings.window} iterations"
    )
    workers = max(1, min(settings.threads, len(chains)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="herit-mcem")

    def run_all(iterations: int, in_window: bool) -> None:
        def work(chain: _Chain) -> None:
            for _ in range(iterations):
                chain.step(in_window)

        list(pool.map(work, chains))
        if progress is not None:
            rh2, rpi = _rhat_pair(chains, half=not in_window)
            mean = Params(
                *(
                    float(np.mean([getattr(c.params, f) for c in chains]))
                    for f in ("sigma_e2", "pi", "sigma_g2")
                )
            )
            info = {
                "h2": mean.h2,
                "pi": mean.pi,
                "pi_m": mean.pi * m,
                "rhat_h2": rh2,
                "rhat_pi": rpi,
            }
            progress(iterations * len(chains), info)

    def compare(when: str) -> bool:
        """Compare the chains' likelihoods; True when all are within the tolerance.

        An undecided comparison (within the tolerance only without its uncertainty) is
        repeated once with twice the nodes and twice the sweeps per node.
        """
        nonlocal extra_sweeps
        effort = 1
        while True:
            result, used = compare_chains(
                data,
                [c.state for c in chains],
                [c.params for c in chains],
                compare_rng,
                nodes=settings.path_nodes * effort,
                sweeps=settings.path_sweeps * effort,
                engine=settings.engine,
                pool=pool,
            )
            extra_sweeps += used
            agree = all(-d + u <= LOGLIK_TOLERANCE for d, u in result)
            undecided = not agree and all(-d <= LOGLIK_TOLERANCE for d, _ in result)
            if not undecided or effort > 1:
                break
            effort = 2
        for chain, value in zip(chains, result, strict=True):
            chain.loglik = value
        notes.append(
            f"log-likelihood relative to the best chain {when}: "
            + ", ".join(
                f"chain {c.index + 1} (pi*M {c.params.pi * m:.4g}, h2 {c.params.h2:.3f}) "
                f"{d:+.2f} +/- {u:.2f}"
                for c, (d, u) in zip(chains, result, strict=True)
            )
        )
        return agree

    try:
        done = 0
        while done < settings.burn_in:
            step = min(settings.check_every, settings.burn_in - done)
            run_all(step, in_window=False)
            done += step
        if len(chains) > 1 and _disagree(chains):
            compare("after the burn-in")
            best = next(c for c in chains if c.loglik is not None and c.loglik[0] == 0.0)
            for chain in chains:
                assert chain.loglik is not None
                deficit, uncertainty = -chain.loglik[0], chain.loglik[1]
                if deficit > settings.move_threshold + 2.0 * uncertainty:
                    chain.move_to(best.params)
                    notes.append(
                        f"chain {chain.index + 1} (pi start {chain.pi_start:g}) moved to the "
                        f"parameters of chain {best.index + 1}"
                    )
        rule_met = False
        by_likelihood = False
        last_compare = -settings.compare_every
        window = min(settings.window, settings.max_iterations - settings.burn_in)
        limit = settings.max_iterations - window
        while chains[0].iteration < limit:
            step = min(settings.check_every, limit - chains[0].iteration)
            run_all(step, in_window=False)
            iteration = chains[0].iteration
            if iteration - settings.burn_in < settings.min_sa_iterations:
                continue
            rh2, rpi = _rhat_pair(chains, half=True)
            if rh2 < settings.rhat_max and rpi < settings.rhat_max:
                rule_met = True
                break
            if len(chains) > 1 and iteration - last_compare >= settings.compare_every:
                last_compare = iteration
                if compare(f"at iteration {iteration}"):
                    rule_met = by_likelihood = True
                    break
        for chain in chains:
            chain.draws = []
        done = 0
        while done < window:
            step = min(settings.check_every, window - done)
            run_all(step, in_window=True)
            done += step
        rhat_h2, rhat_pi = _rhat_pair(chains, half=False)
        converged = rule_met and rhat_h2 < settings.rhat_max and rhat_pi < settings.rhat_max
        if rule_met and not converged and len(chains) > 1:
            by_likelihood = by_likelihood or compare("after the final window")
            converged = by_likelihood
        chosen = tuple(c.index for c in chains)
        if not converged and len(chains) > 1:
            compare("at the end (not converged)")
            chosen = tuple(
                c.index
                for c in chains
                if c.loglik is not None and -c.loglik[0] <= LOGLIK_TOLERANCE + c.loglik[1]
            )
            notes.append(
                "not converged: estimates from chain(s) " + ", ".join(str(c + 1) for c in chosen)
            )
        # Observed information at each chosen chain's θ, the chains in parallel.
        jobs = [(c, int(compare_rng.integers(0, 2**63))) for c in chosen]

        def information(job: tuple[int, int]) -> tuple[np.ndarray, int]:
            chain = chains[job[0]]
            return score_difference_information(
                data, chain.state, chain.params, job[1], engine=settings.engine
            )

        infos = list(pool.map(information, jobs))
        extra_sweeps += sum(n for _, n in infos)
    finally:
        pool.shutdown(wait=True)
    return _combine(
        chains,
        chosen,
        settings,
        converged,
        by_likelihood,
        rule,
        rhat_h2,
        rhat_pi,
        notes,
        extra_sweeps,
        [info for info, _ in infos],
    )


def _combine(
    chains: list[_Chain],
    chosen: tuple[int, ...],
    settings: McemSettings,
    converged: bool,
    by_likelihood: bool,
    rule: str,
    rhat_h2: float,
    rhat_pi: float,
    notes: list[str],
    extra_sweeps: int,
    infos: list[np.ndarray],
) -> McemFit:
    """Pool the chosen chains into one fit (estimates, SEs, PIPs, realised h²)."""
    data = chains[0].data
    m = data.n_snps
    n_df = data.n_samples - data.n_covariates
    picked = [chains[c] for c in chosen]
    params = m_step(np.mean([c.stats for c in picked], axis=0), n_df, m)
    if by_likelihood and len(picked) > 1:
        # The chains sit at different θ (equally supported): Louis at each chain's own θ with its
        # own window, then the mean of the standard errors.
        per_chain = [_louis_of(c, m_step(c.stats, n_df, m)) for c in picked]
        louis = _mean_louis(per_chain)
    else:
        louis = _louis_of_pooled(picked, params)
    information = np.mean(infos, axis=0)
    ses = standard_errors_phi(params, information)
    chain_h2_se = [
        standard_errors_phi(chains[c].params, info).h2
        for c, info in zip(chosen, infos, strict=True)
    ]
    if not ses.pi_identified:
        notes.append(
            "the observed information of pi is not positive: pi is weakly identified (the "
            "likelihood is flat in pi near the estimate) and its SE is not reported"
        )
    windows = sum(c.window_count for c in picked)
    realised = np.concatenate([np.asarray(c.window_realised) for c in picked])
    pis = [m_step(c.stats, n_df, m).pi for c in picked]
    trace: list[tuple[Any, ...]] = []
    for t in range(max(len(c.trace) for c in chains)):
        trace.extend(c.trace[t] for c in chains if t < len(c.trace))
    return McemFit(
        params=params,
        h2_se=ses.h2,
        pi_se=ses.pi,
        sigma_g2_se=ses.sigma_g2,
        sigma_e2_se=ses.sigma_e2,
        information=information,
        h2_se_chains=tuple(chain_h2_se),
        louis_h2_se=louis.h2_se,
        louis_pi_se=louis.pi_se,
        missing_information={
            "sigma_e2": float(louis.missing_fraction[0]),
            "pi": float(louis.missing_fraction[1]),
            "sigma_g2": float(louis.missing_fraction[2]),
        },
        pi_identified=ses.pi_identified,
        converged_by="likelihood" if by_likelihood else ("rhat" if converged else ""),
        pi_range=(min(pis), max(pis)),
        h2_realised=float(realised.mean()),
        h2_realised_sd=float(realised.std(ddof=1)) if realised.size > 1 else float("nan"),
        h2_realised_interval=(
            float(np.quantile(realised, 0.025)),
            float(np.quantile(realised, 0.975)),
        ),
        pip=sum((c.pip_sum for c in picked), np.zeros(m)) / windows,
        beta_mean=sum((c.beta_sum for c in picked), np.zeros(m)) / windows,
        iterations=chains[0].iteration,
        burn_in=settings.burn_in,
        converged=converged,
        convergence_rule=rule,
        rhat_h2=rhat_h2,
        rhat_pi=rhat_pi,
        chains=[
            ChainSummary(
                pi_start=c.pi_start,
                params=m_step(c.stats, n_df, m),
                params_burn_in=c.params_burn_in,
                loglik_delta=None if c.loglik is None else c.loglik[0],
                loglik_uncertainty=None if c.loglik is None else c.loglik[1],
                moved=c.moved,
            )
            for c in chains
        ],
        chosen_chains=chosen,
        trace=trace,
        trace_columns=TRACE_COLUMNS,
        sweeps=sum(c.sweeps for c in chains) + extra_sweeps,
        notes=tuple(notes),
    )


def _louis_of(chain: _Chain, params: Params) -> LouisResult:
    return _louis_of_pooled([chain], params)


def _louis_of_pooled(chains: list[_Chain], params: Params) -> LouisResult:
    """Louis' SEs at θ̂ from the window statistics (covariance within chains, pooled)."""
    data = chains[0].data
    n_df = data.n_samples - data.n_covariates
    stats = np.concatenate([np.asarray(c.window_stats).reshape(-1, 3) for c in chains])
    scatter = np.zeros((3, 3))
    for chain in chains:
        scatter += chain.window_covariance()[0]
    cov = scatter / max(stats.shape[0] - len(chains), 1)
    return louis_standard_errors(params, stats.mean(axis=0), cov, n_df, data.n_snps)


def _mean_louis(results: list[LouisResult]) -> LouisResult:
    """Average standard errors over chains (NaN when no chain has a finite value)."""

    def mean(values: list[float]) -> float:
        finite = [v for v in values if math.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")

    identified = all(r.pi_identified for r in results)
    return LouisResult(
        information=np.mean([r.information for r in results], axis=0),
        covariance=None,
        h2_se=mean([r.h2_se for r in results]),
        pi_se=mean([r.pi_se for r in results]) if identified else float("nan"),
        sigma_g2_se=mean([r.sigma_g2_se for r in results]),
        sigma_e2_se=mean([r.sigma_e2_se for r in results]),
        missing_fraction=np.mean([r.missing_fraction for r in results], axis=0),
        pi_identified=identified,
    )


def _rhat_pair(chains: list[_Chain], *, half: bool) -> tuple[float, float]:
    n = min(len(c.draws) for c in chains)
    if n < 8:
        return float("nan"), float("nan")
    start = n // 2 if half else 0
    draws = np.array([c.draws[len(c.draws) - n + start :] for c in chains])
    return gelman_rubin(draws[:, :, 0]), gelman_rubin(draws[:, :, 1])


def _disagree(chains: list[_Chain]) -> bool:
    """Whether the chains' parameters differ by more than a small tolerance."""
    logit = [math.log(c.params.pi) - math.log1p(-c.params.pi) for c in chains]
    h2 = [c.params.h2 for c in chains]
    return max(logit) - min(logit) > 0.5 or max(h2) - min(h2) > 0.05


__all__ = [
    "DEFAULT_PI_STARTS",
    "LOGLIK_TOLERANCE",
    "ChainSummary",
    "LouisResult",
    "McemFit",
    "McemSettings",
    "Params",
    "StandardErrors",
    "SweepData",
    "SweepDraws",
    "SweepResult",
    "SweepState",
    "collapsed_log_odds",
    "compare_chains",
    "complete_hessian",
    "complete_loglik",
    "dispersed_pi_starts",
    "fit_spike_slab",
    "gelman_rubin",
    "gibbs_sweep",
    "loglik_gradient_phi",
    "louis_standard_errors",
    "m_step",
    "path_loglik_difference",
    "prepare_sweep_data",
    "resolve_engine",
    "score_difference_information",
    "score_matrix",
    "standard_errors_phi",
]
