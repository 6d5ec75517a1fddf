"""Tests for heritcli.core.liability (Lee et al. 2011 AJHG 88:294 transformation)."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from heritcli.core.liability import liability_factor, observed_to_liability
from heritcli.errors import UsageError


def test_observed_to_liability__hand_computed_value():
    # By hand: K = 0.1, P = 0.5, t = Φ⁻¹(0.9) = 1.2815516 (normal table z₀.₉₀ = 1.2816),
    # φ(t) = exp(−t²/2)/√(2π) = 0.1754983; factor = 0.1²·0.9²/(0.1754983²·0.25)
    # = 0.0081/0.0077000 = 1.0519595, so h²_L = 0.2·1.0519595 = 0.2103919, SE 0.05 → 0.0525980.
    h2, se = observed_to_liability(0.2, 0.05, prevalence=0.1, sample_prevalence=0.5)
    assert h2 == pytest.approx(0.21039190208282124, rel=1e-12)
    assert se == pytest.approx(0.05259797552070531, rel=1e-12)


def test_liability_factor__matches_stdlib_normal():
    # Independent oracle: statistics.NormalDist for Φ⁻¹ and the density written out.
    for k, p in [(0.01, 0.3), (0.2, 0.2), (0.5, 0.5), (1e-4, 0.5)]:
        t = NormalDist().inv_cdf(1 - k)
        z = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
        want = k**2 * (1 - k) ** 2 / (z**2 * p * (1 - p))
        assert liability_factor(k, p) == pytest.approx(want, rel=1e-9)
    assert liability_factor(0.01, 0.3) == pytest.approx(0.6570324976942524, rel=1e-9)


def test_observed_to_liability__se_none_passes_through():
    h2, se = observed_to_liability(0.3, None, 0.05, 0.5)
    assert se is None and h2 > 0


@pytest.mark.parametrize("k", [0.0, 1.0, -0.1, 1.5, float("nan"), "abc"])
def test_observed_to_liability__prevalence_outside_unit_interval_raises(k):
    with pytest.raises(UsageError, match="prevalence"):
        observed_to_liability(0.2, 0.05, k, 0.5)


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0])
def test_observed_to_liability__sample_prevalence_outside_unit_interval_raises(p):
    with pytest.raises(UsageError, match="sample prevalence"):
        observed_to_liability(0.2, 0.05, 0.1, p)
