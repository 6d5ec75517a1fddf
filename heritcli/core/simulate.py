"""Simulating phenotypes with a known SNP-heritability (numerics only).

The model is GCTA's ``--simu-qt`` (Yang et al. 2011, AJHG 88:76): for the ``n`` samples and the
causal SNPs ``C``,

.. math:: y_i = g_i + e_i, \\qquad g_i = \\sum_{j \\in C} z_{ij} b_j,

with ``z_ij = (x_ij − 2p_j)/√(2p_j(1−p_j))`` the standardized genotypes of ``make-grm`` (missing
calls ``z = 0``).  Raw effects ``u_j`` are drawn from a distribution, then scaled together,
``b = s·u`` with ``s² = h²/var(Zu)``, so that the sample variance of ``g`` is exactly ``h²``;
the residuals are ``e_i ~ N(0, var(g)·(1 − h²)/h²) = N(0, 1 − h²)``.  The realised heritability
of a replicate is ``var(g)/var(y)``.

Case-control traits (GCTA ``--simu-cc``) threshold the liability ``l = g + e``, whose variance
is 1 in expectation: a sample is a case (1) when ``l > Φ⁻¹(1 − K)`` for the population prevalence
``K``, else a control (0).

This module holds only array code; reading genotypes and writing files is
:mod:`heritcli.simulate_run`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

#: Distributions of the raw effects, before they are scaled to the target h².
EFFECT_DISTRIBUTIONS: tuple[str, ...] = ("normal", "laplace", "equal")


def draw_effects(rng: np.random.Generator, n_causal: int, distribution: str) -> np.ndarray:
    """Raw effects of ``n_causal`` SNPs (their scale does not matter: they are rescaled).

    Parameters
    ----------
    rng : numpy.random.Generator
    n_causal : int
    distribution : {"normal", "laplace", "equal"}
        ``normal``: N(0, 1), as GCTA; ``laplace``: heavier tails (a few larger effects);
        ``equal``: every effect the same size with a random sign.

    Returns
    -------
    ndarray of float64, shape (n_causal,)

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> draw_effects(rng, 3, "equal")
    array([-1.,  1.,  1.])
    """
    if distribution == "normal":
        return rng.standard_normal(n_causal)
    if distribution == "laplace":
        return rng.laplace(0.0, 1.0, n_causal)
    if distribution == "equal":
        return rng.choice(np.array([-1.0, 1.0]), size=n_causal)
    raise ValueError(
        f"unknown effect distribution {distribution!r}; choose from {EFFECT_DISTRIBUTIONS}"
    )


def effect_scale(g_raw: np.ndarray, h2: float) -> float:
    """The factor ``s`` with ``var(s·g_raw) = h²`` (sample variance, divisor n).

    Returns 0 when ``h2`` is 0.  Raises ``ValueError`` when ``g_raw`` is constant and
    ``h2 > 0`` (no scaling can give it variance).
    """
    if h2 == 0.0:
        return 0.0
    variance = float(np.var(g_raw))
    if not variance > 0.0:
        raise ValueError("the causal SNPs give every sample the same genetic value")
    return float(np.sqrt(h2 / variance))


def liability_threshold(prevalence: float) -> float:
    """``T = Φ⁻¹(1 − K)``: the fraction K of a N(0, 1) liability lies above T.

    Examples
    --------
    >>> round(liability_threshold(0.1), 6)
    1.281552
    """
    return float(special.ndtri(1.0 - prevalence))


@dataclass(frozen=True)
class SimulatedTrait:
    """One simulated phenotype and its parts.

    Attributes
    ----------
    y : ndarray, shape (n,)
        The phenotype: ``g + e``, or 0/1 for a case-control trait.
    g, e : ndarray, shape (n,)
        Genetic values and residuals.
    h2_realised : float
        ``var(g)/var(g + e)`` in the sample (liability scale for a case-control trait).
    threshold : float or None
        Liability threshold of a case-control trait.
    """

    y: np.ndarray
    g: np.ndarray
    e: np.ndarray
    h2_realised: float
    threshold: float | None = None

    @property
    def liability(self) -> np.ndarray:
        return self.g + self.e


def add_residuals(
    g: np.ndarray, h2: float, rng: np.random.Generator, *, prevalence: float | None = None
) -> SimulatedTrait:
    """Add ``e ~ N(0, var(g)(1 − h²)/h²)`` to scaled genetic values (``N(0, 1)`` when h² = 0).

    Parameters
    ----------
    g : ndarray, shape (n,)
        Genetic values already scaled so that ``var(g) = h²``.
    h2 : float
        Target heritability in [0, 1].
    rng : numpy.random.Generator
        Draws the ``n`` residuals (always exactly n standard normals, whatever h², so that a
        seed gives the same residual stream for every h²).
    prevalence : float, optional
        Population prevalence K: return 0/1 by the liability threshold ``Φ⁻¹(1 − K)``.

    Examples
    --------
    >>> rng = np.random.default_rng(7)
    >>> g = rng.standard_normal(10_000)
    >>> g *= effect_scale(g, 0.3)
    >>> trait = add_residuals(g, 0.3, np.random.default_rng(8))
    >>> round(float(np.var(trait.g)), 12), abs(trait.h2_realised - 0.3) < 0.02
    (0.3, True)
    """
    g = np.asarray(g, dtype=np.float64)
    standard = rng.standard_normal(g.shape[0])
    if h2 == 0.0:
        e = standard
    else:
        e = standard * np.sqrt(float(np.var(g)) * (1.0 - h2) / h2)
    liability = g + e
    total = float(np.var(liability))
    realised = float(np.var(g)) / total if total > 0 else float("nan")
    if prevalence is None:
        return SimulatedTrait(y=liability, g=g, e=e, h2_realised=realised)
    threshold = liability_threshold(prevalence)
    y = (liability > threshold).astype(np.float64)
    return SimulatedTrait(y=y, g=g, e=e, h2_realised=realised, threshold=threshold)


def first_passing(order: np.ndarray, passes: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` entries of ``order`` whose ``passes`` flag is set.

    Taking SNPs in a random order and skipping those that fail the filters is the same as
    sampling ``k`` SNPs uniformly without replacement among those that pass, while only
    the SNPs looked at need to be read.

    Examples
    --------
    >>> first_passing(np.array([5, 2, 9, 4]), np.array([True, False, True, True]), 2)
    array([5, 9])
    """
    return np.asarray(order)[np.asarray(passes, dtype=bool)][:k]


__all__ = [
    "EFFECT_DISTRIBUTIONS",
    "SimulatedTrait",
    "add_residuals",
    "draw_effects",
    "effect_scale",
    "first_passing",
    "liability_threshold",
]
