"""The GIL-free ctypes syrk and the scipy fallback compute the same lower triangle as numpy."""

from __future__ import annotations

import numpy as np
import pytest

from heritcli.core import blas


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("use_ctypes", [True, False])
def test_syrk_lower_matches_dense_product(
    dtype: type[np.floating], use_ctypes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if use_ctypes:
        assert blas.uses_ctypes_blas(), "no CBLAS entry point found in scipy's BLAS"
    else:
        monkeypatch.setattr(blas, "_cblas_syrk", lambda prefix: None)
    rng = np.random.default_rng(3)
    a = rng.standard_normal((37, 23)).astype(dtype)
    start = rng.standard_normal((23, 23)).astype(dtype)
    c = np.asfortranarray(start.copy())
    blas.syrk_lower(a, c)
    expected = start.astype(np.float64) + a.T.astype(np.float64) @ a.astype(np.float64)
    lower = np.tril_indices(23)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(c[lower], expected[lower], rtol=tol, atol=tol)
    upper = np.triu_indices(23, 1)
    np.testing.assert_array_equal(c[upper], start[upper])  # untouched


def test_load_blas_makes_the_syrk_library_visible_to_thread_limits() -> None:
    from threadpoolctl import threadpool_info

    blas.load_blas()
    found = blas._cblas_syrk("s")
    assert found is not None
    loaded = [info["filepath"] for info in threadpool_info() if info.get("user_api") == "blas"]
    assert any("scipy" in path for path in loaded)
