"""BLAS updates of a row band of the lower triangle: ``C += Z_bandᵀ Z`` without the GIL.

A GRM computed in parts (``make-grm --part I/N``) needs, for rows ``r0:r1`` of
the lower triangle, the products of the standardized genotypes of those samples
with those of every sample up to ``r1``.  With ``Z`` the ``k × r1`` block of
standardized genotypes (SNPs in rows, the first ``r1`` samples in columns) the
band ``C`` (``(r1 − r0) × r1``, Fortran order) is updated in two calls:

* the rectangle left of the diagonal, ``C[:, :r0] += Z[:, r0:]ᵀ Z[:, :r0]``, by ``?gemm``;
* the square on the diagonal, lower triangle of ``C[:, r0:] += Z[:, r0:]ᵀ Z[:, r0:]``,
  by ``?syrk``, exactly as the one-shot accumulation does for the whole matrix.

OpenBLAS computes ``gemm`` products with ``m·n·k`` up to about 10⁶ with
separate "small matrix" kernels, which order their sums differently from
``syrk``'s; a rectangle that small is padded with zero rows to
:data:`SMALL_PRODUCT` (its cost is negligible at that size).

Both calls read ``Z`` in place (leading dimension ``r1``, a pointer offset for the
columns ``r0:``), so no copy of the block is made.  Like
:mod:`heritcli.core.blas`, the CBLAS symbols of the BLAS that scipy loaded are
called through :mod:`ctypes`, which releases the GIL; without them the scipy
wrappers are used (same arithmetic, GIL held).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import lru_cache

import numpy as np

_COL_MAJOR, _NO_TRANS, _TRANS, _LOWER = 102, 111, 112, 122
#: ``gemm`` products with m·n·k at most this are padded with zero rows (see band_update).
SMALL_PRODUCT = 2**21

_GEMM_NAMES: tuple[tuple[str, bool], ...] = (
    ("scipy_cblas_{p}gemm", False),
    ("cblas_{p}gemm", False),
    ("scipy_cblas_{p}gemm64_", True),
    ("cblas_{p}gemm64_", True),
)
_SYRK_NAMES: tuple[tuple[str, bool], ...] = (
    ("scipy_cblas_{p}syrk", False),
    ("cblas_{p}syrk", False),
    ("scipy_cblas_{p}syrk64_", True),
    ("cblas_{p}syrk64_", True),
)


@lru_cache(maxsize=4)
def _cblas(routine: str, prefix: str) -> Callable[..., None] | None:
    """The ctypes function for ``cblas_{prefix}{routine}`` of the loaded BLAS, or None."""
    names = _GEMM_NAMES if routine == "gemm" else _SYRK_NAMES
    real = ctypes.c_float if prefix == "s" else ctypes.c_double
    from heritcli.core.blas import library_candidates

    for path in library_candidates():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for pattern, wide in names:
            function = getattr(library, pattern.format(p=prefix), None)
            if function is None:
                continue
            integer = ctypes.c_int64 if wide else ctypes.c_int
            function.restype = None
            if routine == "gemm":
                function.argtypes = [
                    ctypes.c_int, ctypes.c_int, ctypes.c_int,  # order, transa, transb
                    integer, integer, integer, real,  # m, n, k, alpha
                    ctypes.c_void_p, integer, ctypes.c_void_p, integer,  # a, lda, b, ldb
                    real, ctypes.c_void_p, integer,  # beta, c, ldc
                ]  # fmt: skip
            else:
                function.argtypes = [
                    ctypes.c_int, ctypes.c_int, ctypes.c_int,  # order, uplo, trans
                    integer, integer, real,  # n, k, alpha
                    ctypes.c_void_p, integer, real,  # a, lda, beta
                    ctypes.c_void_p, integer,  # c, ldc
                ]  # fmt: skip
            return function
    return None


def band_update(z: np.ndarray, row_start: int, c: np.ndarray) -> np.ndarray:
    """``C ← C + Z[:, r0:]ᵀ Z`` on the lower band of the Gram matrix of ``Z``'s columns.

    Parameters
    ----------
    z : ndarray, shape (k, r1), C-contiguous, float32 or float64
        ``k`` SNPs (rows) of the first ``r1`` samples (columns).
    row_start : int
        ``r0``: the band holds rows ``r0:r1`` of the ``r1 × r1`` leading block.
    c : ndarray, shape (r1 - r0, r1), Fortran-contiguous, same dtype
        Updated in place: ``c[i, j] += Σ_t z[t, r0 + i] z[t, j]`` for ``j ≤ r0 + i``
        (entries above the diagonal are left untouched).

    Returns
    -------
    ndarray
        ``c`` (the same object).
    """
    k, width = z.shape
    rows = width - row_start
    if not 0 <= row_start < width or c.shape != (rows, width):
        raise ValueError(f"band of shape {c.shape} does not fit rows {row_start}:{width}")
    if not c.flags.f_contiguous or c.dtype != z.dtype:
        raise ValueError("c must be Fortran-ordered with the dtype of z")
    if k == 0:
        return c
    z = np.ascontiguousarray(z)
    prefix = "s" if z.dtype == np.float32 else "d"
    gemm, syrk = _cblas("gemm", prefix), _cblas("syrk", prefix)
    if gemm is None or syrk is None:
        return _band_update_scipy(z, row_start, c)
    item = z.dtype.itemsize
    band = z.ctypes.data + row_start * item
    # Read column-major, the C-ordered (k, r1) block is the r1 × k matrix Zᵀ with leading
    # dimension r1; its rows r0:r1 start r0 elements further on.
    if row_start and rows * row_start * k <= SMALL_PRODUCT:
        # Pad the band with zero rows: a product this small would go to other kernels.
        padded_rows = SMALL_PRODUCT // (row_start * k) + 1
        a = np.zeros((k, padded_rows), dtype=z.dtype)
        a[:, :rows] = z[:, row_start:]
        left = np.zeros((padded_rows, row_start), dtype=z.dtype, order="F")
        left[:rows] = c[:, :row_start]
        gemm(
            _COL_MAJOR, _NO_TRANS, _TRANS, padded_rows, row_start, k, 1.0,
            a.ctypes.data, padded_rows, z.ctypes.data, width, 1.0, left.ctypes.data, padded_rows,
        )  # fmt: skip
        c[:, :row_start] = left[:rows]
    elif row_start:
        gemm(
            _COL_MAJOR, _NO_TRANS, _TRANS, rows, row_start, k, 1.0,
            band, width, z.ctypes.data, width, 1.0, c.ctypes.data, rows,
        )  # fmt: skip
    syrk(
        _COL_MAJOR, _LOWER, _NO_TRANS, rows, k, 1.0,
        band, width, 1.0, c.ctypes.data + row_start * rows * item, rows,
    )  # fmt: skip
    return c


def _band_update_scipy(z: np.ndarray, row_start: int, c: np.ndarray) -> np.ndarray:
    from scipy.linalg import blas

    single = z.dtype == np.float32
    gemm = blas.sgemm if single else blas.dgemm
    syrk = blas.ssyrk if single else blas.dsyrk
    band = z[:, row_start:]
    if row_start:
        left = c[:, :row_start]
        result = gemm(1.0, band, z[:, :row_start], beta=1.0, c=left, trans_a=1, overwrite_c=1)
        if result is not left:  # pragma: no cover - scipy copies only for unexpected layouts
            left[...] = result
    square = c[:, row_start:]
    result = syrk(1.0, band.T, beta=1.0, c=square, lower=1, overwrite_c=1)
    if result is not square:  # pragma: no cover
        square[...] = result
    return c


def uses_ctypes_band_blas() -> bool:
    """Whether :func:`band_update` found GIL-free CBLAS entry points."""
    return _cblas("gemm", "s") is not None and _cblas("syrk", "s") is not None
