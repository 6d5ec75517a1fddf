"""Decoding PLINK .bed files, checked against published fixtures and plink1.9 itself.

Expected values come from tests/data/README.md: pandas-plink's ``data.bed``
(decoded matrix printed in its documentation), bed-reader's ``some_missing``
(its ``some_missing.val.npy``) and ``plink_sim_10s_100v_10pmiss`` (mean −13.142
with missing = −127, from bed-reader's tests), and plink1.9 ``--recode A`` output.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import DATA, random_counts

from heritcli.errors import InputError
from heritcli.io.plink import open_bfile, read_bim, write_bfile

DECODE = DATA / "decode"


def _as_float(counts: np.ndarray) -> np.ndarray:
    values = counts.astype(float)
    values[counts < 0] = np.nan
    return values


def test_read_counts__pandas_plink_fixture() -> None:
    fileset = open_bfile(DECODE / "pandas_plink" / "data")
    expected = np.array(
        [
            [0, 0, np.nan, np.nan, 0, 0, 0, 0, 1, 0],
            [0, 1, np.nan, np.nan, 0, 0, 1, 0, 0, 1],
            [1, 0, np.nan, 1, 0, 0, 2, 0, 0, 0],
        ]
    )
    decoded = _as_float(fileset.read_counts(0, fileset.n_snps).T)
    np.testing.assert_array_equal(decoded, expected)


def test_read_counts__bed_reader_some_missing() -> None:
    fileset = open_bfile(DECODE / "bed_reader" / "some_missing")
    expected = np.load(DECODE / "bed_reader" / "some_missing.val.npy")
    np.testing.assert_array_equal(_as_float(fileset.read_counts(0, fileset.n_snps).T), expected)


def test_read_counts__bed_reader_sim_mean() -> None:
    fileset = open_bfile(DECODE / "bed_reader" / "plink_sim_10s_100v_10pmiss")
    counts = fileset.read_counts(0, fileset.n_snps).astype(np.int64)
    counts[counts < 0] = -127
    assert counts.mean() == pytest.approx(-13.142, abs=1e-12)


@pytest.mark.parametrize("name", ["some_missing", "plink_sim_10s_100v_10pmiss", "small"])
def test_read_counts__matches_plink19_recode(name: str) -> None:
    fileset = open_bfile(DECODE / "bed_reader" / name)
    expected = np.load(DECODE / "bed_reader" / f"{name}.plink19_A1.npy")
    decoded = _as_float(fileset.read_counts(0, fileset.n_snps).T)
    np.testing.assert_array_equal(decoded, expected)


def test_read_counts__matches_pandas_plink_on_hapmap3() -> None:
    from pandas_plink import read_plink1_bin

    prefix = DATA / "hapmap3" / "hm3"
    fileset = open_bfile(prefix)
    ours = _as_float(fileset.read_counts(100, 400))
    # pandas-plink counts the second allele (.bim column 6) by default; ref="a0" counts A1.
    theirs = read_plink1_bin(str(prefix) + ".bed", verbose=False, ref="a0")
    theirs = np.asarray(theirs[:, 100:400].values, dtype=float).T
    np.testing.assert_array_equal(ours, theirs)


def test_read_snps__subset_and_samples(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    counts = random_counts(rng, 37, 23, missing_rate=0.1)
    write_bfile(tmp_path / "x", counts)
    fileset = open_bfile(tmp_path / "x")
    snps = np.array([3, 4, 10, 36])
    samples = np.array([22, 0, 5])
    np.testing.assert_array_equal(fileset.read_snps(snps, samples), counts[np.ix_(snps, samples)])
    np.testing.assert_array_equal(fileset.read_counts(2, 9, samples), counts[2:9][:, samples])


def test_read_bim__messy_mouse_file() -> None:
    bim = read_bim(DATA.parent.parent / "example_data" / "example.bim")
    assert bim.n_snps == 12226
    assert (bim.pos == -9).sum() == 1926
    assert (bim.a1 == bim.a2).sum() == 1230


@pytest.fixture
def small_bfile(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    write_bfile(tmp_path / "d", random_counts(rng, 20, 10, 0.05))
    return tmp_path / "d"


def _rewrite(path: Path, data: bytes) -> None:
    path.write_bytes(data)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda p: _rewrite(
                p.with_suffix(".bed"), b"\x00\x00\x01" + p.with_suffix(".bed").read_bytes()[3:]
            ),
            "not a PLINK 1 .bed",
        ),
        (
            lambda p: _rewrite(
                p.with_suffix(".bed"), b"\x6c\x1b\x00" + p.with_suffix(".bed").read_bytes()[3:]
            ),
            "individual-major",
        ),
        (
            lambda p: _rewrite(p.with_suffix(".bed"), p.with_suffix(".bed").read_bytes()[:-7]),
            "looks truncated",
        ),
        (
            lambda p: _rewrite(p.with_suffix(".bed"), p.with_suffix(".bed").read_bytes() + b"\x00"),
            "trailing bytes",
        ),
        (lambda p: _rewrite(p.with_suffix(".bed"), b""), "first bytes none"),
        (
            lambda p: p.with_suffix(".bim").write_text(
                "".join(p.with_suffix(".bim").read_text().splitlines(True)[:-1])
            ),
            "fits 20 variants of 10 samples",
        ),
        (
            lambda p: p.with_suffix(".fam").write_text(
                p.with_suffix(".fam").read_text()
                + "x y 0 0 0 -9\n" * 1
                + "x z 0 0 0 -9\nx w 0 0 0 -9\n"
            ),
            "20 variants of 9 to 12 samples",
        ),
        (
            lambda p: p.with_suffix(".fam").write_text(
                p.with_suffix(".fam").read_text().replace("fam1 ind1", "fam0 ind0")
            ),
            "duplicate sample ID 'fam0 ind0'",
        ),
        (
            lambda p: p.with_suffix(".fam").write_text("a b c\n"),
            "line 1: expected at least 6 columns",
        ),
        (lambda p: p.with_suffix(".bim").write_text("1 rs1 0 12x A G\n"), "position '12x'"),
        (lambda p: p.with_suffix(".fam").unlink(), "missing PLINK file"),
        (lambda p: p.with_suffix(".fam").write_bytes(b"\xff\xfe\n"), "not UTF-8"),
    ],
)
def test_open_bfile__malformed(small_bfile: Path, mutate, message: str) -> None:
    mutate(small_bfile)
    with pytest.raises(InputError) as info:
        open_bfile(small_bfile)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_open_bfile__accepts_prefix_with_extension(small_bfile: Path) -> None:
    fileset = open_bfile(str(small_bfile) + ".bed")
    assert fileset.n_samples == 10


def test_open_bfile__copy_of_real_data(tmp_path: Path) -> None:
    for ext in (".bed", ".bim", ".fam"):
        shutil.copy(DATA / "bxd" / f"BXD{ext}", tmp_path / f"b{ext}")
    fileset = open_bfile(tmp_path / "b")
    assert (fileset.n_samples, fileset.n_snps) == (198, 7320)


@pytest.mark.parametrize("n_samples", [1, 4, 7, 23])
def test_missing_positions__equal_decoded_missing_calls(tmp_path: Path, n_samples: int) -> None:
    from heritcli.io.plink import missing_positions

    rng = np.random.default_rng(n_samples)
    counts = random_counts(rng, 30, n_samples, missing_rate=0.2)
    write_bfile(tmp_path / "m", counts)
    fileset = open_bfile(tmp_path / "m")
    packed = fileset.read_packed(0, 30)
    rows, cols = missing_positions(packed, n_samples)
    expected = set(zip(*np.nonzero(counts < 0), strict=True))
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == expected
    keep = rng.permutation(n_samples)[: max(1, n_samples // 2)]
    rows, cols = missing_positions(packed, n_samples, keep)
    expected = set(zip(*np.nonzero(counts[:, keep] < 0), strict=True))
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == expected
