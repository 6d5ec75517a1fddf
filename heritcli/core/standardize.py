"""Allele frequencies and standardized genotypes.

For SNP ``j`` with A1 frequency ``p_j`` among the non-missing genotypes of the
samples analysed, the standardized genotype of sample ``i`` is

.. math:: z_{ij} = (x_{ij} - 2 p_j) / \\sqrt{2 p_j (1 - p_j)},

and ``z_ij = 0`` where ``x_ij`` is missing (Yang et al. 2011, AJHG 88:76; the
same as plink1.9 ``--make-grm-bin``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MISSING = -1


@dataclass(frozen=True)
class BlockStats:
    """Per-SNP summaries of one block of A1 counts.

    Attributes
    ----------
    freq : ndarray of float64, shape (b,)
        Frequency of A1 among non-missing calls (NaN when every call is missing).
    n_called : ndarray of int64, shape (b,)
        Number of non-missing calls.
    n_missing : ndarray of int64, shape (b,)
        Number of missing calls.
    """

    freq: np.ndarray
    n_called: np.ndarray
    n_missing: np.ndarray

    @property
    def maf(self) -> np.ndarray:
        """Minor allele frequency, ``min(p, 1 - p)``."""
        return np.minimum(self.freq, 1.0 - self.freq)

    @property
    def missing_rate(self) -> np.ndarray:
        total = self.n_called + self.n_missing
        return self.n_missing / np.maximum(total, 1)


def block_stats(counts: np.ndarray, n_missing: np.ndarray | None = None) -> BlockStats:
    """Allele frequency and call counts for each SNP (row) of ``counts``.

    Parameters
    ----------
    counts : ndarray of int8, shape (b, n)
        A1 counts with ``-1`` for missing.
    n_missing : ndarray of int, shape (b,), optional
        Missing calls per SNP when already known (saves a pass over ``counts``).
    """
    if n_missing is None:
        n_missing = np.count_nonzero(counts < 0, axis=1)
    n_missing = np.asarray(n_missing, dtype=np.int64)
    n_called = counts.shape[1] - n_missing
    # Missing is -1, so adding the number of missing calls back gives the allele sum.
    allele_sum = counts.sum(axis=1, dtype=np.int64) + n_missing
    with np.errstate(invalid="ignore", divide="ignore"):
        freq = allele_sum / (2.0 * n_called)
    freq = np.where(n_called > 0, freq, np.nan)
    return BlockStats(freq=freq, n_called=n_called, n_missing=n_missing)


#: Rows standardized per step: small enough for the working set to stay in cache.
_CHUNK_ROWS = 128


def standardize(
    counts: np.ndarray,
    freq: np.ndarray,
    dtype: type[np.floating] = np.float32,
    missing: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Standardize A1 counts with the given frequencies; missing calls become 0.

    Parameters
    ----------
    counts : ndarray of int8, shape (b, n)
        A1 counts with ``-1`` for missing.  Every SNP must be polymorphic
        (``0 < freq < 1``).
    freq : ndarray of float, shape (b,)
        A1 frequencies.
    dtype : numpy floating type
        Output precision.
    missing : (rows, columns), optional
        Positions of every missing call, when already known; otherwise they are
        found by scanning ``counts``.

    Returns
    -------
    ndarray, shape (b, n), C-contiguous
        ``z = (x - 2p) / sqrt(2p(1-p))`` with zeros for missing calls.

    Notes
    -----
    Works through the block a few rows at a time (multiply-add straight from
    int8, then zero the missing calls) so that intermediates stay in cache;
    this is several times faster than whole-block passes.
    """
    freq = np.asarray(freq, dtype=np.float64)
    scale64 = 1.0 / np.sqrt(2.0 * freq * (1.0 - freq))
    scale = scale64.astype(dtype)
    shift = (-2.0 * freq * scale64).astype(dtype)
    z = np.empty(counts.shape, dtype=dtype)
    for start in range(0, counts.shape[0], _CHUNK_ROWS):
        stop = start + _CHUNK_ROWS
        part = counts[start:stop]
        out = z[start:stop]
        np.multiply(part, scale[start:stop, None], out=out)
        out += shift[start:stop, None]
        if missing is None:
            np.putmask(out, part < 0, 0)
    if missing is not None:
        z[missing[0], missing[1]] = 0
    return z
