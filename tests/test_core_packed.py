"""Counts and standardized genotypes from packed .bed bytes equal the decode-then-standardize."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heritcli.core.packed import code_counts, frequencies_from_codes, standardize_packed
from heritcli.core.standardize import block_stats, standardize
from heritcli.io.plink import decode_packed


def _packed(
    rng: np.random.Generator, n_snps: int, n_samples: int, junk_padding: bool
) -> np.ndarray:
    """Random packed rows; with ``junk_padding`` the unused bits of the last byte are set."""
    packed = rng.integers(0, 256, size=(n_snps, (n_samples + 3) // 4), dtype=np.uint8)
    rest = n_samples % 4
    if rest and not junk_padding:
        packed[:, -1] &= np.uint8((1 << (2 * rest)) - 1)
    return packed


@pytest.mark.parametrize("n_samples", [1, 2, 3, 4, 5, 6, 7, 8, 13, 257, 1001])
@pytest.mark.parametrize("junk_padding", [False, True])
def test_code_counts_match_decoded_counts(n_samples: int, junk_padding: bool) -> None:
    rng = np.random.default_rng(n_samples)
    packed = _packed(rng, 300, n_samples, junk_padding)
    counts = decode_packed(packed, n_samples)
    codes = code_counts(packed, n_samples)
    # Oracle: tally the decoded int8 counts directly.
    for code, value in ((0, 2), (1, -1), (2, 1), (3, 0)):
        np.testing.assert_array_equal(codes[:, code], (counts == value).sum(axis=1))
    freq, n_called, n_missing = frequencies_from_codes(codes)
    stats = block_stats(counts)
    np.testing.assert_array_equal(n_missing, stats.n_missing)
    np.testing.assert_array_equal(n_called, stats.n_called)
    np.testing.assert_array_equal(freq, stats.freq)  # NaN where all missing, in both


@pytest.mark.parametrize("n_samples", [1, 2, 3, 4, 5, 7, 8, 255, 256, 1002])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardize_packed_is_bit_identical(n_samples: int, dtype: type[np.floating]) -> None:
    rng = np.random.default_rng(1000 + n_samples)
    packed = _packed(rng, 600, n_samples, junk_padding=True)
    counts = decode_packed(packed, n_samples)
    stats = block_stats(counts)
    ok = (stats.freq > 0) & (stats.freq < 1)
    expected = standardize(counts[ok], stats.freq[ok], dtype=dtype)
    z = standardize_packed(packed[ok], n_samples, stats.freq[ok], dtype=dtype)
    assert z.dtype == dtype and z.flags.c_contiguous and z.shape == expected.shape
    np.testing.assert_array_equal(z, expected)
    # And against the formula itself, in float64.
    x = counts[ok].astype(np.float64)
    p = stats.freq[ok][:, None]
    formula = np.where(x < 0, 0.0, (x - 2 * p) / np.sqrt(2 * p * (1 - p)))
    np.testing.assert_allclose(z, formula, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-12)


@settings(max_examples=40, deadline=None)
@given(
    n_samples=st.integers(1, 40),
    n_snps=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
)
def test_standardize_packed_any_shape(n_samples: int, n_snps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    packed = _packed(rng, n_snps, n_samples, junk_padding=True)
    counts = decode_packed(packed, n_samples)
    freq, _, _ = frequencies_from_codes(code_counts(packed, n_samples))
    ok = (freq > 0) & (freq < 1)
    z = standardize_packed(packed[ok], n_samples, freq[ok])
    np.testing.assert_array_equal(z, standardize(counts[ok], freq[ok]))
