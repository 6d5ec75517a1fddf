"""Paths to the test data and small generators shared by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
EXAMPLE = TESTS.parent / "example_data"


def random_counts(
    rng: np.random.Generator, n_snps: int, n_samples: int, missing_rate: float = 0.0
) -> np.ndarray:
    """Hardy-Weinberg A1 counts (SNPs × samples) with -1 for missing calls."""
    freq = rng.uniform(0.05, 0.95, size=n_snps)
    counts = rng.binomial(2, freq[:, None], size=(n_snps, n_samples)).astype(np.int8)
    if missing_rate > 0:
        counts[rng.random(counts.shape) < missing_rate] = -1
    return counts
