"""Observed-scale to liability-scale heritability for case-control (0/1) traits.

Notes
-----
For a binary trait analysed as if it were quantitative, the observed-scale estimate ĥ²_O depends on
the proportion of cases in the sample. Under the liability-threshold model with population
prevalence K and sample case proportion P, Lee et al. (2011) give

    h²_L = h²_O · K²(1 − K)² / (φ(t)² · P(1 − P)),   t = Φ⁻¹(1 − K),

where φ is the standard normal density and t the liability threshold. This is what GCTA
``--prevalence K`` reports as ``V(G)/Vp_L``; the standard error is multiplied by the same factor
(a constant, so the delta method is exact).

References
----------
Lee SH, Wray NR, Goddard ME, Visscher PM (2011). Estimating missing heritability for disease from
genome-wide association studies. Am J Hum Genet 88:294-305.
Yang J, Lee SH, Goddard ME, Visscher PM (2011). GCTA: a tool for genome-wide complex trait
analysis. Am J Hum Genet 88:76-82.
"""

from __future__ import annotations

import math

from scipy import stats

from heritcli.errors import UsageError

__all__ = ["liability_factor", "observed_to_liability"]


def _check_proportion(value: float, name: str, option: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UsageError(
            f"{name} must be a number strictly between 0 and 1, got {value!r}"
        ) from None
    if not (0.0 < v < 1.0):  # also rejects NaN
        raise UsageError(
            f"{name} must be strictly between 0 and 1, got {value!r}",
            hint=f"give {option} as a proportion, e.g. 0.01 for 1%",
        )
    return v


def liability_factor(prevalence: float, sample_prevalence: float) -> float:
    """Factor converting observed-scale h² (and its SE) to the liability scale.

    Parameters
    ----------
    prevalence : float
        Population prevalence K of the disease, 0 < K < 1.
    sample_prevalence : float
        Proportion P of cases in the analysed sample, 0 < P < 1.

    Returns
    -------
    float
        K²(1 − K)² / (φ(Φ⁻¹(1 − K))² · P(1 − P)).

    Raises
    ------
    heritcli.errors.UsageError
        If K or P is not strictly between 0 and 1.
    """
    k = _check_proportion(prevalence, "prevalence", "--prevalence")
    p = _check_proportion(sample_prevalence, "sample prevalence (proportion of cases)", "it")
    threshold = float(stats.norm.isf(k))  # Φ⁻¹(1 − K), accurate for small K
    density = float(stats.norm.pdf(threshold))
    return (k * (1.0 - k)) ** 2 / (density**2 * p * (1.0 - p))


def observed_to_liability(
    h2_obs: float,
    se_obs: float | None,
    prevalence: float,
    sample_prevalence: float,
) -> tuple[float, float | None]:
    """Transform an observed-scale h² estimate and its SE to the liability scale.

    Parameters
    ----------
    h2_obs : float
        Heritability estimated on the observed 0/1 scale.
    se_obs : float or None
        Its standard error (None passes through as None).
    prevalence : float
        Population prevalence K, 0 < K < 1 (GCTA ``--prevalence``).
    sample_prevalence : float
        Proportion P of cases among the analysed samples, 0 < P < 1.

    Returns
    -------
    (h2_liab, se_liab) : tuple
        h²_L = h²_O · K²(1−K)²/(φ(Φ⁻¹(1−K))²·P(1−P)) and the SE scaled by the same factor.

    Raises
    ------
    heritcli.errors.UsageError
        If K or P is not strictly between 0 and 1.

    Notes
    -----
    See the module docstring (Lee et al. 2011, AJHG 88:294).

    Examples
    --------
    >>> h2, se = observed_to_liability(0.2, 0.05, prevalence=0.1, sample_prevalence=0.5)
    >>> round(h2, 6), round(se, 6)
    (0.210392, 0.052598)
    """
    factor = liability_factor(prevalence, sample_prevalence)
    h2_liab = float(h2_obs) * factor
    se_liab = None if se_obs is None else float(se_obs) * factor
    if not math.isfinite(h2_liab):
        raise UsageError(f"observed-scale h² must be finite, got {h2_obs!r}")
    return h2_liab, se_liab
