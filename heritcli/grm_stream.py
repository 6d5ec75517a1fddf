"""Standardized genotypes streamed block by block from a ``.bed``: the one loop every GRM uses.

The one-pass ``make-grm``, each part of ``make-grm --part I/N`` and each task on
a dask cluster read the same SNP blocks (runs of :data:`block` candidate SNPs,
in ``.bim`` order), apply the same filters, and standardize with the same
float operations; only the samples kept as columns differ (a part needs the
first ``r1`` samples).  Keeping that loop in one place is what makes parts
merge into exactly the one-shot GRM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heritcli.allele_freq import SnpCounts, read_packed_snps
from heritcli.errors import InputError


@dataclass(frozen=True)
class BedReader:
    """Packed rows of a ``.bed`` already validated by :func:`heritcli.io.plink.open_bfile`.

    Small and picklable (no ``.bim``/``.fam`` tables), so it can be sent to
    dask workers that read the same file from a shared file system.
    """

    bed: str
    n_samples: int
    n_snps: int

    @property
    def bytes_per_snp(self) -> int:
        return (self.n_samples + 3) // 4

    def read_packed(self, start: int, stop: int) -> np.ndarray:
        """The bytes of SNPs ``start:stop``, shape (stop - start, ceil(n/4))."""
        return _read_run(self, start, stop, bytearray((stop - start) * self.bytes_per_snp))

    def read_packed_rows(self, snp_index: np.ndarray) -> np.ndarray:
        """The bytes of an arbitrary set of SNPs, in the order given."""
        snp_index = np.asarray(snp_index, dtype=np.int64)
        if snp_index.size == 0:
            return np.empty((0, self.bytes_per_snp), dtype=np.uint8)
        lo, hi = int(snp_index.min()), int(snp_index.max()) + 1
        if hi - lo <= 8 * snp_index.size:
            return self.read_packed(lo, hi)[snp_index - lo]
        return np.concatenate([self.read_packed(int(j), int(j) + 1) for j in snp_index])

    @classmethod
    def of(cls, fileset: Any) -> BedReader:
        return cls(str(Path(fileset.bed)), int(fileset.n_samples), int(fileset.n_snps))


@dataclass(frozen=True)
class SnpFilter:
    """The filters that need genotypes (:func:`heritcli.grm_build.dynamic_snp_filter`)."""

    maf: float = 0.0
    max_maf: float = 0.5
    geno: float | None = None

    def __call__(self, stats: Any) -> np.ndarray:
        from heritcli.grm_build import dynamic_snp_filter

        reason = dynamic_snp_filter(stats, self)
        # A frequency file may lack a value (NA): such a SNP cannot be standardized.
        reason[(reason == "") & np.isnan(stats.freq)] = "freq-NA"
        return reason


@dataclass
class StreamedBlock:
    """One block of the stream.

    Attributes
    ----------
    snps : ndarray of int
        ``.bim`` indices of the block's candidate SNPs.
    stats : BlockStats
        Frequency and call counts of those SNPs (frequencies as used).
    reason : ndarray of str
        ``""`` for a SNP used, else the filter that dropped it.
    z : ndarray, shape (n_used, width)
        Standardized genotypes of the used SNPs for the first ``width`` kept samples.
    missing : (rows, columns) or None
        Positions of the missing calls in ``z`` (None when there are none).
    """

    snps: np.ndarray
    stats: Any
    reason: np.ndarray
    z: np.ndarray
    missing: tuple[np.ndarray, np.ndarray] | None


def stream_blocks(
    reader: Any,
    sample_index: np.ndarray | None,
    candidates: np.ndarray,
    block: int,
    snp_filter: Callable[[Any], np.ndarray],
    *,
    dtype: type[np.floating] = np.float32,
    width: int | None = None,
    counts: SnpCounts | None = None,
    freq: np.ndarray | None = None,
    buffers: int = 0,
    threads: int = 1,
) -> Iterator[StreamedBlock]:
    """Yield the standardized genotypes of ``candidates``, ``block`` SNPs at a time.

    Parameters
    ----------
    reader : PlinkFileset or BedReader
    sample_index : ndarray of int or None
        The kept samples, in output order (None: every sample of the ``.fam``).
    candidates : ndarray of int
        Increasing ``.bim`` indices left by the filters known before reading.
    block : int
        Candidate SNPs per block (the blocks are the same whatever ``width``).
    snp_filter : callable
        ``snp_filter(stats)`` gives the reasons for dropping (``""`` = used).
    dtype : numpy float type
        Precision of ``z``.
    width : int, optional
        Keep only the first ``width`` kept samples as columns (a row band of
        the GRM needs no more).  Frequencies and filters still come from every
        kept sample, as in a full-width stream.
    counts : SnpCounts, optional
        Frequencies and call counts fixed beforehand (a first pass); otherwise
        they are computed from each block.
    freq : ndarray of float64, optional
        Frequencies (per ``.bim`` variant) that replace the computed ones (``--freq``).
    buffers : int, optional
        With ``buffers = k > 0`` the ``z`` of consecutive blocks are written into
        ``k`` buffers in turn, so a block's ``z`` is overwritten ``k`` blocks later:
        a consumer that is done with each block before asking for the next may
        pass 1 (2 if it is done only before asking for the one after next) and
        save the page faults of a fresh ``block × width`` array per block (as much
        time as decoding it); the packed bytes are then read into one reused
        buffer too.  0 (the default): new arrays for every block.
    threads : int, optional
        Threads the compiled kernels may decode a block with (between the BLAS
        products, when the BLAS threads are idle); the blocks are the same.

    Notes
    -----
    The compiled kernels (:mod:`heritcli.core.bedkernels`) are used when they are
    built; otherwise numpy does the same work.  Both give identical blocks.
    """
    from heritcli.core.bedkernels import kernels_available

    n_fam = reader.n_samples
    n_kept = n_fam if sample_index is None else int(sample_index.size)
    width = n_kept if width is None else width
    if not 0 < width <= n_kept:
        raise ValueError(f"width {width} outside 1..{n_kept}")
    spec = _StreamSpec(
        n_fam,
        sample_index,
        width,
        counts,
        freq,
        snp_filter,
        dtype,
        _BufferPool(buffers, block, width, dtype),
        max(1, threads),
    )
    decode = _decode_compiled if kernels_available() else _decode_numpy
    # With rotating z buffers the packed bytes are done with too before the next block:
    # read runs of SNPs into one reused buffer (fresh pages cost as much as reading them).
    packed_buffer = bytearray(block * reader.bytes_per_snp) if buffers else None
    for start in range(0, candidates.size, block):
        snps = candidates[start : start + block]
        if packed_buffer is not None and snps[-1] - snps[0] + 1 == snps.size:
            packed = _read_run(reader, int(snps[0]), int(snps[-1]) + 1, packed_buffer)
        else:
            packed = read_packed_snps(reader, snps)
        yield decode(packed, snps, spec)


def _read_run(reader: Any, start: int, stop: int, buffer: bytearray) -> np.ndarray:
    """The bytes of SNPs ``start:stop`` read into ``buffer`` (a view of it is returned)."""
    width = reader.bytes_per_snp
    n_bytes = (stop - start) * width
    view = memoryview(buffer)[:n_bytes]
    try:
        with open(reader.bed, "rb", buffering=0) as handle:
            handle.seek(3 + start * width)
            got = handle.readinto(view)
    except OSError as exc:
        raise InputError(f"cannot read {reader.bed}: {exc.strerror or exc}") from None
    if got != n_bytes:
        raise InputError(f"{reader.bed} ended early (was it changed while herit read it?)")
    return np.frombuffer(buffer, dtype=np.uint8, count=n_bytes).reshape(stop - start, width)


class _BufferPool:
    """``k`` arrays of ``block × width`` handed out in turn (none when ``k`` is 0)."""

    def __init__(self, k: int, block: int, width: int, dtype: type[np.floating]) -> None:
        self._arrays = [np.empty((block, width), dtype=dtype) for _ in range(k)]
        self._next = 0

    def take(self, rows: int) -> np.ndarray | None:
        if not self._arrays:
            return None
        array = self._arrays[self._next]
        self._next = (self._next + 1) % len(self._arrays)
        return array[:rows]


@dataclass(frozen=True)
class _StreamSpec:
    """What every block of one stream is decoded with (see :func:`stream_blocks`)."""

    n_fam: int
    sample_index: np.ndarray | None
    width: int
    counts: SnpCounts | None
    freq: np.ndarray | None
    snp_filter: Callable[[Any], np.ndarray]
    dtype: type[np.floating]
    pool: _BufferPool
    threads: int = 1

    @property
    def n_kept(self) -> int:
        return self.n_fam if self.sample_index is None else int(self.sample_index.size)


def _select_used(
    stats: Any, snps: np.ndarray, spec: _StreamSpec, miss_rows: np.ndarray, miss_cols: np.ndarray
) -> tuple[Any, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Frequencies as used, reasons, used mask and the missing calls of the used SNPs."""
    from heritcli.core.standardize import BlockStats

    if spec.freq is not None:
        stats = BlockStats(spec.freq[snps], stats.n_called, stats.n_missing)
    why = spec.snp_filter(stats)
    used = why == ""
    if spec.width < spec.n_kept and miss_rows.size:
        inside = miss_cols < spec.width
        miss_rows, miss_cols = miss_rows[inside], miss_cols[inside]
    if not used.all():
        kept = used[miss_rows]
        miss_rows = (np.cumsum(used) - 1)[miss_rows[kept]]
        miss_cols = miss_cols[kept]
    missing = (miss_rows, miss_cols) if miss_rows.size else None
    return stats, why, used, missing


def _decode_compiled(packed: np.ndarray, snps: np.ndarray, spec: _StreamSpec) -> StreamedBlock:
    """One block through the compiled kernels: one scan, one standardizing pass."""
    from heritcli.core.bedkernels import scan_rows, standardize_rows
    from heritcli.core.packed import code_values, frequencies_from_codes
    from heritcli.core.standardize import BlockStats

    if spec.counts is not None:
        # Frequencies are fixed: only the missing calls of the first ``width`` samples matter.
        stats = spec.counts.block(snps)
        if spec.sample_index is None:
            _, miss_rows, miss_cols = scan_rows(packed, spec.width, threads=spec.threads)
        else:
            _, miss_rows, miss_cols = scan_rows(
                packed, spec.n_fam, spec.sample_index[: spec.width], threads=spec.threads
            )
    else:
        tally, miss_rows, miss_cols = scan_rows(
            packed, spec.n_fam, spec.sample_index, threads=spec.threads
        )
        stats = BlockStats(*frequencies_from_codes(tally))
    stats, why, used, missing = _select_used(stats, snps, spec, miss_rows, miss_cols)
    rows = packed if used.all() else packed[used]
    columns = None if spec.sample_index is None else spec.sample_index[: spec.width]
    z = standardize_rows(
        rows,
        code_values(stats.freq[used], spec.dtype),
        spec.width,
        columns,
        spec.n_fam,
        out=spec.pool.take(rows.shape[0]),
        threads=spec.threads,
    )
    return StreamedBlock(snps=snps, stats=stats, reason=why, z=z, missing=missing)


def _decode_numpy(packed: np.ndarray, snps: np.ndarray, spec: _StreamSpec) -> StreamedBlock:
    """One block with numpy alone (no compiled kernels): the reference route."""
    from heritcli.core.packed import code_counts, frequencies_from_codes, standardize_packed
    from heritcli.core.standardize import BlockStats, block_stats, standardize
    from heritcli.io.plink import decode_packed, missing_positions

    n_fam, index, width = spec.n_fam, spec.sample_index, spec.width
    empty = np.empty(0, dtype=np.int64)
    decoded = None
    if spec.counts is not None:
        stats = spec.counts.block(snps)
        if index is not None:
            miss_rows, miss_cols = missing_positions(packed, n_fam, index)
        elif stats.n_missing.any():
            miss_rows, miss_cols = missing_positions(packed, n_fam)
        else:
            miss_rows = miss_cols = empty
    elif index is None:
        # Every sample: frequencies and z straight from the packed bytes.
        stats = BlockStats(*frequencies_from_codes(code_counts(packed, n_fam)))
        if stats.n_missing.any():
            miss_rows, miss_cols = missing_positions(packed, n_fam)
        else:
            miss_rows = miss_cols = empty
    else:
        decoded = decode_packed(packed, n_fam)[:, index]
        miss_rows, miss_cols = missing_positions(packed, n_fam, index)
        stats = block_stats(decoded, n_missing=np.bincount(miss_rows, minlength=snps.size))
    stats, why, used, missing = _select_used(stats, snps, spec, miss_rows, miss_cols)
    if index is None:
        rows = packed if used.all() else packed[used]
        z = standardize_packed(rows, width, stats.freq[used], dtype=spec.dtype)
    else:
        if decoded is None:
            decoded = decode_packed(packed[used], n_fam)[:, index[:width]]
        else:
            decoded = decoded[used][:, :width]
        z = standardize(decoded, stats.freq[used], dtype=spec.dtype, missing=missing)
    return StreamedBlock(snps=snps, stats=stats, reason=why, z=z, missing=missing)


__all__ = ["BedReader", "SnpFilter", "StreamedBlock", "stream_blocks"]
