"""make-grm in parts: row bands of the lower triangle, merged into the one-shot GRM.

Oracles: the one-shot run of the same command (bit-for-bit equality of the
stored matrices and of the artifact fingerprint, which hashes the stored bytes,
where the BLAS rounds bands as it rounds the whole matrix, else agreement to the
rounding of float32 products; see :func:`helpers.assert_same_grm`), and a dense
float64 ``Z Zᵀ / N`` from the decoded genotypes.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import assert_same_grm, random_counts
from hypothesis import given, settings
from hypothesis import strategies as st

from heritcli.api import allele_frequencies, make_grm, merge_grm
from heritcli.core.blas_band import band_update
from heritcli.core.grm import (
    GrmAccumulator,
    band_rows,
    bands_match_whole,
    blas_chunk_snps,
    dense_grm,
    grm_rows,
    part_bounds,
    symmetrize_lower,
)
from heritcli.core.standardize import block_stats, standardize
from heritcli.errors import UsageError
from heritcli.io.artifact import hash_ids, read_strings
from heritcli.io.plink import write_bfile


def _read(path: Path) -> tuple[np.ndarray, np.ndarray | None, str]:
    with h5py.File(path) as handle:
        values = handle["grm/values"][()]
        pairs = handle["grm/n_pairs"][()] if "grm/n_pairs" in handle else None
        return values, pairs, str(handle.attrs["fingerprint"])


@pytest.fixture(scope="module")
def fileset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """61 samples × 700 SNPs, 1 % missing calls, one monomorphic SNP."""
    rng = np.random.default_rng(11)
    counts = random_counts(rng, 700, 61, 0.01)
    counts[5] = 2
    prefix = tmp_path_factory.mktemp("parts") / "data"
    write_bfile(prefix, counts)
    return prefix


@pytest.fixture(scope="module")
def one_shot(fileset: Path) -> Path:
    make_grm(fileset, out=fileset.with_name("one"))
    return fileset.with_name("one.h5")


# -- row bounds ------------------------------------------------------------------------------


@given(n=st.integers(1, 3000), data=st.data())
@settings(max_examples=60, deadline=None)
def test_part_bounds__cover_rows_in_order_with_equal_work(n: int, data: st.DataObject) -> None:
    n_parts = data.draw(st.integers(1, min(n, 50)))
    bounds = part_bounds(n, n_parts)
    assert bounds[0] == 0 and bounds[-1] == n and len(bounds) == n_parts + 1
    assert all(b > a for a, b in itertools.pairwise(bounds))
    if n >= 100 * n_parts:
        # Each part holds about 1/N of the n(n+1)/2 lower-triangle entries.
        area = np.diff([r * (r + 1) / 2 for r in bounds])
        assert np.all(np.abs(area / (n * (n + 1) / 2) - 1 / n_parts) < 0.02)


def test_part_bounds__more_parts_than_rows_is_an_error() -> None:
    with pytest.raises(ValueError):
        part_bounds(5, 6)


# -- the band kernels ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("r0", "r1"), [(0, 9), (3, 9), (8, 9), (0, 1)])
def test_band_update__equals_dense_product(dtype: type, r0: int, r1: int) -> None:
    rng = np.random.default_rng(r0 * 10 + r1)
    z = rng.standard_normal((37, r1)).astype(dtype)
    c = np.zeros((r1 - r0, r1), dtype=dtype, order="F")
    band_update(z, r0, c)
    band_update(z, r0, c)
    expected = 2 * (z[:, r0:].T.astype(np.float64) @ z.astype(np.float64))
    lower = np.arange(r1)[None, :] <= (r0 + np.arange(r1 - r0))[:, None]
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(c[lower], expected[lower], rtol=tol, atol=tol)
    assert np.all(c[~lower] == 0)


def _accumulate(z, mask, sizes, **kwargs):
    acc = GrmAccumulator(z.shape[1], max_snps=z.shape[0], **kwargs)
    width = acc.width
    start = 0
    for size in sizes:
        block, miss = z[start : start + size, :width], mask[start : start + size, :width]
        if block.shape[0] == 0:
            break
        rows, cols = np.nonzero(miss)
        acc.add(np.ascontiguousarray(block), (rows, cols) if rows.size else None)
        start += size
    return acc.finish()


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_band__equals_rows_of_the_whole_accumulation(precision: str) -> None:
    """Bands from blocks of other sizes against the whole matrix from blocks of random sizes."""
    rng = np.random.default_rng(5)
    n, m = 90, 9000
    dtype = np.float32 if precision == "float32" else np.float64
    z = rng.standard_normal((m, n)).astype(dtype)
    mask = rng.random((m, n)) < 0.01
    z[mask] = 0
    whole = _accumulate(z, mask, rng.integers(1, 3000, 50), precision=precision)
    symmetrize_lower(whole.zz)
    symmetrize_lower(whole.ss)
    values, counts = grm_rows(whole, 0, n)
    for r0, r1 in [(0, 20), (20, 61), (61, 90)]:
        band = _accumulate(z, mask, [777] * 20, precision=precision, rows=(r0, r1))
        got, got_counts = band_rows(band)
        lower = np.arange(r1)[None, :] <= (r0 + np.arange(r1 - r0))[:, None]
        np.testing.assert_array_equal(got_counts[lower], counts[r0:r1, :r1][lower])
        if precision == "float32" and bands_match_whole():
            # Same chunks of blas_chunk_snps(n) SNPs, same flushes: bit for bit.
            np.testing.assert_array_equal(got[lower], values[r0:r1, :r1][lower])
        elif precision == "float32":
            # Kernels that round an entry by where it falls in the call: float32 products.
            np.testing.assert_allclose(got[lower], values[r0:r1, :r1][lower], rtol=0, atol=1e-6)
        else:
            # dgemm and dsyrk kernels may order their inner sums differently (see GrmAccumulator).
            np.testing.assert_allclose(got[lower], values[r0:r1, :r1][lower], rtol=0, atol=1e-13)
    assert blas_chunk_snps(n) in (256, 512, 1024, 2048, 4096)


# -- make-grm --part -------------------------------------------------------------------------


@pytest.mark.parametrize("n_parts", [1, 3, 7])
def test_parts__merged_equal_one_shot_exactly(
    fileset: Path, one_shot: Path, tmp_path: Path, n_parts: int
) -> None:
    for index in range(1, n_parts + 1):
        # A block size other than the one-shot's: the accumulation does not depend on it.
        result = make_grm(fileset, out=tmp_path / "g", part=f"{index}/{n_parts}", block_snps=97)
        assert Path(result.path).name == f"g.part_{n_parts}_{index}.h5"
    paths = sorted(tmp_path.glob(f"g.part_{n_parts}_*.h5"))
    assert len(paths) == n_parts
    merge_grm(paths[::-1], tmp_path / "merged")
    assert_same_grm(tmp_path / "merged.h5", one_shot)


def test_parts__files_store_only_chunks_reaching_the_lower_triangle(tmp_path: Path) -> None:
    """600 samples: part 1 of 3 is the square of rows 0:346, stored in 256 × 256 chunks, of
    which the one wholly above the diagonal (rows 0:256, columns 256:346) is not written."""
    rng = np.random.default_rng(3)
    prefix = tmp_path / "wide"
    write_bfile(prefix, random_counts(rng, 50, 600, 0.01))
    make_grm(prefix, out=tmp_path / "one")
    for index in (1, 2, 3):
        make_grm(prefix, out=tmp_path / "g", part=f"{index}/3")
    with h5py.File(tmp_path / "g.part_3_1.h5") as handle:
        assert handle.attrs["row_stop"] == 346
        for name in ("values", "n_pairs"):
            dataset = handle[f"part/{name}"]
            assert dataset.chunks == (256, 256)
            assert dataset.id.get_num_chunks() == 3  # of the 4 the square spans
            band = dataset[()]
            assert not band[np.triu_indices(346, 1)].any()
            assert band[np.tril_indices(346)].all()  # no zero entry: counts and values set
        # The fingerprint: samples, the part's place, the stored values row by row.
        ids = hash_ids(read_strings(handle["samples/fid"]), read_strings(handle["samples/iid"]))
        digest = hashlib.sha256(ids.encode())
        digest.update(b"1/3:0")
        digest.update(handle["part/values"][()].tobytes())
        assert handle.attrs["fingerprint"] == digest.hexdigest()
    merge_grm(sorted(tmp_path.glob("g.part_3_*.h5")), tmp_path / "merged")
    assert_same_grm(tmp_path / "merged.h5", tmp_path / "one.h5")


def test_parts__equal_dense_oracle(fileset: Path, tmp_path: Path) -> None:
    from heritcli.io.plink import open_bfile

    for index in (1, 2, 3):
        make_grm(fileset, out=tmp_path / "g", part=f"{index}/3")
    merge_grm(sorted(tmp_path.glob("g.part_3_*.h5")), tmp_path / "m")
    values, pairs, _ = _read(tmp_path / "m.h5")
    counts = open_bfile(fileset).read_counts(0, 700)
    stats = block_stats(counts)
    keep = stats.maf > 0
    z = standardize(counts[keep], stats.freq[keep], dtype=np.float64)
    expected = dense_grm(z, counts[keep] < 0)
    # float32 products over chunks, float64 sums, float32 storage: about 1e-7 relative.
    np.testing.assert_allclose(values, expected, atol=2e-6)
    present = (counts[keep] >= 0).astype(float)
    np.testing.assert_array_equal(pairs, present.T @ present)


def test_parts__with_keep_subset_and_float64(fileset: Path, tmp_path: Path) -> None:
    keep = tmp_path / "keep.txt"
    keep.write_text("".join(f"fam{i} ind{i}\n" for i in range(0, 61, 2)))
    options = {"keep": str(keep), "dtype": "float64", "maf": 0.1}
    make_grm(fileset, out=tmp_path / "one", **options)
    for index in (1, 2, 3, 4):
        make_grm(fileset, out=tmp_path / "g", part=f"{index}/4", **options)
    merge_grm(sorted(tmp_path.glob("g.part_4_*.h5")), tmp_path / "m")
    values, pairs, _ = _read(tmp_path / "m.h5")
    expected, expected_pairs, _ = _read(tmp_path / "one.h5")
    assert values.shape == (31, 31) and values.dtype == np.float64
    np.testing.assert_array_equal(pairs, expected_pairs)
    # float64 bands: to the rounding of float64 sums (see test_band__equals_rows_...).
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-13)


def test_parts__filters_and_pair_counts_see_the_samples_after_the_band(tmp_path: Path) -> None:
    """Each part standardizes only its first r1 samples, but frequencies, filters and the
    pair-count layout come from every sample, as in the one-shot run."""
    rng = np.random.default_rng(5)
    counts = random_counts(rng, 300, 40, 0.0)
    counts[:, :30] = 0  # the first 30 samples are homozygous everywhere ...
    counts[7, 30:] = 0  # ... SNP 7 is monomorphic over all samples, SNP 8 nearly so
    counts[8, 30:] = 0
    counts[8, 39] = 1
    counts[11:20, 38:] = -1  # missing calls in the last samples only: 5 % (dropped) ...
    counts[25, 39] = -1  # ... and 2.5 % (kept)
    prefix = tmp_path / "edge"
    write_bfile(prefix, counts)
    options = {"maf": 0.02, "geno": 0.04}
    one = make_grm(prefix, out=tmp_path / "one", **options)
    with h5py.File(tmp_path / "one.h5") as whole:
        reason = whole["snps/reason"][()].astype(str)
    assert reason[7] == "monomorphic" and reason[8] == "maf"
    assert (reason[11:20] == "geno").all() and one.any_missing
    for index in (1, 2, 3):
        part = make_grm(prefix, out=tmp_path / "g", part=f"{index}/3", **options)
        assert part.snps_dropped == one.snps_dropped and part.any_missing
    merge_grm(sorted(tmp_path.glob("g.part_3_*.h5")), tmp_path / "m")
    assert_same_grm(tmp_path / "m.h5", tmp_path / "one.h5")
    with h5py.File(tmp_path / "m.h5") as merged, h5py.File(tmp_path / "one.h5") as whole:
        for name in ("snps/freq", "snps/reason"):
            np.testing.assert_array_equal(merged[name][()], whole[name][()])


def test_parts__more_parts_than_samples_is_a_clear_error(fileset: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="only 61 samples, so at most 61 parts"):
        make_grm(fileset, out=tmp_path / "g", part="1/62")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0"])
def test_parts__malformed_part_is_a_usage_error(fileset: Path, tmp_path: Path, text: str) -> None:
    with pytest.raises(UsageError, match="--part"):
        make_grm(fileset, out=tmp_path / "g", part=text)


def test_parts__rerun_skips_complete_part_and_redoes_changed_one(
    fileset: Path, tmp_path: Path
) -> None:
    first = make_grm(fileset, out=tmp_path / "g", part="2/3")
    again = make_grm(fileset, out=tmp_path / "g", part="2/3")
    assert not first.skipped and again.skipped and again.fingerprint == first.fingerprint
    forced = make_grm(fileset, out=tmp_path / "g", part="2/3", force=True)
    assert not forced.skipped
    changed = make_grm(fileset, out=tmp_path / "g", part="2/3", maf=0.2)
    assert not changed.skipped and changed.n_snps_used < first.n_snps_used


# -- frequencies fixed beforehand ------------------------------------------------------------


def test_freq_file__herit_table_reproduces_the_computed_grm(
    fileset: Path, one_shot: Path, tmp_path: Path
) -> None:
    table = allele_frequencies(fileset, out=tmp_path / "data")
    assert Path(table.path).name == "data.freq"
    make_grm(fileset, out=tmp_path / "with_freq", freq=table.path)
    for index in (1, 2):
        make_grm(fileset, out=tmp_path / "g", part=f"{index}/2", freq=table.path)
    merge_grm(sorted(tmp_path.glob("g.part_2_*.h5")), tmp_path / "m")
    # Frequencies are written with repr(), so they read back to the same float64.
    assert _read(tmp_path / "with_freq.h5")[2] == _read(one_shot)[2]
    assert_same_grm(tmp_path / "m.h5", one_shot)


def _plink_frequency_files(tmp_path: Path) -> tuple[Path, np.ndarray, Path, Path]:
    """A 3-SNP fileset and plink1.9/plink2 frequency files giving chosen frequencies."""
    rng = np.random.default_rng(2)
    prefix = tmp_path / "tiny"
    write_bfile(prefix, random_counts(rng, 3, 20))
    # Frequencies of the .bim's A1 ("A") that the files below describe.
    wanted = np.array([0.25, 0.6, 0.125])
    frq = tmp_path / "tiny.frq"  # plink1.9: MAF of that file's A1; SNP 1 given for allele G.
    frq.write_text(
        " CHR  SNP   A1   A2          MAF  NCHROBS\n"
        "   1  snp0    A    G         0.25       40\n"
        "   1  snp1    G    A          0.4       40\n"
        "   1  snp2    A    G        0.125       40\n"
    )
    afreq = tmp_path / "tiny.afreq"  # plink2: ALT frequency; ALT is A except for snp2.
    afreq.write_text(
        "#CHROM\tID\tREF\tALT\tPROVISIONAL_REF?\tALT_FREQS\tOBS_CT\n"
        "1\tsnp0\tG\tA\tY\t0.25\t40\n"
        "1\tsnp1\tG\tA\tY\t0.6\t40\n"
        "1\tsnp2\tA\tG\tY\t0.875\t40\n"
    )
    return prefix, wanted, frq, afreq


def test_freq_file__plink_layouts_and_flipped_alleles(tmp_path: Path) -> None:
    from heritcli.allele_freq import read_freq_file
    from heritcli.io.plink import open_bfile

    prefix, wanted, frq, afreq = _plink_frequency_files(tmp_path)
    bim = open_bfile(prefix).bim
    for path in (frq, afreq):
        np.testing.assert_allclose(read_freq_file(path, bim, np.arange(3)), wanted, rtol=1e-15)


def test_freq_file__standardizes_with_the_given_frequencies(tmp_path: Path) -> None:
    from heritcli.io.plink import open_bfile

    prefix, wanted, frq, _ = _plink_frequency_files(tmp_path)
    make_grm(prefix, out=tmp_path / "g", freq=str(frq), dtype="float64")
    values, _, _ = _read(tmp_path / "g.h5")
    counts = open_bfile(prefix).read_counts(0, 3).astype(float)
    z = (counts - 2 * wanted[:, None]) / np.sqrt(2 * wanted * (1 - wanted))[:, None]
    np.testing.assert_allclose(values, z.T @ z / 3, rtol=1e-12)


def test_freq_file__allele_mismatch_and_absent_snp_name_the_problem(tmp_path: Path) -> None:
    from heritcli.errors import InputError

    prefix, _, frq, _ = _plink_frequency_files(tmp_path)
    good = frq.read_text()
    frq.write_text(good.replace("snp1    G    A", "snp1    C    T"))
    with pytest.raises(InputError, match=r"line 3: alleles C/T of snp1 do not match"):
        make_grm(prefix, out=tmp_path / "g", freq=str(frq))
    frq.write_text("".join(good.splitlines(True)[:3]))
    with pytest.raises(InputError, match=r"no line for 1 of the 3 variants used \(first: snp2\)"):
        make_grm(prefix, out=tmp_path / "g", freq=str(frq))
    assert not (tmp_path / "g.h5").exists()
