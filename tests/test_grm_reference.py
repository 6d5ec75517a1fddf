"""herit's GRM against plink1.9 ``--make-grm-bin`` on real data with missing genotypes.

Reference files (tests/data/README.md gives provenance and the exact commands):
plink1.9 v1.90b6.26 (Debian) on HapMap 3 (957 × 14,079, from flashpca's test data)
with no filter, ``--keep keep.txt``, ``--maf 0.2``, ``--extract extract.txt`` and
``--keep keep.txt --maf 0.1 --geno 0.02``; and the first 300 rows of plink1.9's GRM
of GCTA's test data (3,925 × 1,000).
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import DATA

from heritcli.api import make_grm
from heritcli.io.gcta import read_gcta_grm

HM3 = DATA / "hapmap3"


def _reference(name: str, tmp_path: Path):
    """Read ``ref_<name>.grm.*``, decompressing a gzipped ``.grm.N.bin`` if needed."""
    for suffix in (".grm.bin", ".grm.id", ".grm.N.bin"):
        source = HM3 / f"ref_{name}{suffix}"
        if source.exists():
            shutil.copy(source, tmp_path / f"ref{suffix}")
        elif Path(str(source) + ".gz").exists():
            with (
                gzip.open(str(source) + ".gz", "rb") as src,
                open(tmp_path / f"ref{suffix}", "wb") as dst,
            ):
                shutil.copyfileobj(src, dst)
    return read_gcta_grm(tmp_path / "ref")


CASES = {
    "all": {},
    "keep": {"keep": HM3 / "keep.txt"},
    "maf": {"maf": 0.2},
    "extract": {"extract": HM3 / "extract.txt"},
    "combo": {"keep": HM3 / "keep.txt", "maf": 0.1, "geno": 0.02},
}
#: Variants left according to each plink1.9 log (ref_<name>.log in tests/data/hapmap3).
PLINK_VARIANTS = {"combo": 13448}


@pytest.mark.parametrize("name", sorted(CASES))
def test_make_grm__matches_plink19_hapmap3(name: str, tmp_path: Path) -> None:
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in CASES[name].items()}
    result = make_grm(HM3 / "hm3", out=tmp_path / "herit", **options)
    reference = _reference(name, tmp_path)
    with h5py.File(tmp_path / "herit.h5") as handle:
        values = handle["grm/values"][()]
        pairs = handle["grm/n_pairs"][()]
        iid = handle["samples/iid"].asstr()[()]
    np.testing.assert_array_equal(iid, reference.iid)
    np.testing.assert_allclose(values, reference.values, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(pairs, reference.n_pairs)
    if name in PLINK_VARIANTS:
        assert result.n_snps_used == PLINK_VARIANTS[name]


def test_make_grm__hapmap3_mean_diagonal(tmp_path: Path) -> None:
    # 1.033297: mean diagonal of the plink1.9 GRM, stated with the shared reference data.
    result = make_grm(HM3 / "hm3", out=tmp_path / "g")
    assert result.diag_mean == pytest.approx(1.033297, abs=5e-7)


def test_make_grm__matches_plink19_gcta_test_first300(tmp_path: Path) -> None:
    make_grm(DATA / "gcta_test" / "test", out=tmp_path / "g")
    n_rows = 300
    count = n_rows * (n_rows + 1) // 2
    ref_values = np.fromfile(DATA / "gcta_test" / "test.first300.grm.bin", dtype="<f4")
    ref_pairs = np.fromfile(DATA / "gcta_test" / "test.first300.grm.N.bin", dtype="<f4")
    assert ref_values.size == count and ref_pairs.size == count
    rows, cols = np.tril_indices(n_rows)
    with h5py.File(tmp_path / "g.h5") as handle:
        values = handle["grm/values"][:n_rows, :n_rows]
        pairs = handle["grm/n_pairs"][:n_rows, :n_rows]
    np.testing.assert_allclose(values[rows, cols], ref_values, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(pairs[rows, cols], ref_pairs)
