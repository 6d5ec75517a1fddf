"""Streaming accumulation of the standardized genetic relationship matrix.

Notes
-----
With ``Z`` the n × M matrix of standardized genotypes (missing = 0) the GRM is

.. math:: K_{jk} = \\frac{1}{N_{jk}} \\sum_i z_{ij} z_{ik},

where ``N_jk`` counts the SNPs non-missing in both samples ``j`` and ``k``
(Yang et al. 2011, AJHG 88:76; plink1.9 ``--make-grm-bin``).  With ``S`` the
0/1 missingness indicator, ``N = M - m_j - m_k + (S Sᵀ)_jk`` where ``m_j`` is
the number of SNPs missing in sample ``j``.

``Z Zᵀ`` is accumulated block by block with a BLAS rank-k update (``syrk``)
into the lower triangle: in float32 over at most :data:`FLUSH_SNPS` SNPs (the
fast path), then added into float64 sums, so the rounding error does not grow
with M.  ``S Sᵀ`` is accumulated exactly in float32 (integers below 2²⁴):
sparse products for blocks with few missing calls, a ``syrk`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heritcli.core.blas import syrk_lower

#: Blocks whose missing-call density is below this use sparse products for S Sᵀ.
SPARSE_MISSING_DENSITY = 0.02
#: SNPs summed in float32 before the partial sums are added into the float64 total.
FLUSH_SNPS = 16384
#: Missing calls held (as index pairs) before their sparse S Sᵀ product is taken.
PENDING_MISSING_LIMIT = 200_000
#: Pair counts are kept in float32 while they are exact (below 2²⁴).
EXACT_FLOAT32_COUNT = 2**24


@dataclass
class GrmSums:
    """The finished sums of a GRM accumulation (lower triangles are valid).

    Attributes
    ----------
    zz : ndarray of float64, shape (n, n)
        ``Z Zᵀ``, lower triangle.
    n_snps : int
        Number of SNPs accumulated.
    missing_per_sample : ndarray of int64, shape (n,)
        ``m_j``.
    ss : ndarray of float32 (float64 beyond 2²⁴ SNPs) or None
        ``S Sᵀ`` lower triangle, or None when no call was missing.
    """

    zz: np.ndarray
    n_snps: int
    missing_per_sample: np.ndarray
    ss: np.ndarray | None


class GrmAccumulator:
    """Accumulate ``Z Zᵀ`` and the pairwise non-missing counts block by block.

    Parameters
    ----------
    n_samples : int
        Number of samples (matrix order).
    precision : {"float32", "float64"}
        Precision of the per-block products.  Sums across blocks are float64.
    max_snps : int, optional
        Upper bound on the SNPs that will be added; pair counts are kept in
        float32 (exact) unless it reaches 2²⁴.
    """

    def __init__(
        self, n_samples: int, precision: str = "float32", max_snps: int | None = None
    ) -> None:
        if precision not in ("float32", "float64"):
            raise ValueError(f"precision must be float32 or float64, not {precision!r}")
        self.n_samples = n_samples
        self.precision = precision
        self._zz = np.zeros((n_samples, n_samples), dtype=np.float64, order="F")
        self._partial: np.ndarray | None = None
        self._partial_snps = 0
        self._ss: np.ndarray | None = None
        wide = max_snps is None or max_snps >= EXACT_FLOAT32_COUNT
        self._count_dtype = np.float64 if wide else np.float32
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_calls = 0
        self._pending_snps = 0
        self._missing_per_sample = np.zeros(n_samples, dtype=np.int64)
        self.n_snps = 0

    @property
    def dtype(self) -> type[np.floating]:
        return np.float32 if self.precision == "float32" else np.float64

    def add(
        self,
        z: np.ndarray,
        missing: np.ndarray | tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Add a block of standardized genotypes.

        Parameters
        ----------
        z : ndarray, shape (b, n), C-contiguous, of :attr:`dtype`
            Standardized genotypes of ``b`` SNPs (missing already 0).
        missing : bool ndarray (b, n), or (rows, columns) positions, optional
            The missing calls of the same block; None when nothing is missing.
        """
        b, n = z.shape
        if n != self.n_samples:
            raise ValueError(f"block has {n} samples, accumulator {self.n_samples}")
        if b == 0:
            return
        if z.dtype != self.dtype:
            z = z.astype(self.dtype)
        if self.precision == "float32":
            if self._partial is None:
                self._partial = np.zeros((n, n), dtype=np.float32, order="F")
            syrk_lower(z, self._partial)
            self._partial_snps += b
            if self._partial_snps >= FLUSH_SNPS:
                self._flush()
        else:
            syrk_lower(z, self._zz)
        self.n_snps += b
        if missing is not None:
            if isinstance(missing, np.ndarray):
                rows, cols = np.nonzero(missing)
            else:
                rows, cols = missing
            if rows.size:
                self._add_missing(np.asarray(rows), np.asarray(cols), b)

    def _flush(self) -> None:
        if self._partial is None or self._partial_snps == 0:
            return
        self._zz += self._partial
        self._partial.fill(0.0)
        self._partial_snps = 0

    def _add_missing(self, rows: np.ndarray, cols: np.ndarray, n_rows: int) -> None:
        self._missing_per_sample += np.bincount(cols, minlength=self.n_samples)
        if self._ss is None:
            shape = (self.n_samples, self.n_samples)
            self._ss = np.zeros(shape, dtype=self._count_dtype, order="F")
        if rows.size < SPARSE_MISSING_DENSITY * n_rows * self.n_samples:
            # Held as (SNP, sample) pairs; every pair of samples missing the same SNP adds
            # one to S Sᵀ, computed for many blocks at once by one sparse product.
            self._pending.append((rows.astype(np.int64) + self._pending_snps, cols))
            self._pending_snps += n_rows
            self._pending_calls += rows.size
            if self._pending_calls >= PENDING_MISSING_LIMIT:
                self._flush_missing()
        else:
            dense = np.zeros((n_rows, self.n_samples), dtype=self._count_dtype)
            dense[rows, cols] = 1
            syrk_lower(dense, self._ss)

    def _flush_missing(self) -> None:
        if not self._pending:
            return
        from scipy import sparse

        snp = np.concatenate([p[0] for p in self._pending])
        sample = np.concatenate([p[1] for p in self._pending])
        ones = np.ones(snp.size, dtype=self._count_dtype)
        shape = (self.n_samples, self._pending_snps)
        s = sparse.csr_array((ones, (sample, snp)), shape=shape)
        product = sparse.coo_array(s @ s.T)
        lower = product.row >= product.col
        assert self._ss is not None
        self._ss[product.row[lower], product.col[lower]] += product.data[lower]
        self._pending = []
        self._pending_calls = 0
        self._pending_snps = 0

    def finish(self) -> GrmSums:
        """Return the sums accumulated so far."""
        self._flush()
        self._flush_missing()
        if self._partial is not None:
            self._partial = None  # release n² floats before the matrix is written
        return GrmSums(
            zz=self._zz,
            n_snps=self.n_snps,
            missing_per_sample=self._missing_per_sample.copy(),
            ss=self._ss,
        )


def symmetrize_lower(a: np.ndarray, tile: int = 1024) -> np.ndarray:
    """Copy the lower triangle of a square matrix onto its upper triangle, in place."""
    n = a.shape[0]
    for start in range(0, n, tile):
        stop = min(start + tile, n)
        block = a[start:stop, start:stop]
        block[...] = np.tril(block) + np.tril(block, -1).T
        if stop < n:
            a[start:stop, stop:] = a[stop:, start:stop].T
    return a


def pair_counts_rows(sums: GrmSums, start: int, stop: int) -> np.ndarray | None:
    """Rows ``start:stop`` of the full symmetric matrix ``N`` (None when nothing missing).

    Requires ``sums.ss`` to be symmetric (see :func:`symmetrize_lower`).
    """
    if sums.ss is None:
        return None
    m = sums.missing_per_sample.astype(np.float64)
    # The matrix is symmetric and Fortran-ordered: columns are the contiguous slices.
    return sums.n_snps - m[start:stop, None] - m[None, :] + sums.ss[:, start:stop].T


def grm_rows(sums: GrmSums, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows ``start:stop`` of the finished GRM and of the pair counts.

    Requires ``sums.zz`` (and ``sums.ss``) to have been symmetrized.
    Pairs with no SNP in common get 0.
    """
    counts = pair_counts_rows(sums, start, stop)
    rows = sums.zz[:, start:stop].T
    if counts is None:
        return rows / max(sums.n_snps, 1), None
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(counts > 0, rows / counts, 0.0)
    return values, counts


def dense_grm(z: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """Reference one-shot GRM ``Z Zᵀ / N`` for small inputs (used by tests).

    Parameters
    ----------
    z : ndarray, shape (M, n)
        Standardized genotypes (missing = 0), SNPs in rows.
    missing : ndarray of bool, shape (M, n), optional
    """
    z = np.asarray(z, dtype=np.float64)
    zz = z.T @ z
    if missing is None:
        return zz / z.shape[0]
    present = (~missing).astype(np.float64)
    counts = present.T @ present
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, zz / counts, 0.0)
