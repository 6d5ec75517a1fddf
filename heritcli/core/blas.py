"""Symmetric rank-k updates ``C += A Aᵀ`` that release the GIL.

scipy's BLAS wrappers hold the Python GIL for the whole call, so a ``syrk`` in a
worker thread would stall the thread that decodes the next block of genotypes.
Calling the same OpenBLAS that scipy loaded through :mod:`ctypes` releases the
GIL for the duration of the call.  When no CBLAS symbol can be found (another
BLAS build), :func:`syrk_lower` falls back to ``scipy.linalg.blas``; results are
the same either way.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache

import numpy as np

_COL_MAJOR, _LOWER, _NO_TRANS = 102, 122, 111

#: CBLAS names tried in each loaded BLAS library, with the integer width of their arguments.
_CANDIDATES: tuple[tuple[str, bool], ...] = (
    ("scipy_cblas_{p}syrk", False),
    ("cblas_{p}syrk", False),
    ("scipy_cblas_{p}syrk64_", True),
    ("cblas_{p}syrk64_", True),
)


def _scipy_bundled_blas() -> list[str]:
    """The OpenBLAS shipped inside scipy's wheel (``scipy.libs/``), found without importing it.

    Importing :mod:`scipy.linalg` only to load this library costs ~0.15 s of start-up.
    """
    import glob
    import importlib.util

    spec = importlib.util.find_spec("scipy")
    if spec is None or spec.origin is None:
        return []
    libs = os.path.dirname(spec.origin) + ".libs"
    found: list[str] = []
    for pattern in ("libscipy_openblas*.so*", "libopenblas*.so*"):
        found.extend(sorted(glob.glob(os.path.join(libs, pattern))))
    return found


def _loaded_blas() -> list[str]:
    """BLAS libraries in this process after loading scipy's, scipy's first."""
    import scipy.linalg.blas  # noqa: F401  (makes sure scipy's BLAS is loaded)
    from threadpoolctl import threadpool_info

    libraries = [i["filepath"] for i in threadpool_info() if i.get("user_api") == "blas"]
    # Prefer scipy's own library: its kernels are what scipy.linalg uses.
    libraries.sort(key=lambda path: "scipy" not in path)
    return libraries


def library_candidates() -> Iterator[str]:
    """BLAS libraries to look for CBLAS symbols in: scipy's bundled OpenBLAS first.

    The libraries loaded in the process (after importing :mod:`scipy.linalg`, which is slow)
    are only listed when the bundled ones are exhausted.
    """
    yield from _scipy_bundled_blas()
    yield from _loaded_blas()


def load_blas() -> None:
    """Load the BLAS that :func:`syrk_lower` will call.

    Call it before bounding thread pools (:func:`heritcli.threads.limit_threads`):
    threadpoolctl only limits libraries that are already loaded.
    """
    _cblas_syrk("s")
    _cblas_syrk("d")


@lru_cache(maxsize=2)
def _cblas_syrk(prefix: str) -> tuple[Callable[..., None], bool] | None:
    """The ctypes function for ``cblas_{s,d}syrk`` of scipy's BLAS (or another loaded one)."""
    return _find_cblas(prefix, library_candidates())


def _find_cblas(prefix: str, libraries: Iterable[str]) -> tuple[Callable[..., None], bool] | None:
    for path in libraries:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for pattern, wide in _CANDIDATES:
            function = getattr(library, pattern.format(p=prefix), None)
            if function is None:
                continue
            integer = ctypes.c_int64 if wide else ctypes.c_int
            real = ctypes.c_float if prefix == "s" else ctypes.c_double
            function.restype = None
            function.argtypes = [
                ctypes.c_int, ctypes.c_int, ctypes.c_int,  # order, uplo, trans
                integer, integer, real,  # n, k, alpha
                ctypes.c_void_p, integer, real,  # a, lda, beta
                ctypes.c_void_p, integer,  # c, ldc
            ]  # fmt: skip
            return function, wide
    return None


def syrk_lower(a_rows: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``C ← C + AᵀA`` on the lower triangle of ``C``, where ``a_rows`` is ``A`` (k × n).

    Parameters
    ----------
    a_rows : ndarray, shape (k, n), C-contiguous, float32 or float64
        k rows (SNPs) of n columns (samples).
    c : ndarray, shape (n, n), Fortran-contiguous, same dtype
        Updated in place (lower triangle).

    Returns
    -------
    ndarray
        ``c`` (the same object).
    """
    k, n = a_rows.shape
    if c.shape != (n, n) or not c.flags.f_contiguous or c.dtype != a_rows.dtype:
        raise ValueError("c must be a Fortran-ordered n x n matrix of the same dtype")
    if k == 0:
        return c
    a_rows = np.ascontiguousarray(a_rows)
    prefix = "s" if a_rows.dtype == np.float32 else "d"
    found = _cblas_syrk(prefix)
    if found is None:
        from scipy.linalg import blas

        routine = blas.ssyrk if prefix == "s" else blas.dsyrk
        result = routine(1.0, a_rows.T, beta=1.0, c=c, lower=1, overwrite_c=1)
        if result is not c:  # pragma: no cover - scipy copies only for unexpected layouts
            c[...] = result
        return c
    function, _ = found
    # The C-ordered (k, n) array is, read column-major, the n × k matrix M = Aᵀ with
    # leading dimension n; cblas ?syrk with NoTrans adds M Mᵀ = AᵀA.
    function(
        _COL_MAJOR, _LOWER, _NO_TRANS, n, k, 1.0,
        a_rows.ctypes.data, n, 1.0, c.ctypes.data, n,
    )  # fmt: skip
    return c


def uses_ctypes_blas() -> bool:
    """Whether :func:`syrk_lower` found a GIL-free CBLAS entry point."""
    return _cblas_syrk("s") is not None
