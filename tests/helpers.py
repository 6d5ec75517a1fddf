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


def assert_same_grm(got: Path, expected: Path, *, float32_atol: float = 1e-6) -> None:
    """A GRM assembled from bands (parts, dask) against the one-shot run of the same command.

    Pair counts are integers and always equal.  Values equal bit for bit (same
    fingerprint, which hashes the stored bytes) when this BLAS rounds a band's
    entries as it rounds the whole matrix's (:func:`heritcli.core.grm.bands_match_whole`);
    otherwise they agree to the rounding of the float32 products (a few units in the
    last place of GRM entries of order 1; float64 GRMs to 1e-13).
    """
    import h5py

    from heritcli.core.grm import bands_match_whole
    from heritcli.threads import limit_threads

    def read(path: Path) -> tuple[np.ndarray, np.ndarray | None, str]:
        with h5py.File(path) as handle:
            values = handle["grm/values"][()]
            pairs = handle["grm/n_pairs"][()] if "grm/n_pairs" in handle else None
            return values, pairs, str(handle.attrs["fingerprint"])

    values, pairs, fingerprint = read(got)
    want, want_pairs, want_fingerprint = read(expected)
    assert values.dtype == want.dtype and values.shape == want.shape
    assert (pairs is None) == (want_pairs is None)
    if pairs is not None:
        np.testing.assert_array_equal(pairs, want_pairs)
    precision = values.dtype.name
    with limit_threads(None):
        exact = bands_match_whole(precision)
    if exact and precision == "float32":
        np.testing.assert_array_equal(values, want)
        assert fingerprint == want_fingerprint
    else:
        atol = float32_atol if precision == "float32" else 1e-13
        np.testing.assert_allclose(values, want, rtol=0, atol=atol)
