"""Compiled kernels for packed ``.bed`` rows, with the numpy code as fallback.

herit's hot loop turns packed genotypes into standardized values for BLAS.
The numpy route (:mod:`heritcli.core.packed`, :func:`heritcli.io.plink.missing_positions`)
takes several passes over each block and holds the GIL; the C kernels in
``_bedkernels.c`` take one pass each, run through :mod:`ctypes` (which releases
the GIL, so a BLAS thread is never stalled by them) and give identical results:

- :func:`scan_rows` counts the four two-bit codes of every SNP (popcounts of
  64-bit words) and lists the missing calls;
- :func:`standardize_rows` writes ``z = values[code]`` from the per-SNP table of
  :func:`heritcli.core.packed.code_values`, so every value is the one numpy
  computes: the C code only copies;
- :func:`add_missing_pairs` adds the pairs of missing calls of each SNP to
  ``S Sᵀ`` (the product a sparse matrix library would take, without its import);
- :func:`flush_lower` adds float32 partial sums into the float64 total on the
  lower triangle only, zeroing them as it goes (half the memory traffic of
  ``total += partial; partial.fill(0)``);
- :func:`grm_rows_from_lower` writes rows of the finished GRM (and pair counts)
  straight from the lower triangles of the sums, without symmetrizing them first,
  and :func:`band_values` the values of a row band (a part of the GRM);
- :func:`split_bim_text` tokenizes the text of a ``.bim`` file (``_bimtext.c``), the
  fast path of :func:`heritcli.io.plink.read_bim`.

The extension is optional (built by ``pip install`` when a C compiler is there).
:func:`kernels_available` tells whether it loaded; ``HERIT_NO_C_KERNELS=1`` in
the environment turns it off (the numpy route is then used everywhere).
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

#: Interface version the loader expects from ``herit_bed_kernels_version()``.
KERNELS_VERSION = 4
#: Environment variable that disables the compiled kernels.
DISABLE_VARIABLE = "HERIT_NO_C_KERNELS"

#: Values (rows × samples) a kernel thread is given at least: below, one thread does it.
MIN_VALUES_PER_THREAD = 2**20
#: Columns the band-values kernel takes at a time (``BAND_COLUMNS`` in ``_bedkernels.c``).
BAND_COLUMNS = 64

_I64 = ctypes.c_int64
_PTR = ctypes.c_void_p
_T = TypeVar("_T")


def _library_path() -> Path | None:
    here = Path(__file__).resolve().parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = here / f"_bedkernels{suffix}"
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=1)
def _library() -> Any | None:
    if os.environ.get(DISABLE_VARIABLE, "").strip() not in ("", "0"):
        return None
    path = _library_path()
    if path is None:
        return None
    try:
        library = ctypes.CDLL(os.fspath(path))
        version = library.herit_bed_kernels_version
    except (OSError, AttributeError):
        return None
    version.restype = _I64
    version.argtypes = []
    if version() != KERNELS_VERSION:
        return None
    signatures = {
        "herit_scan_rows": [_PTR, _I64, _I64, _I64, _PTR, _PTR, _PTR, _I64],
        "herit_scan_rows_subset": [_PTR, _I64, _I64, _PTR, _I64, _PTR, _PTR, _PTR, _I64],
        "herit_standardize_f32": [_PTR, _I64, _I64, _PTR, _I64, _PTR],
        "herit_standardize_f64": [_PTR, _I64, _I64, _PTR, _I64, _PTR],
        "herit_standardize_subset_f32": [_PTR, _I64, _I64, _PTR, _PTR, _I64, _PTR],
        "herit_standardize_subset_f64": [_PTR, _I64, _I64, _PTR, _PTR, _I64, _PTR],
        "herit_missing_pairs_f32": [_PTR, _PTR, _I64, _I64, _PTR, _I64],
        "herit_missing_pairs_f64": [_PTR, _PTR, _I64, _I64, _PTR, _I64],
        "herit_flush_lower": [_PTR, _PTR, _I64, _I64, _I64],
        "herit_bim_fields": [_PTR, _I64, _I64, _PTR, _PTR, _PTR, _PTR],
        "herit_bim_gather": [_PTR, _I64, _PTR, _PTR, _I64, _I64, _PTR],
        **{
            f"herit_grm_rows_{out}_{ss}": [_PTR, _PTR, _PTR, _I64, _I64, _I64, _I64, _PTR, _PTR]
            for out in ("f32", "f64")
            for ss in ("ss32", "ss64")
        },
        **{
            f"herit_band_values_{out}_{ss}": [_PTR, _PTR, _PTR, *[_I64] * 8, _PTR, _PTR]
            for out in ("f32", "f64")
            for ss in ("ss32", "ss64")
        },
    }
    for name, argtypes in signatures.items():
        function = getattr(library, name)
        function.argtypes = argtypes
        function.restype = _I64 if name.startswith(("herit_scan", "herit_bim_fields")) else None
    return library


def _require_library() -> Any:
    library = _library()
    if library is None:
        raise RuntimeError("the compiled .bed kernels are not available")
    return library


def kernels_available() -> bool:
    """Whether the compiled kernels are loaded (else the numpy route is used)."""
    return _library() is not None


def describe_kernels() -> str:
    """One phrase for the log: which genotype decoder runs."""
    return "compiled .bed kernels" if kernels_available() else "numpy .bed decoding"


def _packed_rows(packed: np.ndarray) -> np.ndarray:
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    if packed.ndim != 2:
        raise ValueError("packed rows must be a 2-D array")
    return packed


def _sample_index(sample_index: np.ndarray, n_samples: int) -> np.ndarray:
    index = np.ascontiguousarray(sample_index, dtype=np.int64)
    if index.size and (index.min() < 0 or index.max() >= n_samples):
        raise ValueError("sample index outside the .fam")
    return index


@cache
def _helpers(count: int) -> ThreadPoolExecutor:
    """``count`` helper threads for the kernels (made once, idle between calls)."""
    return ThreadPoolExecutor(max_workers=count, thread_name_prefix="herit-decode")


# A forked child has none of its parent's threads: it makes its own helpers.
os.register_at_fork(after_in_child=_helpers.cache_clear)


def _by_row_slices(
    rows: int, row_values: int, threads: int, work: Callable[[int, int], _T]
) -> list[_T]:
    """``work(lo, hi)`` on consecutive slices of ``0:rows``, on up to ``threads`` threads.

    The kernels are called through ctypes, which releases the GIL, so the slices are
    worked on at the same time; each gets at least :data:`MIN_VALUES_PER_THREAD` values
    (``row_values`` per row).  The results come back in row order, so the output does
    not depend on the number of threads.  A "row" is whatever the kernel splits: rows
    of a block or of the GRM, or :data:`BAND_COLUMNS`-column blocks of a band.
    """
    slices = max(1, min(threads, rows * row_values // MIN_VALUES_PER_THREAD))
    if slices == 1:
        return [work(0, rows)]
    bounds = [rows * i // slices for i in range(slices + 1)]
    pool = _helpers(slices - 1)
    pending = [pool.submit(work, lo, hi) for lo, hi in itertools.pairwise(bounds[1:])]
    first = work(bounds[0], bounds[1])
    return [first, *(future.result() for future in pending)]


def scan_rows(
    packed: np.ndarray,
    n_samples: int,
    sample_index: np.ndarray | None = None,
    threads: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Code counts and missing calls of packed rows (compiled kernel required).

    Parameters
    ----------
    packed : ndarray of uint8, shape (b, ceil(n/4))
    n_samples : int
        Samples in the ``.fam`` (padding bits are ignored).
    sample_index : ndarray of int, optional
        The samples kept, in output order (counts and positions then refer to them).
    threads : int, optional
        Scan slices of the rows on up to this many threads (same result).

    Returns
    -------
    counts : ndarray of int64, shape (b, 4)
        As :func:`heritcli.core.packed.code_counts`.
    rows, columns : ndarray of int64
        The missing calls, as :func:`heritcli.io.plink.missing_positions`.
    """
    library = _require_library()
    packed = _packed_rows(packed)
    b, row_bytes = packed.shape
    if row_bytes < (n_samples + 3) // 4:
        raise ValueError(f"rows of {row_bytes} bytes cannot hold {n_samples} samples")
    counts = np.empty((b, 4), dtype=np.int64)
    index = None if sample_index is None else _sample_index(sample_index, n_samples)

    def scan(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        part, tally = packed[lo:hi], counts[lo:hi]
        capacity = max(64, (hi - lo) * 4)
        while True:
            rows = np.empty(capacity, dtype=np.int64)
            cols = np.empty(capacity, dtype=np.int64)
            if index is None:
                found = library.herit_scan_rows(
                    part.ctypes.data, hi - lo, row_bytes, n_samples,
                    tally.ctypes.data, rows.ctypes.data, cols.ctypes.data, capacity,
                )  # fmt: skip
            else:
                found = library.herit_scan_rows_subset(
                    part.ctypes.data, hi - lo, row_bytes, index.ctypes.data, index.size,
                    tally.ctypes.data, rows.ctypes.data, cols.ctypes.data, capacity,
                )  # fmt: skip
            if found <= capacity:
                return rows[:found] + lo, cols[:found].copy()
            capacity = int(found)

    width = n_samples if index is None else index.size
    found = _by_row_slices(b, width, threads, scan)
    if len(found) == 1:
        return counts, found[0][0], found[0][1]
    return counts, np.concatenate([r for r, _ in found]), np.concatenate([c for _, c in found])


def standardize_rows(
    packed: np.ndarray,
    values: np.ndarray,
    width: int,
    sample_index: np.ndarray | None = None,
    n_samples: int | None = None,
    out: np.ndarray | None = None,
    threads: int = 1,
) -> np.ndarray:
    """``z[j, c] = values[j, code of sample c in row j]`` (compiled kernel required).

    Parameters
    ----------
    packed : ndarray of uint8, shape (b, ceil(n/4))
    values : ndarray of float32 or float64, shape (b, 4)
        The standardized value of each code (:func:`heritcli.core.packed.code_values`).
    width : int
        Output columns: the first ``width`` samples of the ``.fam``, or of ``sample_index``.
    sample_index : ndarray of int, optional
        The samples kept, in output order.
    n_samples : int, optional
        Samples in the ``.fam`` (checked against ``sample_index``).
    out : ndarray, optional
        C-contiguous ``(b, width)`` array of ``values.dtype`` to write into.  Reusing one
        buffer block after block saves the page faults of a fresh allocation, which cost
        as much as the decoding itself.
    threads : int, optional
        Write slices of the rows on up to this many threads (same result).

    Returns
    -------
    ndarray, shape (b, width), C-contiguous, of ``values.dtype``
    """
    library = _require_library()
    packed = _packed_rows(packed)
    b, row_bytes = packed.shape
    values = np.ascontiguousarray(values)
    if values.shape != (b, 4) or values.dtype not in (np.float32, np.float64):
        raise ValueError("values must be a (b, 4) float32 or float64 table")
    suffix = "f32" if values.dtype == np.float32 else "f64"
    if out is None:
        out = np.empty((b, width), dtype=values.dtype)
    elif out.shape != (b, width) or out.dtype != values.dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous ({b}, {width}) {values.dtype} array")
    if b == 0 or width == 0:
        return out
    if sample_index is None:
        if width > 4 * row_bytes:
            raise ValueError(f"rows of {row_bytes} bytes cannot hold {width} samples")
        kernel = getattr(library, f"herit_standardize_{suffix}")

        def write(lo: int, hi: int) -> None:
            kernel(
                packed[lo:hi].ctypes.data, hi - lo, row_bytes, values[lo:hi].ctypes.data, width,
                out[lo:hi].ctypes.data,
            )  # fmt: skip

    else:
        index = _sample_index(sample_index, 4 * row_bytes if n_samples is None else n_samples)
        if index.size < width:
            raise ValueError(f"{width} columns asked for, {index.size} samples kept")
        kernel = getattr(library, f"herit_standardize_subset_{suffix}")

        def write(lo: int, hi: int) -> None:
            kernel(
                packed[lo:hi].ctypes.data, hi - lo, row_bytes, values[lo:hi].ctypes.data,
                index.ctypes.data, width, out[lo:hi].ctypes.data,
            )  # fmt: skip

    _by_row_slices(b, width, threads, write)
    return out


def add_missing_pairs(
    snp: np.ndarray, sample: np.ndarray, ss: np.ndarray, row_start: int = 0
) -> None:
    """``S Sᵀ`` += the pairs of missing calls of each SNP (compiled kernel required).

    Parameters
    ----------
    snp, sample : ndarray of int
        The missing calls, grouped by SNP (sorted by ``snp``, as
        :func:`scan_rows` gives them).
    ss : ndarray of float32 or float64, Fortran-ordered, shape (r1 - r0, r1)
        Lower triangle of rows ``r0:r1`` of ``S Sᵀ`` (``r0 = row_start``), updated in
        place; every ``sample`` must be below ``r1``.
    row_start : int
        ``r0``: calls of samples before it only pair with later ones.

    Notes
    -----
    Entry ``(a, b)`` with ``a ≥ b`` gains one for each SNP missing in both ``a`` and
    ``b``; the cost is the sum over SNPs of the squared number of missing calls.
    """
    library = _require_library()
    snp = np.ascontiguousarray(snp, dtype=np.int64)
    sample = np.ascontiguousarray(sample, dtype=np.int64)
    if snp.shape != sample.shape or snp.ndim != 1:
        raise ValueError("snp and sample must be 1-D arrays of the same length")
    if not ss.flags.f_contiguous or ss.dtype not in (np.float32, np.float64) or ss.ndim != 2:
        raise ValueError("ss must be a Fortran-ordered float32 or float64 matrix")
    rows, width = ss.shape
    if not snp.size:
        return
    if sample.min() < 0 or sample.max() >= width or rows != width - row_start:
        raise ValueError("missing calls outside the matrix")
    if np.any(np.diff(snp) < 0):
        order = np.argsort(snp, kind="stable")
        snp, sample = snp[order], sample[order]
    suffix = "f32" if ss.dtype == np.float32 else "f64"
    getattr(library, f"herit_missing_pairs_{suffix}")(
        snp.ctypes.data, sample.ctypes.data, snp.size, row_start, ss.ctypes.data, rows
    )


def flush_lower(partial: np.ndarray, total: np.ndarray, row_start: int = 0) -> None:
    """``total += partial`` then ``partial = 0``, on the lower triangle (compiled kernel).

    Parameters
    ----------
    partial : ndarray of float32, Fortran-ordered, shape (r1 - r0, r1)
    total : ndarray of float64, Fortran-ordered, same shape
    row_start : int
        ``r0``: entry ``(i, j)`` is in the lower triangle when ``j ≤ r0 + i``.

    Notes
    -----
    Each entry gets ``total + float64(partial)``, the same rounding as numpy's
    ``total += partial``; entries above the diagonal are not touched.
    """
    library = _require_library()
    if partial.dtype != np.float32 or total.dtype != np.float64:
        raise ValueError("partial must be float32 and total float64")
    if partial.shape != total.shape or partial.ndim != 2:
        raise ValueError("partial and total must have the same 2-D shape")
    if not (partial.flags.f_contiguous and total.flags.f_contiguous):
        raise ValueError("partial and total must be Fortran-ordered")
    rows, cols = partial.shape
    if rows != cols - row_start:
        raise ValueError("the band does not fit its row start")
    library.herit_flush_lower(partial.ctypes.data, total.ctypes.data, rows, cols, row_start)


def _finished_outputs(
    zz: np.ndarray,
    ss: np.ndarray | None,
    missing_per_sample: np.ndarray,
    shape: tuple[int, int],
    dtype: type[np.floating],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    """Checked inputs and fresh outputs of the kernels that finish the sums.

    Returns the missing counts as int64 (one per column of ``zz``), the values
    (``dtype``) and counts (float32, or None without ``ss``) arrays of ``shape``, and
    the kernel's name suffix.
    """
    width = zz.shape[1]
    if ss is not None and (
        ss.shape != zz.shape
        or not ss.flags.f_contiguous
        or ss.dtype not in (np.float32, np.float64)
    ):
        raise ValueError("ss must be a Fortran-ordered float32 or float64 matrix shaped like zz")
    miss = np.ascontiguousarray(missing_per_sample, dtype=np.int64)
    if miss.shape != (width,):
        raise ValueError("one missing count per sample (column) is needed")
    out_type = np.dtype(dtype)
    if out_type not in (np.float32, np.float64):
        raise ValueError("dtype must be float32 or float64")
    values = np.empty(shape, dtype=out_type)
    counts = None if ss is None else np.empty(shape, dtype=np.float32)
    out = "f32" if out_type == np.float32 else "f64"
    kind = "ss64" if ss is not None and ss.dtype == np.float64 else "ss32"
    return miss, values, counts, f"{out}_{kind}"


def _sum_pointers(zz: np.ndarray, ss: np.ndarray | None, miss: np.ndarray) -> tuple:
    """The sums' data pointers, as the finishing kernels take them (``ss`` may be NULL)."""
    return zz.ctypes.data, None if ss is None else ss.ctypes.data, miss.ctypes.data


def grm_rows_from_lower(
    zz: np.ndarray,
    ss: np.ndarray | None,
    missing_per_sample: np.ndarray,
    n_snps: int,
    start: int,
    stop: int,
    dtype: type[np.floating] = np.float32,
    threads: int = 1,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows ``start:stop`` of the GRM and pair counts from lower triangles (compiled kernel).

    Parameters
    ----------
    zz : ndarray of float64, (n, n), Fortran-ordered
        ``Z Zᵀ``; only the lower triangle is read.
    ss : ndarray of float32 or float64, (n, n), Fortran-ordered, or None
        ``S Sᵀ`` (lower triangle), None when no call is missing.
    missing_per_sample : ndarray of int, (n,)
    n_snps : int
    start, stop : int
    dtype : numpy.float32 or numpy.float64
        Type of the values returned.
    threads : int, optional
        Compute slices of the rows on up to this many threads (same result).

    Returns
    -------
    values : ndarray of ``dtype``, (stop - start, n)
        ``K_ab = (Z Zᵀ)_ab / N_ab`` with ``N = M − m_a − m_b + (S Sᵀ)_ab`` (0 where
        ``N = 0``), or ``/ M`` when ``ss`` is None: the float64 quotient rounded once,
        as :func:`heritcli.core.grm.grm_rows` computes it from symmetrized matrices.
    counts : ndarray of float32, (stop - start, n), or None
    """
    library = _require_library()
    n = zz.shape[0]
    if zz.shape != (n, n) or zz.dtype != np.float64 or not zz.flags.f_contiguous:
        raise ValueError("zz must be a Fortran-ordered square float64 matrix")
    if not 0 <= start <= stop <= n:
        raise ValueError(f"rows {start}:{stop} outside 0:{n}")
    miss, values, counts, suffix = _finished_outputs(
        zz, ss, missing_per_sample, (stop - start, n), dtype
    )
    kernel = getattr(library, f"herit_grm_rows_{suffix}")

    sums = _sum_pointers(zz, ss, miss)

    def rows(lo: int, hi: int) -> None:
        kernel(
            *sums,
            n,
            int(n_snps),
            start + lo,
            start + hi,
            values[lo:hi].ctypes.data,
            None if counts is None else counts[lo:hi].ctypes.data,
        )

    _by_row_slices(stop - start, n, threads, rows)
    return values, counts


def band_values(
    zz: np.ndarray,
    ss: np.ndarray | None,
    missing_per_sample: np.ndarray,
    n_snps: int,
    row_start: int,
    dtype: type[np.floating] = np.float32,
    threads: int = 1,
    rows: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Values and pair counts of a row band (or of some of its rows) from its sums (compiled).

    Parameters
    ----------
    zz : ndarray of float64, (r1 - r0, r1), Fortran-ordered
        ``Z Zᵀ`` on rows ``r0:r1`` (``r0 = row_start``), lower triangle.
    ss : ndarray of float32 or float64, same shape and order, or None
        ``S Sᵀ`` on the same rows, None when no call is missing.
    missing_per_sample : ndarray of int, (r1,)
    n_snps : int
    row_start : int
    dtype : numpy.float32 or numpy.float64
    threads : int, optional
        Compute slices of the columns on up to this many threads (same result).
    rows : (int, int), optional
        Band rows ``lo:hi`` (0-based within the band) to finish; default all of them.

    Returns
    -------
    values : ndarray of ``dtype``, (hi - lo, r1), C-ordered (as the part file stores it),
        zeros above the diagonal
        The same numbers as :func:`heritcli.core.grm.band_rows`, rounded once to ``dtype``.
    counts : ndarray of float32, C-ordered, or None
    """
    library = _require_library()
    height, width = zz.shape
    if zz.dtype != np.float64 or not zz.flags.f_contiguous or height != width - row_start:
        raise ValueError("zz must be a Fortran-ordered float64 band ending on the diagonal")
    lo, hi = (0, height) if rows is None else rows
    if not 0 <= lo <= hi <= height:
        raise ValueError(f"rows {lo}:{hi} outside the band's 0:{height}")
    miss, values, counts, suffix = _finished_outputs(
        zz, ss, missing_per_sample, (hi - lo, width), dtype
    )
    kernel = getattr(library, f"herit_band_values_{suffix}")
    # Columns right of the last row's diagonal are zero in every row: filled here, not
    # entry by entry.
    reach = min(width, row_start + hi)
    values[:, reach:] = 0
    if counts is not None:
        counts[:, reach:] = 0

    sums = _sum_pointers(zz, ss, miss)

    def columns(first: int, last: int) -> None:
        # Blocks first:last of BAND_COLUMNS columns (the kernel's own tiling).
        kernel(
            *sums,
            height,
            width,
            row_start,
            int(n_snps),
            lo,
            hi,
            first * BAND_COLUMNS,
            min(last * BAND_COLUMNS, reach),
            values.ctypes.data,
            None if counts is None else counts.ctypes.data,
        )

    _by_row_slices(-(-reach // BAND_COLUMNS), (hi - lo) * BAND_COLUMNS, threads, columns)
    return values, counts


#: The text fields :func:`split_bim_text` returns, in the order of the kernel's output.
BIM_TEXT_FIELDS = ("chrom", "snp_id", "a1", "a2")


def split_bim_text(data: bytes) -> dict[str, np.ndarray] | None:
    """The columns of a plain ``.bim`` text in one compiled sweep, or None.

    Parameters
    ----------
    data : bytes
        The whole file.

    Returns
    -------
    dict or None
        ``chrom``, ``snp_id``, ``a1``, ``a2`` (numpy unicode arrays as wide as their
        longest entry), ``cm`` (float64) and ``pos`` (int64), one entry per variant line;
        None when the kernels are not loaded or the text is not plain: printable ASCII
        fields separated by spaces or tabs, six per line, CM a decimal number, BP a
        decimal integer of at most 18 digits, lines ending in ``\\n``, ``\\r\\n`` or
        ``\\r`` (blank lines skipped).  The caller then parses the file in Python, which
        accepts everything accepted here with the same result and names any bad line.
    """
    library = _library()
    if library is None or not data:
        return None
    capacity = data.count(b"\n") + data.count(b"\r") + 1
    starts = np.empty((capacity, len(BIM_TEXT_FIELDS)), dtype=np.int64)
    lengths = np.empty((capacity, len(BIM_TEXT_FIELDS)), dtype=np.int64)
    cm = np.empty(capacity, dtype=np.float64)
    pos = np.empty(capacity, dtype=np.int64)
    found = library.herit_bim_fields(
        data, len(data), capacity, starts.ctypes.data, lengths.ctypes.data,
        cm.ctypes.data, pos.ctypes.data,
    )  # fmt: skip
    if found <= 0:
        return None
    columns: dict[str, np.ndarray] = {"cm": cm[:found].copy(), "pos": pos[:found].copy()}
    for field, name in enumerate(BIM_TEXT_FIELDS):
        width = int(lengths[:found, field].max())
        # Code points straight into numpy's fixed-width unicode layout (UCS-4).
        codes = np.empty(found * width, dtype=np.uint32)
        library.herit_bim_gather(
            data, found, starts.ctypes.data, lengths.ctypes.data, field, width, codes.ctypes.data
        )
        columns[name] = codes.view(f"U{width}")
    return columns


__all__ = [
    "DISABLE_VARIABLE",
    "add_missing_pairs",
    "band_values",
    "describe_kernels",
    "flush_lower",
    "grm_rows_from_lower",
    "kernels_available",
    "scan_rows",
    "split_bim_text",
    "standardize_rows",
]
