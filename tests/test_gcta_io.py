"""GCTA binary GRM interchange: export → import round trips, and length checks."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import DATA, random_counts

from heritcli.api import export_grm, import_grm, make_grm
from heritcli.errors import InputError
from heritcli.io.gcta import read_gcta_grm
from heritcli.io.plink import write_bfile


def test_export_grm__byte_identical_to_plink19(tmp_path: Path) -> None:
    # plink1.9 writes the same float32 values we compute to within rounding; the
    # ids file must match exactly and the values to float32 precision.
    make_grm(DATA / "hapmap3" / "hm3", out=tmp_path / "g")
    export_grm(tmp_path / "g.h5", tmp_path / "exported")
    ours = read_gcta_grm(tmp_path / "exported")
    ref = read_gcta_grm(DATA / "hapmap3" / "ref_all")
    assert (tmp_path / "exported.grm.bin").stat().st_size == (
        DATA / "hapmap3" / "ref_all.grm.bin"
    ).stat().st_size
    np.testing.assert_array_equal(ours.iid, ref.iid)
    np.testing.assert_allclose(ours.values, ref.values, atol=1e-5)
    np.testing.assert_array_equal(ours.n_pairs, ref.n_pairs)


@pytest.mark.parametrize("missing_rate", [0.0, 0.05])
def test_export_import__round_trip(tmp_path: Path, missing_rate: float) -> None:
    rng = np.random.default_rng(8)
    write_bfile(tmp_path / "x", random_counts(rng, 120, 17, missing_rate))
    make_grm(tmp_path / "x", out=tmp_path / "a")
    export_grm(tmp_path / "a.h5", tmp_path / "gcta")
    import_grm(tmp_path / "gcta", tmp_path / "b")
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        np.testing.assert_array_equal(a["grm/values"][()], b["grm/values"][()])
        np.testing.assert_array_equal(a["samples/fid"][()], b["samples/fid"][()])
        np.testing.assert_array_equal(a["samples/iid"][()], b["samples/iid"][()])
        assert ("grm/n_pairs" in a) == ("grm/n_pairs" in b)
        if "grm/n_pairs" in a:
            np.testing.assert_array_equal(a["grm/n_pairs"][()], b["grm/n_pairs"][()])
        # Same content gives the same fingerprint, whatever the route.
        assert a.attrs["fingerprint"] == b.attrs["fingerprint"]
    # And back out again: byte-identical GCTA files.
    export_grm(tmp_path / "b.h5", tmp_path / "again")
    for suffix in (".grm.bin", ".grm.N.bin", ".grm.id"):
        assert (tmp_path / f"gcta{suffix}").read_bytes() == (
            tmp_path / f"again{suffix}"
        ).read_bytes()


def test_read_gcta_grm__wrong_length(tmp_path: Path) -> None:
    (tmp_path / "p.grm.id").write_text("a a\nb b\nc c\n")
    np.zeros(5, dtype="<f4").tofile(tmp_path / "p.grm.bin")
    with pytest.raises(InputError, match="has 20 bytes; 3 samples need 24 bytes"):
        read_gcta_grm(tmp_path / "p")


def test_read_gcta_grm__layout(tmp_path: Path) -> None:
    # K[0,0], K[1,0], K[1,1], K[2,0], K[2,1], K[2,2] — GCTA's documented order.
    (tmp_path / "p.grm.id").write_text("a a\nb b\nc c\n")
    np.array([1, 2, 3, 4, 5, 6], dtype="<f4").tofile(tmp_path / "p.grm.bin")
    grm = read_gcta_grm(str(tmp_path / "p") + ".grm.bin")
    np.testing.assert_array_equal(grm.values, [[1, 2, 4], [2, 3, 5], [4, 5, 6]])
    assert grm.n_pairs is None
