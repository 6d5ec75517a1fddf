"""Spectral REML/ML for the one-GRM linear mixed model (numpy/scipy only).

The caller decomposes the GRM once, ``K = U diag(d) Uᵀ``, and passes the eigenvalues ``d``, the
rotated phenotype(s) ``ỹ = Uᵀy`` and the rotated covariates ``X̃ = UᵀX``. In rotated coordinates
the observations are independent, so every likelihood evaluation costs O(n·c²) and fitting one
more phenotype against the same decomposition costs almost nothing.

Public functions
----------------
fit_spectral
    Fit one trait: ĥ², variance components, standard errors, LRT against h² = 0, fixed effects,
    a profile-likelihood interval for h².
fit_spectral_many
    The same for the columns of a phenotype matrix, sharing all trait-independent work.
loglik
    The profiled log-likelihood ℓ(h²) (the quantity that is maximised and reported).
profile
    Everything profiled at one h²: ℓ, σ̂p², β̂ (used by tests and by callers that need a point).

Notes
-----
**Model.** y = Xβ + g + e with g ~ N(0, σg²K), e ~ N(0, σe²I), so
V = σg²K + σe²I = σp²·(h²K + (1−h²)I) with σp² = σg² + σe² and h² = σg²/σp². After rotation
Var(ỹ) = σp²·W with W = diag(w), w_i = h²(d_i − 1) + 1.

**Profiling.** For fixed h², with C = X̃ᵀW⁻¹X̃, β̂ = C⁻¹X̃ᵀW⁻¹ỹ and
Q = (ỹ − X̃β̂)ᵀW⁻¹(ỹ − X̃β̂), the maximising σp² is Q/df for REML (df = n − c) and Q/n for ML.
Substituting gives the profiled log-likelihoods that herit maximises and reports::

    ℓ_REML(h²) = −½[df·(log 2π + 1 + log(Q/df)) + Σ log w_i + log|C| − log|XᵀX|]
    ℓ_ML(h²)   = −½[n·(log 2π + 1 + log(Q/n)) + Σ log w_i]

**Which constants the reported logL includes.** ``logl``/``logl0`` are *exactly* the expressions
above, i.e. the complete Gaussian (restricted) log-density including −½·df·log 2π (ML: −½·n·log 2π)
and, for REML, the +½·log|XᵀX| term of Harville's restricted likelihood (the density of the error
contrasts AᵀY with AᵀA = I, AAᵀ = I − X(XᵀX)⁻¹Xᵀ, whose log-density is
−½[df·log 2π + log|V| + log|XᵀV⁻¹X| − log|XᵀX| + yᵀPy]). The profiled value does not change
when W is multiplied by a constant, so it is the same under any parameterisation of the variance
ratio (e.g. GEMMA's λ = σg²/σe² with H = λK + I, FaST-LMM's δ = σe²/σg² with K + δI), and the
maximum over h² ∈ [0, 1] does not depend on the scale of K. Therefore:

* GEMMA (``-lmm``/``-vc`` null model): ``REMLE log-likelihood`` and ``MLE log-likelihood`` are the
  same quantities (GEMMA's ``LogRL_f`` = ½df(log df − log 2π − 1) − ½log|H| − ½(log|XᵀH⁻¹X| −
  log|XᵀX|) − ½df·log(yᵀPy); ``LogL_f`` the ML analogue with n). Equal when the optimum is interior
  to GEMMA's λ range [1e-5, 1e5] (a boundary optimum can differ slightly).
* FaST-LMM (``nLLeval``, V = σ²(K + δI)): its REML and ML negative log-likelihoods are −ℓ at
  h² = 1/(1 + δ) when K is passed unscaled; its σ² equals σ̂p²·h² (= σ̂g² here) and σ²δ = σ̂e².
* GCTA (``.hsq`` ``logL`` and ``logL0``) prints −½[log|V| + log|XᵀV⁻¹X| + yᵀPy], i.e. it drops
  the 2π term and the log|XᵀX| term::

      logL_GCTA = ℓ_REML + ½·df·log 2π − ½·log|XᵀX|

  The shift is the same for ``logL`` and ``logL0`` (same X, same df), so LRT and p-values agree.

**Derivatives.** With a_i = 1/w_i, e_i = d_i − 1 and r = ỹ − X̃β̂ (the envelope theorem removes
dβ̂/dh² from Q′)::

    Q′ = −Σ e a² r²,   Q″ = 2Σ e² a³ r² − 2gᵀC⁻¹g,   g = X̃ᵀ(e a² r)
    (Σ log w)′ = Σ e a,   (Σ log w)″ = −Σ e² a²
    (log|C|)′ = −tr(C⁻¹C₁),  (log|C|)″ = −tr(C⁻¹C₁C⁻¹C₁) + 2tr(C⁻¹C₂),
    C₁ = X̃ᵀdiag(e a²)X̃,  C₂ = X̃ᵀdiag(e² a³)X̃.

**Optimiser.** A coarse grid over the allowed range (spacing ≤ 0.05, both ends and 0 included),
then a safeguarded Newton iteration on ℓ′ = 0 inside the bracket around the best grid point,
started at the vertex of the parabola through the three grid values (bisection whenever the Newton
step leaves the bracket or ℓ″ ≥ 0). It stops at |Δh²| < 1e-10, or after a Newton step below 1e-7,
whose successor would be O(1e-14) by quadratic convergence. Brent's bounded method
(``scipy.optimize.minimize_scalar``, xatol 1e-10) is the fallback if Newton fails or ends below
the best grid value. A boundary optimum is accepted when the best grid point is an end of the
range and ℓ′ points out of the range there.

**Allowed range.** ``constrain=True``: h² ∈ [0, 1]. ``constrain=False`` (GCTA
``--reml-no-constrain``): any h² with V positive definite, (−1/(d_max − 1), 1/(1 − d_min)). Either
range is intersected with {h² : min_i w_i ≥ 1e-6}, so when the GRM is singular (d_min ≈ 0, as for
any GRM of centred genotypes) the upper end is 1 − 1e-6 rather than 1. A side without a
positivity limit (d_max ≤ 1 or d_min ≥ 1, impossible for a GRM with mean diagonal 1) is capped at
±1e4.

**ML with a singular GRM.** If the null space of K lies in the column space of X (the usual case:
a GRM of centred genotypes has K·1 = 0, and X holds an intercept), ℓ_ML(h²) → +∞ like
−½·log(1 − h²) as h² → 1, because the GLS fit makes the residual in those directions vanish while
their variance σp²(1 − h²) goes to 0. REML is unaffected (log|C| cancels the divergence). The ML
optimum is then reported at the upper end 1 − 1e-6 (``boundary == "upper"`` with
``h2_range[1] < 1``) whenever that spurious boundary value exceeds the interior maximum, which
happens for small n or ĥ² near 1. GEMMA behaves the same way at its λ cap of 1e5; prefer REML.

**Standard errors.** Expected (Fisher) information for θ = (σg², σe²), V_g = K, V_e = I:
REML I_ab = ½tr(PV_aPV_b), P = V⁻¹ − V⁻¹X(XᵀV⁻¹X)⁻¹XᵀV⁻¹; ML I_ab = ½tr(V⁻¹V_aV⁻¹V_b). In rotated
coordinates, with P̃ = W⁻¹ − W⁻¹X̃C⁻¹X̃ᵀW⁻¹ = σp²P and diagonal D_a (D_g = diag(d), D_e = I)::

    tr(P̃D_aP̃D_b) = Σ a² d_a d_b − 2tr(C⁻¹X̃ᵀdiag(a³d_a d_b)X̃) + tr(C⁻¹M_aC⁻¹M_b),
    M_a = X̃ᵀdiag(a²d_a)X̃,

O(n·c²). ``cov_vc`` = I⁻¹; SE(Vp) from var(σg²) + var(σe²) + 2cov; SE(h²) by the delta method with
gradient (σe², −σg²)/σp⁴, which equals GCTA's
var(h²) = h⁴[var(Vg)/Vg² + var(Vp)/Vp² − 2cov(Vg,Vp)/(Vg·Vp)] and stays finite at σg² = 0. GCTA
itself inverts the *average* information ½yᵀPV_aPV_bPy, whose expectation is the matrix used here;
the two differ by O(n^-1/2) relative. β̂ has covariance σ̂p²C⁻¹.

**Test against h² = 0.** LRT = max(0, 2(ℓ(ĥ²) − ℓ(0))) with the same method, p = ½·P(χ²₁ > LRT)
(the 50:50 χ²₀/χ²₁ mixture for a variance on its boundary, as GCTA reports).

**Profile interval.** The 95% interval is {h² : 2(ℓ(ĥ²) − ℓ(h²)) ≤ χ²₁,₀.₉₅ = 3.8415} within the
allowed range: on each side the innermost crossing (bracketed on the grid, refined by safeguarded
Newton on ℓ(h²) − ℓmax + 1.92 to ~1e-12), or the end of the range if ℓ does not drop far enough
before it. Unlike ĥ² ± 1.96·SE it respects the range and the asymmetry of ℓ near a boundary.

References
----------
Yang J, Lee SH, Goddard ME, Visscher PM (2011). GCTA: a tool for genome-wide complex trait
analysis. Am J Hum Genet 88:76-82.
Kang HM, Zaitlen NA, Wade CM, et al. (2008). Efficient control of population structure in model
organism association mapping (EMMA). Genetics 178:1709-1723.
Lippert C, Listgarten J, Liu Y, et al. (2011). FaST linear mixed models for genome-wide
association studies. Nat Methods 8:833-835.
Zhou X, Stephens M (2012). Genome-wide efficient mixed-model analysis for association studies
(GEMMA). Nat Genet 44:821-824.
Harville DA (1974). Bayesian inference for variance components using only error contrasts.
Biometrika 61:383-385.
Self SG, Liang KY (1987). Asymptotic properties of maximum likelihood estimators and likelihood
ratio tests under nonstandard conditions. J Am Stat Assoc 82:605-610.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy import special
from scipy.linalg import lapack

from heritcli.errors import DataError

__all__ = [
    "CHI2_1_95",
    "ProfilePoint",
    "RemlFit",
    "allowed_range",
    "fit_spectral",
    "fit_spectral_many",
    "loglik",
    "profile",
]

LOG_2PI = math.log(2.0 * math.pi)
#: 95% quantile of χ²₁ (scipy.stats.chi2.ppf(0.95, 1)); the profile interval drops ℓ by half this.
CHI2_1_95 = 3.841458820694124

_METHODS = ("reml", "ml")
#: Smallest rotated variance factor w_i allowed; keeps V safely positive definite.
_W_FLOOR = 1e-6
#: Cap for a side of the unconstrained range that has no positivity limit.
_H_CAP = 1e4
_NEWTON_TOL = 1e-10
#: A Newton step this small is accepted without another evaluation (the next one would be O(1e-14)).
_NEWTON_ACCEPT = 1e-7
_NEWTON_MAXITER = 100
#: Relative tolerance on the singular values of the column-normalised covariate matrix.
_COLLINEAR_TOL = 1e-8
#: Residual sum of squares below this fraction of ỹᵀỹ means "constant after covariates".
_CONSTANT_TOL = 1e-20


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ProfilePoint:
    """The model profiled at one fixed h².

    Attributes
    ----------
    h2 : float
        The h² at which everything is evaluated.
    logl : float
        Profiled log-likelihood ℓ(h²) (constants as documented in the module Notes).
    vp : float
        σ̂p² = Q/df (REML) or Q/n (ML).
    vg, ve : float
        σ̂p²·h² and σ̂p²·(1 − h²).
    q : float
        Weighted residual sum of squares Q = (ỹ − X̃β̂)ᵀW⁻¹(ỹ − X̃β̂).
    beta : numpy.ndarray
        GLS estimate β̂ (c,), in the parameterisation of the supplied covariates.
    method : str
        ``"reml"`` or ``"ml"``.
    """

    h2: float
    logl: float
    vp: float
    vg: float
    ve: float
    q: float
    beta: np.ndarray
    method: str


@dataclass(frozen=True, eq=False)
class RemlFit:
    """Result of a spectral REML/ML fit of one trait.

    Attributes
    ----------
    h2, vg, ve, vp : float
        ĥ² = V(G)/Vp, σ̂g² = V(G), σ̂e² = V(e), σ̂p² = Vp (GCTA's names in parentheses).
    h2_se, vg_se, ve_se, vp_se : float or None
        Standard errors from the inverse expected information (None only if it is singular).
    cov_vc : numpy.ndarray or None
        2×2 sampling covariance of (σ̂g², σ̂e²).
    logl, logl0 : float
        Profiled log-likelihood at ĥ² and at h² = 0 (same method, same constants; see the module
        Notes for how they relate to GCTA's and GEMMA's printed values).
    lrt : float
        max(0, 2·(logl − logl0)).
    pval : float
        ½·P(χ²₁ > lrt).
    df_lrt : int
        Degrees of freedom of the LRT (1).
    n : int
        Number of samples.
    n_covariates : int
        Number of columns of X (intercept included).
    beta, beta_se : numpy.ndarray
        β̂ (c,) and its standard errors.
    beta_cov : numpy.ndarray
        σ̂p²·C⁻¹ (c, c).
    h2_ci : tuple of float
        Boundary-aware 95% profile-likelihood interval for h².
    boundary : str or None
        ``"lower"`` / ``"upper"`` when ĥ² is at that end of the allowed range, else None.
    method : str
        ``"reml"`` or ``"ml"``.
    converged : bool
        Whether the optimiser met its tolerance.
    iterations : int
        Newton iterations plus Brent function evaluations (0 for a boundary optimum).
    h2_range : tuple of float
        The allowed range that was searched.
    """

    h2: float
    vg: float
    ve: float
    vp: float
    h2_se: float | None
    vg_se: float | None
    ve_se: float | None
    vp_se: float | None
    cov_vc: np.ndarray | None
    logl: float
    logl0: float
    lrt: float
    pval: float
    df_lrt: int
    n: int
    n_covariates: int
    beta: np.ndarray
    beta_se: np.ndarray
    beta_cov: np.ndarray
    h2_ci: tuple[float, float]
    boundary: str | None
    method: str
    converged: bool
    iterations: int
    h2_range: tuple[float, float] = (0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """Return the fit as plain Python types (JSON-ready; None where not estimable)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: Any) -> Any:
    """Convert numpy scalars/arrays to Python floats/lists, mapping non-finite floats to None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, (np.ndarray, list, tuple)):
        return [_plain(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    return value


# --------------------------------------------------------------------------------------------
# Spectral model: everything that depends on (d, X̃, method, range) but not on the phenotype
# --------------------------------------------------------------------------------------------


def allowed_range(eigenvalues: np.ndarray, *, constrain: bool = True) -> tuple[float, float]:
    """Range of h² searched by the optimiser.

    Parameters
    ----------
    eigenvalues : array_like, shape (n,)
        Eigenvalues of the GRM.
    constrain : bool
        True for h² ∈ [0, 1]; False for every h² keeping V positive definite.

    Returns
    -------
    (lo, hi) : tuple of float
        The allowed range, always intersected with {h² : min_i w_i ≥ 1e-6}.

    Notes
    -----
    w_i(h²) = 1 + h²(d_i − 1) is linear in h², so positivity of all w_i holds on the interval
    (−1/(d_max − 1), 1/(1 − d_min)); each end is pulled in so that min w_i = 1e-6 there, and an
    end without a limit (d_max ≤ 1 or d_min ≥ 1) is capped at ±1e4.
    """
    d = np.asarray(eigenvalues, dtype=float)
    d_min, d_max = float(d.min()), float(d.max())
    hi_pos = (1.0 - _W_FLOOR) / (1.0 - d_min) if d_min < 1.0 else math.inf
    lo_pos = -(1.0 - _W_FLOOR) / (d_max - 1.0) if d_max > 1.0 else -math.inf
    if constrain:
        return 0.0, min(1.0, hi_pos)
    return max(lo_pos, -_H_CAP), min(hi_pos, _H_CAP)


def _make_grid(lo: float, hi: float) -> np.ndarray:
    """Coarse search grid: spacing ≤ 0.05 on [max(lo,−1), min(hi,2)], geometric beyond, plus 0."""
    core_lo, core_hi = max(lo, -1.0), min(hi, 2.0)
    n_core = max(21, math.ceil(20.0 * (core_hi - core_lo)) + 1)
    parts = [np.linspace(core_lo, core_hi, n_core), np.array([0.0, lo, hi])]
    if lo < core_lo:
        parts.append(-np.geomspace(-core_lo, -lo, 10))
    if hi > core_hi:
        parts.append(np.geomspace(core_hi, hi, 10))
    grid = np.unique(np.concatenate(parts))
    return grid[(grid >= lo) & (grid <= hi)]


class _SpectralModel:
    """Trait-independent part of the problem: eigenvalues, covariate basis, range and grid.

    The covariates are replaced by an orthonormal basis B of their column space (X̃ = B·T); the
    likelihood depends on X only through that space and through log|XᵀX|, and C = BᵀW⁻¹B has
    condition number at most max w / min w, so the normal equations stay accurate even for badly
    scaled covariates. β̂ and its covariance are mapped back with T⁻¹.

    Every weighted Gram matrix BᵀDB is read off one product with the packed outer products
    P_i = vech(B_i B_iᵀ) (n × c(c+1)/2, built once), so an evaluation is a handful of BLAS calls.
    The grid's C⁻¹, log|C| and Σ log w are computed once and shared by all traits.
    """

    def __init__(
        self,
        eigenvalues: Any,
        x_rot: Any,
        *,
        method: str = "reml",
        constrain: bool = True,
        xtx_logdet: float | None = None,
    ) -> None:
        if method not in _METHODS:
            raise ValueError(f"method must be 'reml' or 'ml', not {method!r}")
        d = np.asarray(eigenvalues, dtype=float)
        if d.ndim != 1 or d.size == 0:
            raise ValueError("eigenvalues must be a non-empty 1-D array")
        if not np.all(np.isfinite(d)):
            raise DataError("GRM eigenvalues contain non-finite values (NaN or inf)")
        n = d.size
        x = np.asarray(x_rot, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[0] != n:
            raise ValueError(
                f"x_rot must have shape (n, c) with n = {n} rows, got {np.shape(x_rot)}"
            )
        if not np.all(np.isfinite(x)):
            raise DataError("covariates contain non-finite values (NaN or inf)")
        c = x.shape[1]
        df = n - c
        if df <= 0:
            raise DataError(
                f"no residual degrees of freedom: {n} samples and {c} covariates "
                "(need more samples than covariates)"
            )
        spread = float(d.max() - d.min())
        if spread <= 1e-12 * max(1.0, float(np.abs(d).max())):
            raise DataError(
                "all GRM eigenvalues are equal, so h² is not identifiable (GRM ∝ identity)"
            )

        if c > 0:
            norms = np.sqrt(np.einsum("ij,ij->j", x, x))
            zero = np.flatnonzero(norms == 0.0)
            if zero.size:
                raise DataError(f"covariate column {int(zero[0]) + 1} is all zero")
            u, s, vt = np.linalg.svd(x / norms, full_matrices=False)
            if s[-1] <= _COLLINEAR_TOL * s[0]:
                raise DataError(
                    "covariates are collinear (the covariate matrix X is singular)",
                    hint="remove redundant covariate columns or categories",
                )
            basis = np.ascontiguousarray(u)
            # X̃ = B·T with T = diag(s)·Vᵀ·diag(norms); β_X = T⁻¹β_B.
            t_inv = (vt.T / s) / norms[:, None]
            own_logdet = 2.0 * float(np.sum(np.log(s)) + np.sum(np.log(norms)))
        else:
            basis = np.zeros((n, 0))
            t_inv = np.zeros((0, 0))
            own_logdet = 0.0

        self.n, self.c, self.df = n, c, df
        self.method = method
        self.constrain = constrain
        self.d = d
        self.e = d - 1.0
        self.basis = basis
        self.t_inv = t_inv
        # log|X̃ᵀW⁻¹X̃| = log|BᵀW⁻¹B| + log|X̃ᵀX̃|, so ℓ_REML needs log|BᵀW⁻¹B| + this shift, which
        # is 0 unless the caller's log|XᵀX| differs from log|X̃ᵀX̃| (U not square).
        self.xtx_logdet = own_logdet if xtx_logdet is None else float(xtx_logdet)
        self._logdet_shift = own_logdet - self.xtx_logdet
        self.lo, self.hi = allowed_range(d, constrain=constrain)
        self._eye = np.eye(c)
        self._iu = np.triu_indices(c)
        # Packed outer products, stored transposed: row k holds B[:, i_k]·B[:, j_k] for the k-th
        # upper-triangle pair (i_k, j_k) in np.triu_indices order. Built row block by row block
        # (fancy indexing of the whole thing is ten times slower).
        basis_t = np.ascontiguousarray(basis.T)
        self._packed_t = np.empty((c * (c + 1) // 2, n))  # (c(c+1)/2, n)
        start = 0
        for i in range(c):
            np.multiply(basis_t[i], basis_t[i:], out=self._packed_t[start : start + c - i])
            start += c - i
        self._packed = self._packed_t.T

        # Grid quantities shared by every trait.
        self.grid = _make_grid(self.lo, self.hi)
        grid_w = 1.0 + np.outer(self.e, self.grid)  # (n, G)
        self.grid_a = 1.0 / grid_w
        self.grid_sum_log_w = np.sum(np.log(grid_w), axis=0)
        cmats = self._unpack((self._packed_t @ self.grid_a).T)  # (G, c, c)
        chol = np.linalg.cholesky(cmats)
        self.grid_logdet_c = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
        self.grid_c_inv = np.linalg.inv(cmats)

    # ---- pieces shared by all evaluations ------------------------------------------------

    def _unpack(self, packed: np.ndarray) -> np.ndarray:
        """Symmetric (…, c, c) matrices from their packed upper triangles (…, c(c+1)/2)."""
        i, j = self._iu
        out = np.empty((*packed.shape[:-1], self.c, self.c))
        out[..., i, j] = packed
        out[..., j, i] = packed
        return out

    def _weights(self, h2: float) -> np.ndarray:
        w = 1.0 + h2 * self.e
        if not np.all(w > 0.0):
            raise ValueError(f"h2 = {h2!r} makes V not positive definite for these eigenvalues")
        return w

    def _assemble(self, q: Any, sum_log_w: Any, logdet_c: Any) -> Any:
        """Profiled log-likelihood from Q, Σ log w and log|BᵀW⁻¹B| (broadcasts over arrays)."""
        if self.method == "reml":
            df = self.df
            return -0.5 * (
                df * (LOG_2PI + 1.0 + np.log(q / df)) + sum_log_w + logdet_c + self._logdet_shift
            )
        n = self.n
        return -0.5 * (n * (LOG_2PI + 1.0 + np.log(q / n)) + sum_log_w)

    def _scale_df(self) -> int:
        return self.df if self.method == "reml" else self.n

    # ---- evaluations ------------------------------------------------------------------------

    def grid_loglik(self, y: np.ndarray) -> np.ndarray:
        """ℓ at every grid point for one trait (vectorised over the grid)."""
        b = self.basis
        ay = self.grid_a * y[:, None]  # (n, G)
        coef = np.einsum("gij,jg->ig", self.grid_c_inv, b.T @ ay)  # (c, G)
        resid = y[:, None] - b @ coef
        q = np.einsum("ig,ig->g", resid * self.grid_a, resid)
        return np.asarray(self._assemble(q, self.grid_sum_log_w, self.grid_logdet_c))

    def evaluate(self, h2: float, y: np.ndarray, order: int = 0) -> tuple[float, float, float]:
        """ℓ(h²) and, up to ``order`` (0, 1 or 2), ℓ′ and ℓ″ (module Notes give the formulas).

        Derivatives not requested are returned as NaN (internal use only).
        """
        e, b = self.e, self.basis
        w = self._weights(h2)
        a = 1.0 / w
        if order == 0:
            cmat = self._unpack(self._packed_t @ a)
        else:
            ea = e * a
            ea2 = ea * a
            wts = [a, ea2] if order == 1 else [a, ea2, ea * ea2]
            grams = self._unpack(np.stack(wts) @ self._packed)
            cmat = grams[0]
        chol = _cholesky(cmat)
        beta = _chol_solve(chol, b.T @ (a * y))
        r = y - b @ beta
        ar = a * r
        q = float(ar @ r)
        logdet_c = 2.0 * float(np.sum(np.log(np.diag(chol))))
        sum_log_w = float(np.sum(np.log(w)))
        ll = float(self._assemble(q, sum_log_w, logdet_c))
        if order == 0:
            return ll, math.nan, math.nan

        reml = self.method == "reml"
        m = self._scale_df()
        ea2r = ea2 * r
        q1 = -float(ea2r @ r)
        s1 = float(np.sum(ea))
        c_inv = _chol_solve(chol, self._eye)
        c1 = grams[1]
        tr1 = float(np.sum(c_inv * c1)) if reml else 0.0
        d1 = -0.5 * (m * q1 / q + s1 - tr1)
        if order == 1:
            return ll, d1, math.nan

        g = b.T @ ea2r
        q2 = 2.0 * float((ea * ea2r) @ r) - 2.0 * float(g @ c_inv @ g)
        s2 = float(ea @ ea)
        d2q = q2 / q - (q1 / q) ** 2
        if reml:
            mc = c_inv @ c1
            tr11 = float(np.sum(mc * mc.T))
            tr2 = float(np.sum(c_inv * grams[2]))
            d2 = -0.5 * (m * d2q - s2 - tr11 + 2.0 * tr2)
        else:
            d2 = -0.5 * (m * d2q - s2)
        return ll, d1, d2

    def loglik1(self, h2: float, y: np.ndarray) -> float:
        """ℓ(h²) for one trait."""
        return self.evaluate(h2, y, 0)[0]

    def profile(self, h2: float, y: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
        """ℓ, σ̂p², β̂ and C_X⁻¹ (covariance of β̂ is σ̂p²·C_X⁻¹), in the caller's X basis."""
        b = self.basis
        w = self._weights(h2)
        a = 1.0 / w
        chol = _cholesky(self._unpack(self._packed_t @ a))
        c_inv = _chol_solve(chol, self._eye)
        beta_b = _chol_solve(chol, b.T @ (a * y))  # same arithmetic as evaluate(order=0)
        r = y - b @ beta_b
        q = float((a * r) @ r)
        logdet_c = 2.0 * float(np.sum(np.log(np.diag(chol))))
        ll = float(self._assemble(q, float(np.sum(np.log(w))), logdet_c))
        vp = q / self._scale_df()
        beta = self.t_inv @ beta_b
        cx_inv = self.t_inv @ c_inv @ self.t_inv.T
        return ll, vp, beta, cx_inv

    def information(self, h2: float, vp: float) -> np.ndarray:
        """Expected information for (σg², σe²) at h², σp² (REML or ML per the model)."""
        d, c = self.d, self.c
        a = 1.0 / self._weights(h2)
        a2 = a * a
        t1 = np.array([[a2 @ (d * d), a2 @ d], [a2 @ d, float(np.sum(a2))]])
        if self.method == "ml" or c == 0:
            tr = t1
        else:
            a3 = a2 * a
            wts = np.stack((a, a3 * d * d, a3 * d, a3, a2 * d, a2))
            grams = self._unpack(wts @ self._packed)
            c_inv = _chol_solve(_cholesky(grams[0]), self._eye)
            g_gg, g_ge, g_ee, m_g, m_e = grams[1:]
            t2 = np.array(
                [
                    [np.sum(c_inv * g_gg), np.sum(c_inv * g_ge)],
                    [np.sum(c_inv * g_ge), np.sum(c_inv * g_ee)],
                ]
            )
            pg, pe = c_inv @ m_g, c_inv @ m_e
            t3 = np.array(
                [
                    [np.sum(pg * pg.T), np.sum(pg * pe.T)],
                    [np.sum(pe * pg.T), np.sum(pe * pe.T)],
                ]
            )
            tr = t1 - 2.0 * t2 + t3
        info = 0.5 * tr / (vp * vp)
        return 0.5 * (info + info.T)

    # ---- fitting ----------------------------------------------------------------------------

    def check_trait(self, y: np.ndarray, label: str) -> None:
        """Raise DataError if the phenotype is constant after removing the covariates."""
        # The ordinary residual sum of squares (h² = 0); Q(h²) ≥ min_i(1/w_i)·RSS > 0 elsewhere.
        yy = float(y @ y)
        r = y - self.basis @ (self.basis.T @ y)
        rss = float(r @ r)
        if yy == 0.0 or rss <= _CONSTANT_TOL * yy:
            raise DataError(f"{label} is constant after removing covariates")

    def fit(self, y: np.ndarray, grid_ll: np.ndarray) -> RemlFit:
        """Fit one trait given its log-likelihood on the grid."""
        h_hat, converged, iterations = self._maximise(y, grid_ll)
        boundary: str | None = None
        if h_hat <= self.lo:
            h_hat, boundary = self.lo, "lower"
        elif h_hat >= self.hi:
            h_hat, boundary = self.hi, "upper"

        ll_hat, vp, beta, cx_inv = self.profile(h_hat, y)
        # Same code path as ll_hat, so a fit at h² = 0 gives LRT = 0 exactly.
        ll0 = ll_hat if h_hat == 0.0 else self.loglik1(0.0, y)
        lrt = max(0.0, 2.0 * (ll_hat - ll0))
        pval = float(0.5 * special.chdtrc(1, lrt))  # ½·P(χ²₁ > LRT), as scipy.stats.chi2.sf

        vg, ve = h_hat * vp, (1.0 - h_hat) * vp
        cov_vc: np.ndarray | None
        try:
            cov_vc = np.linalg.inv(self.information(h_hat, vp))
            if not (np.all(np.isfinite(cov_vc)) and cov_vc[0, 0] > 0 and cov_vc[1, 1] > 0):
                cov_vc = None
        except np.linalg.LinAlgError:
            cov_vc = None
        if cov_vc is not None:
            cov_vc = 0.5 * (cov_vc + cov_vc.T)
            vg_se = math.sqrt(cov_vc[0, 0])
            ve_se = math.sqrt(cov_vc[1, 1])
            vp_se = math.sqrt(max(0.0, float(cov_vc.sum())))
            grad = np.array([ve, -vg]) / (vp * vp)
            h2_se: float | None = math.sqrt(max(0.0, float(grad @ cov_vc @ grad)))
        else:
            vg_se = ve_se = vp_se = h2_se = None  # type: ignore[assignment]

        beta_cov = vp * cx_inv
        beta_cov = 0.5 * (beta_cov + beta_cov.T)
        beta_se = np.sqrt(np.clip(np.diag(beta_cov), 0.0, None))
        ci = self._profile_ci(y, grid_ll, h_hat, ll_hat)

        return RemlFit(
            h2=float(h_hat),
            vg=float(vg),
            ve=float(ve),
            vp=float(vp),
            h2_se=h2_se,
            vg_se=vg_se,
            ve_se=ve_se,
            vp_se=vp_se,
            cov_vc=cov_vc,
            logl=float(ll_hat),
            logl0=ll0,
            lrt=float(lrt),
            pval=pval,
            df_lrt=1,
            n=self.n,
            n_covariates=self.c,
            beta=beta,
            beta_se=beta_se,
            beta_cov=beta_cov,
            h2_ci=ci,
            boundary=boundary,
            method=self.method,
            converged=bool(converged),
            iterations=int(iterations),
            h2_range=(float(self.lo), float(self.hi)),
        )

    def _maximise(self, y: np.ndarray, grid_ll: np.ndarray) -> tuple[float, bool, int]:
        """Grid → bracket → safeguarded Newton (Brent fallback). Returns (ĥ², ok, iterations)."""
        grid = self.grid
        k = int(np.argmax(grid_ll))
        best_ll = float(grid_ll[k])
        last = grid.size - 1

        if k == 0:
            if self.evaluate(float(grid[0]), y, 1)[1] <= 0.0:
                return float(grid[0]), True, 0
            a, b, x0 = float(grid[0]), float(grid[1]), float(grid[0])
        elif k == last:
            if self.evaluate(float(grid[last]), y, 1)[1] >= 0.0:
                return float(grid[last]), True, 0
            a, b, x0 = float(grid[last - 1]), float(grid[last]), float(grid[last])
        else:
            a, b = float(grid[k - 1]), float(grid[k + 1])
            x0 = _parabola_vertex(grid[k - 1 : k + 2], grid_ll[k - 1 : k + 2], a, b)

        h, ll, ok, iters = self._newton(y, a, b, x0)
        slack = 1e-9 * max(1.0, abs(best_ll))
        if not ok or ll < best_ll - slack:
            h_b, ll_b, ok_b, nfev = self._brent(y, a, b)
            iters += nfev
            if ll_b >= ll:
                h, ll, ok = h_b, ll_b, ok_b
        if ll < best_ll - slack:
            return float(grid[k]), False, iters
        return h, ok, iters

    def _newton(
        self, y: np.ndarray, a: float, b: float, x: float
    ) -> tuple[float, float, bool, int]:
        """Safeguarded Newton for ℓ′ = 0 on [a, b] starting from x (rtsafe-style bracket)."""
        ll, g, hess = self.evaluate(x, y, 2)
        for it in range(1, _NEWTON_MAXITER + 1):
            if g == 0.0:
                return x, ll, True, it - 1
            if g > 0.0:
                a = x
            else:
                b = x
            x_new = x - g / hess if hess < 0.0 else math.nan
            newton_step = a < x_new < b  # False also for NaN
            if not newton_step:
                x_new = 0.5 * (a + b)
            step = x_new - x
            x = x_new
            if newton_step and abs(step) < _NEWTON_ACCEPT:
                # Quadratic convergence: the error after this step is O(step²) ≪ 1e-10.
                return x, self.loglik1(x, y), True, it
            ll, g, hess = self.evaluate(x, y, 2)
            if abs(step) < _NEWTON_TOL or (b - a) < _NEWTON_TOL:
                return x, ll, True, it
        return x, ll, False, _NEWTON_MAXITER

    def _brent(self, y: np.ndarray, a: float, b: float) -> tuple[float, float, bool, int]:
        """Bounded Brent on [a, b] (fallback); compares with the two ends as well."""
        # Imported here: scipy.optimize costs a quarter of a second of start-up, and this
        # fallback almost never runs.
        from scipy import optimize

        res = optimize.minimize_scalar(
            lambda h: -self.loglik1(float(h), y),
            bounds=(a, b),
            method="bounded",
            options={"xatol": _NEWTON_TOL, "maxiter": 500},
        )
        cands = [(float(-res.fun), float(res.x))]
        cands += [(self.loglik1(t, y), t) for t in (a, b)]
        ll, h = max(cands)
        return h, ll, bool(res.success), int(res.nfev) + 2

    def _profile_ci(
        self, y: np.ndarray, grid_ll: np.ndarray, h_hat: float, ll_hat: float
    ) -> tuple[float, float]:
        """Innermost crossings of ℓ = ℓmax − χ²₁,₀.₉₅/2 on each side, or the range ends."""
        grid = self.grid
        target = ll_hat - 0.5 * CHI2_1_95

        def excess(h: float) -> tuple[float, float]:
            ll, d1, _ = self.evaluate(h, y, 1)
            return ll - target, d1

        lower = self.lo
        for j in np.flatnonzero(grid < h_hat)[::-1]:
            if grid_ll[j] < target:
                if grid[j + 1] < h_hat:
                    inner, f_inner = float(grid[j + 1]), float(grid_ll[j + 1]) - target
                else:
                    inner, f_inner = h_hat, ll_hat - target
                lower = _find_crossing(
                    excess, float(grid[j]), float(grid_ll[j]) - target, inner, f_inner
                )
                break
        upper = self.hi
        for j in np.flatnonzero(grid > h_hat):
            if grid_ll[j] < target:
                if grid[j - 1] > h_hat:
                    inner, f_inner = float(grid[j - 1]), float(grid_ll[j - 1]) - target
                else:
                    inner, f_inner = h_hat, ll_hat - target
                upper = _find_crossing(
                    excess, float(grid[j]), float(grid_ll[j]) - target, inner, f_inner
                )
                break
        return float(min(lower, h_hat)), float(max(upper, h_hat))


def _cholesky(mat: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a small SPD matrix (LAPACK potrf; 0 × 0 allowed)."""
    if mat.shape[0] == 0:
        return mat
    chol, info = lapack.dpotrf(mat, lower=1, clean=1)
    if info != 0:
        raise np.linalg.LinAlgError("matrix is not positive definite")
    return chol


def _chol_solve(chol: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve (LLᵀ)x = rhs given the lower factor L (LAPACK potrs; 0 × 0 allowed)."""
    if chol.shape[0] == 0:
        return np.zeros(rhs.shape)
    x, info = lapack.dpotrs(chol, rhs, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("Cholesky solve failed")
    return x


def _parabola_vertex(xs: np.ndarray, ys: np.ndarray, a: float, b: float) -> float:
    """Vertex of the parabola through three points, or the middle point if it is not in (a, b)."""
    x0, x1, x2 = (float(v) for v in xs)
    y0, y1, y2 = (float(v) for v in ys)
    num = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    if den != 0.0:
        v = x1 - 0.5 * num / den
        if a < v < b:
            return v
    return x1


def _find_crossing(
    fun: Callable[[float], tuple[float, float]],
    x_out: float,
    f_out: float,
    x_in: float,
    f_in: float,
) -> float:
    """Root of f on the bracket [x_out, x_in] (f(x_out) < 0 ≤ f(x_in)), f returning (f, f′).

    Safeguarded Newton started from the secant point; bisection whenever the step leaves the
    bracket. Stops at |Δx| < 1e-12, or after a Newton step smaller than 1e-7 (whose error is
    O(1e-14) by quadratic convergence).
    """
    if f_in == 0.0:
        return x_in
    lo, hi = x_out, x_in  # f(lo) < 0 ≤ f(hi); lo may be above or below hi
    x = x_in - f_in * (x_in - x_out) / (f_in - f_out) if f_in != f_out else 0.5 * (lo + hi)
    for _ in range(_NEWTON_MAXITER):
        f, df = fun(x)
        if f == 0.0:
            return x
        if f < 0.0:
            lo = x
        else:
            hi = x
        x_new = x - f / df if df != 0.0 else math.nan
        newton_step = min(lo, hi) < x_new < max(lo, hi)
        if not newton_step:
            x_new = 0.5 * (lo + hi)
        if abs(x_new - x) < 1e-12 or abs(hi - lo) < 1e-12:
            return x_new
        if newton_step and abs(x_new - x) < _NEWTON_ACCEPT:
            return x_new
        x = x_new
    return x


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _as_trait_vector(y_rot: Any, n: int) -> np.ndarray:
    y = np.asarray(y_rot, dtype=float)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(
            f"y_rot must be 1-D with n = {n} values, got shape {np.shape(y_rot)} "
            "(use fit_spectral_many for several traits)"
        )
    if not np.all(np.isfinite(y)):
        raise DataError("phenotype contains non-finite values (NaN or inf)")
    return y


def fit_spectral(
    eigenvalues: Any,
    y_rot: Any,
    x_rot: Any,
    *,
    method: str = "reml",
    constrain: bool = True,
    xtx_logdet: float | None = None,
) -> RemlFit:
    """Fit h² for one trait by spectral REML (or ML).

    Parameters
    ----------
    eigenvalues : array_like, shape (n,)
        Eigenvalues d of the GRM K = U diag(d) Uᵀ.
    y_rot : array_like, shape (n,)
        Rotated phenotype ỹ = Uᵀy.
    x_rot : array_like, shape (n, c)
        Rotated covariates X̃ = UᵀX, intercept column included (c may be 0).
    method : {"reml", "ml"}
        Restricted or ordinary maximum likelihood.
    constrain : bool
        True: h² ∈ [0, 1]. False: h² anywhere V stays positive definite (as GCTA
        ``--reml-no-constrain``).
    xtx_logdet : float, optional
        log|XᵀX| of the unrotated covariates, for the REML constant. Defaults to log|X̃ᵀX̃|, which
        is the same number when U is the full square eigenvector matrix.

    Returns
    -------
    RemlFit

    Raises
    ------
    heritcli.errors.DataError
        Constant phenotype after covariates, collinear or all-zero covariates, no residual
        degrees of freedom, non-finite input, or a GRM whose eigenvalues are all equal.
    ValueError
        Arrays of inconsistent shapes, or an unknown method.

    Notes
    -----
    See the module docstring for the likelihood, the constants included in ``logl`` (identical to
    GEMMA's printed REMLE/MLE log-likelihoods; GCTA's ``logL`` = logl + ½·df·log 2π −
    ½·log|XᵀX|), the optimiser and the information matrix.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> g = rng.standard_normal((200, 500))
    >>> d, u = np.linalg.eigh(g @ g.T / 500)
    >>> y = g @ rng.standard_normal(500) * np.sqrt(0.5 / 500) + rng.normal(0, 0.7, 200)
    >>> x = np.ones((200, 1))
    >>> fit = fit_spectral(d, u.T @ y, u.T @ x)
    >>> 0.0 <= fit.h2 <= 1.0
    True
    """
    model = _SpectralModel(
        eigenvalues, x_rot, method=method, constrain=constrain, xtx_logdet=xtx_logdet
    )
    y = _as_trait_vector(y_rot, model.n)
    model.check_trait(y, "phenotype")
    return model.fit(y, model.grid_loglik(y))


def fit_spectral_many(
    eigenvalues: Any,
    y_rot_matrix: Any,
    x_rot: Any,
    **kw: Any,
) -> list[RemlFit]:
    """Fit every column of a rotated phenotype matrix against one decomposition.

    Parameters
    ----------
    eigenvalues : array_like, shape (n,)
        Eigenvalues of the GRM.
    y_rot_matrix : array_like, shape (n, t) or (n,)
        Rotated phenotypes, one trait per column.
    x_rot : array_like, shape (n, c)
        Rotated covariates (shared by all traits).
    **kw
        ``method``, ``constrain``, ``xtx_logdet`` as for :func:`fit_spectral`.

    Returns
    -------
    list of RemlFit
        One fit per column, in column order; each equals ``fit_spectral`` on that column.

    Raises
    ------
    heritcli.errors.DataError
        As :func:`fit_spectral`; a constant trait is named by its 1-based column number.

    Notes
    -----
    The covariate basis, its packed outer products, the range and everything on the grid that
    does not involve the phenotype (C⁻¹, log|C|, Σ log w) are computed once; per trait there
    remain the grid residuals (two (c × n)·(n × G) products), a few Newton steps, the interval and
    the information matrix, each O(n·c²) per evaluation. Every column is checked before any is
    fitted, so a constant trait fails fast.
    """
    unknown = set(kw) - {"method", "constrain", "xtx_logdet"}
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    model = _SpectralModel(eigenvalues, x_rot, **kw)
    ymat = np.asarray(y_rot_matrix, dtype=float)
    if ymat.ndim == 1:
        ymat = ymat[:, None]
    if ymat.ndim != 2 or ymat.shape[0] != model.n:
        raise ValueError(
            f"y_rot_matrix must have shape (n, t) with n = {model.n}, got {np.shape(y_rot_matrix)}"
        )
    bad = np.flatnonzero(~np.all(np.isfinite(ymat), axis=0))
    if bad.size:
        raise DataError(f"phenotype column {int(bad[0]) + 1} contains non-finite values")
    t = ymat.shape[1]
    ymat = np.asfortranarray(ymat)  # contiguous columns
    labels = ["phenotype"] if t == 1 else [f"phenotype column {k + 1}" for k in range(t)]
    for k in range(t):
        model.check_trait(ymat[:, k], labels[k])
    fits: list[RemlFit] = []
    for k in range(t):
        y = ymat[:, k]
        fits.append(model.fit(y, model.grid_loglik(y)))
    return fits


def loglik(
    h2: float,
    eigenvalues: Any,
    y_rot: Any,
    x_rot: Any,
    *,
    method: str = "reml",
    xtx_logdet: float | None = None,
) -> float:
    """Profiled log-likelihood ℓ(h²) (β and σp² maximised out).

    Parameters
    ----------
    h2 : float
        Heritability at which to evaluate; any value with every w_i = 1 + h2·(d_i − 1) > 0.
    eigenvalues, y_rot, x_rot, method, xtx_logdet
        As for :func:`fit_spectral`.

    Returns
    -------
    float
        ℓ_REML or ℓ_ML exactly as defined in the module Notes (all constants included).

    Raises
    ------
    ValueError
        If h2 makes V not positive definite, or shapes are inconsistent.
    """
    model = _SpectralModel(eigenvalues, x_rot, method=method, xtx_logdet=xtx_logdet)
    y = _as_trait_vector(y_rot, model.n)
    return model.loglik1(float(h2), y)


def profile(
    h2: float,
    eigenvalues: Any,
    y_rot: Any,
    x_rot: Any,
    *,
    method: str = "reml",
    xtx_logdet: float | None = None,
) -> ProfilePoint:
    """Profile β and σp² at a fixed h².

    Parameters
    ----------
    h2 : float
        Heritability at which to profile.
    eigenvalues, y_rot, x_rot, method, xtx_logdet
        As for :func:`fit_spectral`.

    Returns
    -------
    ProfilePoint
        ℓ(h²), σ̂p² (= Q/df for REML, Q/n for ML), σ̂g², σ̂e², Q and β̂.
    """
    model = _SpectralModel(eigenvalues, x_rot, method=method, xtx_logdet=xtx_logdet)
    y = _as_trait_vector(y_rot, model.n)
    ll, vp, beta, _ = model.profile(float(h2), y)
    return ProfilePoint(
        h2=float(h2),
        logl=ll,
        vp=vp,
        vg=float(h2) * vp,
        ve=(1.0 - float(h2)) * vp,
        q=vp * model._scale_df(),
        beta=beta,
        method=method,
    )
