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

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from heritcli.core.bedkernels import add_missing_pairs, flush_lower, kernels_available
from heritcli.core.blas import syrk_lower
from heritcli.core.blas_band import band_update

#: Blocks whose missing-call density is below this use sparse products for S Sᵀ.
SPARSE_MISSING_DENSITY = 0.02
#: SNPs summed in float32 before the partial sums are added into the float64 total.
FLUSH_SNPS = 16384
#: Missing calls held (as index pairs) before their sparse S Sᵀ product is taken.
PENDING_MISSING_LIMIT = 200_000
#: Pair counts are kept in float32 while they are exact (below 2²⁴).
EXACT_FLOAT32_COUNT = 2**24
#: Bytes of float32 genotypes per BLAS call aimed at by :func:`blas_chunk_snps`.
CHUNK_BYTES_TARGET = 96 * 2**20
#: Bounds (powers of two) of the SNPs per BLAS call.
MIN_CHUNK_SNPS = 256
MAX_CHUNK_SNPS = 4096


@dataclass
class GrmSums:
    """The finished sums of a GRM accumulation (lower triangles are valid).

    Attributes
    ----------
    zz : ndarray of float64, shape (n, n), or (r1 - r0, r1) for a band
        ``Z Zᵀ``, lower triangle (rows ``r0:r1`` of it for a band).
    n_snps : int
        Number of SNPs accumulated.
    missing_per_sample : ndarray of int64, shape (n,), or (r1,) for a band
        ``m_j``.
    ss : ndarray of float32 (float64 beyond 2²⁴ SNPs) or None
        ``S Sᵀ`` lower triangle (band), or None when no call was missing.
    row_start : int
        ``r0``: 0 for a whole matrix.
    """

    zz: np.ndarray
    n_snps: int
    missing_per_sample: np.ndarray
    ss: np.ndarray | None
    row_start: int = 0


def touched_zeros(
    shape: tuple[int, int], dtype: type[np.floating], row_start: int = 0
) -> np.ndarray:
    """A Fortran-ordered array of zeros whose lower-triangle pages are already mapped.

    ``np.zeros`` maps pages lazily, on the first write to each.  Those page faults
    are cheap in a single-threaded process but several times dearer while other
    threads of the process run (BLAS threads busy in, or spinning after, a product),
    so the accumulation's large arrays are written once here, before any product.
    Only the lower triangle is written (for a band of rows starting at ``row_start``:
    entry ``(i, j)`` with ``j ≤ row_start + i``), by blocks of columns: the pages
    above it are never used, and mapping them would cost fresh memory for nothing.
    """
    array = np.zeros(shape, dtype=dtype, order="F")
    block = 64
    for j in range(0, shape[1], block):
        array[max(0, j - row_start) :, j : j + block] = 0
    return array


def blas_chunk_snps(n_samples: int) -> int:
    """SNPs per BLAS call: a power of two fixed by the number of samples alone.

    Every product of the accumulation (whole matrix or row band, any block size)
    is taken over consecutive chunks of this many SNPs, the last one padded with
    zeros to :func:`tail_chunk_snps` SNPs.  :class:`GrmAccumulator` explains why.
    """
    target = CHUNK_BYTES_TARGET // (4 * max(n_samples, 1))
    chunk = MIN_CHUNK_SNPS
    while chunk * 2 <= min(target, MAX_CHUNK_SNPS):
        chunk *= 2
    return chunk


def tail_chunk_snps(buffered: int, chunk: int) -> int:
    """SNPs of the last BLAS call: the power of two from :data:`MIN_CHUNK_SNPS` up that holds
    the ``buffered`` SNPs left over (never above ``chunk``)."""
    size = min(MIN_CHUNK_SNPS, chunk)
    while size < buffered:
        size *= 2
    return min(size, chunk)


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
    rows : (r0, r1), optional
        Accumulate only rows ``r0:r1`` of the lower triangle (a part of the GRM):
        blocks then hold the first ``r1`` samples only, and the sums are the band
        ``(r1 − r0) × r1``.  Default: the whole matrix.

    Notes
    -----
    Agreement of a band with the same rows of the whole matrix.
    The float32 products are taken over fixed chunks of :func:`blas_chunk_snps`
    SNPs (a power of two that depends on ``n_samples`` only; the SNPs left over
    at the end make one call of :func:`tail_chunk_snps` rows, padded with zero
    rows, which add exact zeros), whatever the block sizes given to :meth:`add`,
    and the float32 partial sums are added into float64 after exactly
    :data:`FLUSH_SNPS` SNPs.  So a band and the whole matrix add the same terms
    in the same groups, and the GRM is the same for any ``--block-snps``.
    Within one BLAS call each entry is a sum over SNPs in an order set by the
    kernels.  OpenBLAS splits ``syrk`` and (threaded) ``gemm`` at ``(k + 1) / 2``
    but single-threaded ``gemm`` at a multiple of its unroll factor, which agree
    for power-of-two chunks (small products, which OpenBLAS sends to other
    kernels, are avoided by :func:`heritcli.core.blas_band.band_update`); with
    its SkylakeX kernels every entry is then summed in the same order whatever
    the call, and a float32 GRM merged from parts equals the one-shot GRM
    exactly.  Its Haswell kernels order an entry's sum by where the entry falls
    in the call, so a band then agrees with the whole matrix to the rounding of
    the float32 products (:func:`bands_match_whole` tells which case holds).  In
    float64 precision the kernels of ``dgemm`` and ``dsyrk`` may order their inner
    sums differently (they do in OpenBLAS 0.3 on AVX-512): bands then agree with
    the whole matrix to the rounding of float64 sums, about 1e-16 relative.
    """

    def __init__(
        self,
        n_samples: int,
        precision: str = "float32",
        max_snps: int | None = None,
        rows: tuple[int, int] | None = None,
    ) -> None:
        if precision not in ("float32", "float64"):
            raise ValueError(f"precision must be float32 or float64, not {precision!r}")
        row_start, row_stop = (0, n_samples) if rows is None else rows
        if not 0 <= row_start < row_stop <= n_samples:
            raise ValueError(f"rows {row_start}:{row_stop} outside 0:{n_samples}")
        self.n_samples = n_samples
        self.precision = precision
        self.row_start = row_start
        self.row_stop = row_stop
        self.width = row_stop
        self.chunk_snps = blas_chunk_snps(n_samples)
        shape = (row_stop - row_start, row_stop)
        self._shape = shape
        # Both sums are written into pages faulted in now, by this thread alone: faulted in
        # by the BLAS threads during the first product they cost several times as much.
        self._zz = touched_zeros(shape, np.float64, row_start)
        self._partial: np.ndarray | None = (
            touched_zeros(shape, np.float32, row_start) if precision == "float32" else None
        )
        self._partial_snps = 0
        self._buffer: np.ndarray | None = None
        self._buffered = 0
        self._ss: np.ndarray | None = None
        wide = max_snps is None or max_snps >= EXACT_FLOAT32_COUNT
        self._count_dtype = np.float64 if wide else np.float32
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_calls = 0
        self._pending_snps = 0
        self._missing_per_sample = np.zeros(row_stop, dtype=np.int64)
        self.n_snps = 0

    @property
    def dtype(self) -> type[np.floating]:
        return np.float32 if self.precision == "float32" else np.float64

    @property
    def is_band(self) -> bool:
        return self._shape != (self.n_samples, self.n_samples)

    def add(
        self,
        z: np.ndarray,
        missing: np.ndarray | tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Add a block of standardized genotypes.

        Parameters
        ----------
        z : ndarray, shape (b, w), C-contiguous, of :attr:`dtype`
            Standardized genotypes of ``b`` SNPs (missing already 0) of the
            first ``w = r1`` samples (``w = n`` for a whole matrix).
        missing : bool ndarray (b, w), or (rows, columns) positions, optional
            The missing calls of the same block; None when nothing is missing.
        """
        b, n = z.shape
        if n != self.width:
            raise ValueError(f"block has {n} samples, accumulator {self.width}")
        if b == 0:
            return
        if z.dtype != self.dtype:
            z = z.astype(self.dtype)
        self._feed(np.ascontiguousarray(z))
        self.n_snps += b
        if missing is not None:
            if isinstance(missing, np.ndarray):
                rows, cols = np.nonzero(missing)
            else:
                rows, cols = missing
            if rows.size:
                self._add_missing(np.asarray(rows), np.asarray(cols), b)

    def _feed(self, z: np.ndarray) -> None:
        """Hand ``z`` to BLAS in chunks of exactly :attr:`chunk_snps` SNPs."""
        chunk = self.chunk_snps
        b = z.shape[0]
        start = 0
        if self._buffered:
            assert self._buffer is not None
            take = min(chunk - self._buffered, b)
            self._buffer[self._buffered : self._buffered + take] = z[:take]
            self._buffered += take
            start = take
            if self._buffered == chunk:
                self._product(self._buffer)
                self._buffered = 0
        while b - start >= chunk:
            self._product(z[start : start + chunk])
            start += chunk
        if start < b:
            if self._buffer is None:
                self._buffer = np.empty((chunk, self.width), dtype=self.dtype)
            self._buffer[: b - start] = z[start:]
            self._buffered = b - start

    def _drain(self) -> None:
        """Multiply out the SNPs still buffered, padded with zeros to a power of two.

        Zero rows add exact zeros, and a call of a power-of-two size (at least
        :data:`MIN_CHUNK_SNPS`) splits its inner dimension as the full chunks do;
        the tail is not padded to a full chunk, which would cost up to a chunk of
        useless products (6 % of a 2,000 × 50,000 GRM).  The tail's size depends on
        the number of SNPs alone, so a band and the whole matrix still take the
        same products.
        """
        if not self._buffered:
            return
        assert self._buffer is not None
        size = tail_chunk_snps(self._buffered, self.chunk_snps)
        self._buffer[self._buffered : size] = 0
        self._product(self._buffer[:size])
        self._buffered = 0

    def _product(self, rows: np.ndarray) -> None:
        k = rows.shape[0]
        if self.precision == "float32":
            assert self._partial is not None
            self._blas(rows, self._partial)
            self._partial_snps += k
            if self._partial_snps >= FLUSH_SNPS:
                self._flush()
        else:
            self._blas(rows, self._zz)

    def _blas(self, rows: np.ndarray, target: np.ndarray) -> None:
        if self.is_band:
            band_update(rows, self.row_start, target)
        else:
            syrk_lower(rows, target)

    def _flush(self) -> None:
        if self._partial is None or self._partial_snps == 0:
            return
        if kernels_available():
            flush_lower(self._partial, self._zz, self.row_start)
        else:
            self._zz += self._partial
            self._partial.fill(0.0)
        self._partial_snps = 0

    def _add_missing(self, rows: np.ndarray, cols: np.ndarray, n_rows: int) -> None:
        self._missing_per_sample += np.bincount(cols, minlength=self.width)
        if self._ss is None:
            self._ss = np.zeros(self._shape, dtype=self._count_dtype, order="F")
        if rows.size < SPARSE_MISSING_DENSITY * n_rows * self.width:
            if kernels_available():
                # Every pair of samples missing the same SNP adds one to S Sᵀ.
                add_missing_pairs(rows, cols, self._ss, self.row_start)
                return
            # Held as (SNP, sample) pairs, multiplied out for many blocks at once by one
            # sparse product.
            self._pending.append((rows.astype(np.int64) + self._pending_snps, cols))
            self._pending_snps += n_rows
            self._pending_calls += rows.size
            if self._pending_calls >= PENDING_MISSING_LIMIT:
                self._flush_missing()
        else:
            dense = np.zeros((n_rows, self.width), dtype=self._count_dtype)
            dense[rows, cols] = 1
            self._blas(dense, self._ss)

    def _flush_missing(self) -> None:
        if not self._pending:
            return
        from scipy import sparse

        snp = np.concatenate([p[0] for p in self._pending])
        sample = np.concatenate([p[1] for p in self._pending])
        ones = np.ones(snp.size, dtype=self._count_dtype)
        shape = (self.width, self._pending_snps)
        s = sparse.csr_array((ones, (sample, snp)), shape=shape)
        band = s[self.row_start :] if self.row_start else s
        product = sparse.coo_array(band @ s.T)
        lower = product.row + self.row_start >= product.col
        assert self._ss is not None
        self._ss[product.row[lower], product.col[lower]] += product.data[lower]
        self._pending = []
        self._pending_calls = 0
        self._pending_snps = 0

    def finish(self) -> GrmSums:
        """Return the sums accumulated so far."""
        self._drain()
        self._buffer = None
        self._flush()
        self._flush_missing()
        if self._partial is not None:
            self._partial = None  # release n² floats before the matrix is written
        return GrmSums(
            zz=self._zz,
            n_snps=self.n_snps,
            missing_per_sample=self._missing_per_sample.copy(),
            ss=self._ss,
            row_start=self.row_start,
        )


def band_rows(
    sums: GrmSums, rows: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The GRM values and pair counts of a band (rows ``r0:r1``, columns ``0:r1``).

    Entries above the diagonal are 0.  Each entry is computed with the same
    float64 operations as :func:`grm_rows` applies to the whole matrix, so a
    band's values equal the same entries of the one-shot GRM bit for bit when
    the sums do.

    Parameters
    ----------
    sums : GrmSums
        The band's sums.
    rows : (int, int), optional
        Only band rows ``lo:hi`` (0-based within the band); default all.

    Returns
    -------
    values : ndarray of float64, shape (hi - lo, r1)
    counts : ndarray of float64 or None
        ``N_jk`` (None when no call was missing).
    """
    r0 = sums.row_start
    height, width = sums.zz.shape
    lo, hi = (0, height) if rows is None else rows
    zz = sums.zz[lo:hi]
    upper = np.arange(width)[None, :] > (r0 + np.arange(lo, hi))[:, None]
    if sums.ss is None:
        values = zz / max(sums.n_snps, 1)
        values[upper] = 0.0
        return values, None
    m = sums.missing_per_sample.astype(np.float64)
    counts = sums.n_snps - m[r0 + lo : r0 + hi, None] - m[None, :] + sums.ss[lo:hi]
    counts[upper] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(counts > 0, zz / counts, 0.0)
    return values, counts


def finished_band(
    sums: GrmSums,
    dtype: type[np.floating] | str = np.float64,
    threads: int = 1,
    rows: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`band_rows`, through the compiled kernel when it is built.

    The kernel returns the values already in ``dtype`` (the GRM's stored type) and
    the counts in float32 (exact below 2²⁴ SNPs; beyond, or without the kernel,
    :func:`band_rows` gives float64 arrays).  The stored numbers are the same.  It
    splits the columns over up to ``threads`` threads (same result).  ``rows`` selects
    band rows ``lo:hi`` as in :func:`band_rows`.
    """
    from heritcli.core.bedkernels import band_values

    if kernels_available() and sums.n_snps < EXACT_FLOAT32_COUNT:
        return band_values(
            sums.zz, sums.ss, sums.missing_per_sample, sums.n_snps, sums.row_start, dtype,
            threads=threads, rows=rows,
        )  # fmt: skip
    return band_rows(sums, rows)


def part_bounds(n_samples: int, n_parts: int) -> list[int]:
    """Row boundaries ``0 = r_0 < r_1 < … < r_N = n`` of ``N`` parts of equal work.

    Part ``i`` computes rows ``r_{i-1}:r_i`` of the lower triangle, whose
    ``r_i(r_i + 1)/2 − r_{i−1}(r_{i−1} + 1)/2`` entries are about ``n²/(2N)``
    when ``r_i ≈ n·√(i/N)`` (what GCTA's ``--make-grm-part`` balances).  Every
    part gets at least one row.

    Raises
    ------
    ValueError
        If ``n_parts`` is below 1 or above ``n_samples``.
    """
    if not 1 <= n_parts <= n_samples:
        raise ValueError(f"{n_parts} parts of {n_samples} rows")
    bounds = [0]
    for i in range(1, n_parts):
        row = round(n_samples * (i / n_parts) ** 0.5)
        row = min(max(row, bounds[-1] + 1), n_samples - (n_parts - i))
        bounds.append(row)
    bounds.append(n_samples)
    return bounds


@lru_cache(maxsize=2)
def bands_match_whole(precision: str = "float32") -> bool:
    """Whether this BLAS gives a band exactly the rows of the whole matrix (a quick probe).

    A band is computed by ``gemm`` and ``syrk`` calls of other shapes than the
    one-shot ``syrk``.  Every entry is the same sum of the same products, but
    whether it is rounded the same way depends on the kernels: OpenBLAS's
    SkylakeX kernels order each entry's sum alike whatever the call, its Haswell
    kernels do not (the order depends on where the entry falls in the call).  So
    parts merge into the one-shot GRM bit for bit on the former, and to the
    rounding of the float32 products (about 1e-7 relative) on the latter.

    The probe accumulates a random 300-sample problem over a full chunk and a tail
    chunk as a whole and as three bands, and compares.
    """
    rng = np.random.default_rng(0)
    n = 300
    chunk = blas_chunk_snps(n)
    dtype = np.float32 if precision == "float32" else np.float64
    z = rng.standard_normal((chunk + 300, n)).astype(dtype)
    whole = GrmAccumulator(n, precision=precision)
    whole.add(z)
    zz = whole.finish().zz
    for r0, r1 in zip(part_bounds(n, 3)[:-1], part_bounds(n, 3)[1:], strict=True):
        band = GrmAccumulator(n, precision=precision, rows=(r0, r1))
        band.add(np.ascontiguousarray(z[:, :r1]))
        got = band.finish().zz
        lower = np.arange(r1)[None, :] <= (r0 + np.arange(r1 - r0))[:, None]
        if not np.array_equal(got[lower], zz[r0:r1, :r1][lower]):
            return False
    return True


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


def row_source(
    sums: GrmSums, dtype: type[np.floating] | str = np.float32, threads: int = 1
) -> Callable[[int, int], tuple[np.ndarray, np.ndarray | None]]:
    """``rows(start, stop)`` of the finished GRM and pair counts, for the artifact writer.

    With the compiled kernels the rows are built straight from the lower
    triangles (:func:`heritcli.core.bedkernels.grm_rows_from_lower`), already in
    ``dtype``, computed on up to ``threads`` threads; otherwise the sums are
    symmetrized in place once and :func:`grm_rows` is used.  Both give the same
    stored values.
    """
    from heritcli.core.bedkernels import grm_rows_from_lower

    if kernels_available() and sums.row_start == 0:
        return lambda start, stop: grm_rows_from_lower(
            sums.zz, sums.ss, sums.missing_per_sample, sums.n_snps, start, stop, dtype, threads
        )
    symmetrize_lower(sums.zz)
    if sums.ss is not None:
        symmetrize_lower(sums.ss)
    return lambda start, stop: grm_rows(sums, start, stop)


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
