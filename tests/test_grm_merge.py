"""herit merge-grm: checks on parts, and GRMs of disjoint SNP sets (per chromosome).

Oracles: the whole-genome GRM built in one run, and dense numpy computations of
``Σ N_c K_c / Σ N_c`` and of the symmetric matrix from its lower-triangle bands.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import random_counts

from heritcli.api import make_grm, merge_grm
from heritcli.core.grm import part_bounds
from heritcli.errors import ArtifactMismatchError, DataError, UsageError
from heritcli.grm_merge import assemble_rows, combine_snp_sets, read_grm_list
from heritcli.grm_parts import GrmBand
from heritcli.io.plink import write_bfile


def _values(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    with h5py.File(path) as handle:
        pairs = handle["grm/n_pairs"][()] if "grm/n_pairs" in handle else None
        return handle["grm/values"][()], pairs


@pytest.fixture(scope="module")
def genome(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 samples × 600 SNPs on chromosomes 1-3 (200 each), 2 % missing calls."""
    rng = np.random.default_rng(21)
    prefix = tmp_path_factory.mktemp("merge") / "genome"
    write_bfile(prefix, random_counts(rng, 600, 40, 0.02))
    bim = prefix.with_suffix(".bim")
    lines = bim.read_text().splitlines()
    bim.write_text("".join(f"{1 + j // 200}\t" + line.split("\t", 1)[1] + "\n"
                           for j, line in enumerate(lines)))  # fmt: skip
    return prefix


@pytest.fixture(scope="module")
def parts(genome: Path) -> list[Path]:
    for index in (1, 2, 3):
        make_grm(genome, out=genome.with_name("p"), part=f"{index}/3")
    return sorted(genome.parent.glob("p.part_3_*.h5"))


# -- the pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "stop"), [(0, 13), (5, 6), (12, 31), (0, 31), (30, 31)])
def test_assemble_rows__equals_dense_symmetric_matrix(start: int, stop: int) -> None:
    rng = np.random.default_rng(start)
    n = 31
    full = rng.standard_normal((n, n))
    full = full + full.T
    counts = rng.integers(1, 9, (n, n)).astype(float)
    counts = counts + counts.T
    bands = []
    bounds = part_bounds(n, 4)
    for r0, r1 in itertools.pairwise(bounds):
        lower = np.arange(r1)[None, :] <= (r0 + np.arange(r1 - r0))[:, None]
        # Whatever a band holds above its diagonal is never used.
        bands.append(
            GrmBand(r0, r1, np.where(lower, full[r0:r1, :r1], np.nan),
                    np.where(lower, counts[r0:r1, :r1], np.nan), 0)
        )  # fmt: skip
    values, got_counts = assemble_rows(bands, n, start, stop, with_counts=True)
    np.testing.assert_array_equal(values, full[start:stop])
    np.testing.assert_array_equal(got_counts, counts[start:stop])


def test_combine_snp_sets__weights_by_pair_counts() -> None:
    rng = np.random.default_rng(3)
    k1, k2 = rng.standard_normal((2, 4, 4))
    n1 = rng.integers(0, 5, (4, 4)).astype(float)
    merged, weight = combine_snp_sets([k1, k2], [n1, 7.0])
    np.testing.assert_allclose(merged, (n1 * k1 + 7 * k2) / (n1 + 7))
    np.testing.assert_array_equal(weight, n1 + 7)
    merged, _ = combine_snp_sets([k1], [np.zeros((4, 4))])
    assert np.all(merged == 0)


# -- parts ------------------------------------------------------------------------------------


def test_merge_parts__missing_part_names_the_expected_file(parts: list[Path], tmp_path) -> None:
    with pytest.raises(ArtifactMismatchError, match=r"part 2/3 is missing: expected .*p\.part_3_2"):
        merge_grm([parts[0], parts[2]], tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_merge_parts__duplicate_and_foreign_parts(
    parts: list[Path], genome: Path, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="listed twice"):
        merge_grm([parts[0], parts[0], parts[1], parts[2]], tmp_path / "m")
    make_grm(genome, out=tmp_path / "q", part="2/4")
    with pytest.raises(ArtifactMismatchError, match=r"q\.part_4_2\.h5 is part 2/4 but"):
        merge_grm([*parts, tmp_path / "q.part_4_2.h5"], tmp_path / "m")


@pytest.mark.parametrize(
    ("options", "what"),
    [
        ({"maf": 0.2}, "SNPs used"),
        ({"dtype": "float64"}, "options"),
        ({"chromosomes": ("1", "2")}, "SNPs used"),
    ],
)
def test_merge_parts__inconsistent_part_is_named(
    parts: list[Path], genome: Path, tmp_path: Path, options: dict, what: str
) -> None:
    make_grm(genome, out=tmp_path / "p", part="2/3", **options)
    odd = tmp_path / "p.part_3_2.h5"
    with pytest.raises(ArtifactMismatchError, match=rf"{odd.name} \(part 2/3\) differs .* {what}"):
        merge_grm([parts[0], odd, parts[2]], tmp_path / "m")


def test_merge_parts__other_frequencies_are_named(
    parts: list[Path], genome: Path, tmp_path: Path
) -> None:
    from heritcli.api import allele_frequencies

    table = Path(allele_frequencies(genome, out=tmp_path / "f").path)
    lines = table.read_text().splitlines(True)
    fields = lines[1].split("\t")
    fields[4] = "0.3"
    table.write_text(lines[0] + "\t".join(fields) + "".join(lines[2:]))
    make_grm(genome, out=tmp_path / "p", part="3/3", freq=str(table))
    odd = tmp_path / "p.part_3_3.h5"
    with pytest.raises(ArtifactMismatchError, match="allele frequencies"):
        merge_grm([parts[0], parts[1], odd], tmp_path / "m")


def test_merge__parts_and_whole_grms_cannot_be_mixed(parts: list[Path], genome: Path, tmp_path):
    make_grm(genome, out=tmp_path / "whole")
    with pytest.raises(UsageError, match="is a part of a GRM but"):
        merge_grm([parts[0], tmp_path / "whole.h5"], tmp_path / "m")


def test_part_file__is_refused_where_a_grm_is_expected(parts: list[Path]) -> None:
    from heritcli.api import load_grm

    with pytest.raises(ArtifactMismatchError, match="is part 1/3 of a GRM"):
        load_grm(parts[0])


# -- disjoint SNP sets --------------------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "tol"), [("float64", 1e-12), ("float32", 2e-6)])
def test_merge_chromosomes__equals_whole_genome_grm(
    genome: Path, tmp_path: Path, dtype: str, tol: float
) -> None:
    whole = make_grm(genome, out=tmp_path / "all", dtype=dtype)
    for chrom in ("1", "2", "3"):
        make_grm(genome, out=tmp_path / f"chr{chrom}", chromosomes=(chrom,), dtype=dtype)
    result = merge_grm([tmp_path / f"chr{c}.h5" for c in "123"], tmp_path / "merged")
    assert result.kind == "snp-sets" and result.n_snps == whole.n_snps_used
    values, pairs = _values(tmp_path / "merged.h5")
    expected, expected_pairs = _values(tmp_path / "all.h5")
    np.testing.assert_array_equal(pairs, expected_pairs)
    # N_c·K_c recovers Σz z of chromosome c up to the rounding of the stored K_c (float32:
    # about 6e-8 relative) and of the float32 partial sums; float64 GRMs agree to 1e-12.
    np.testing.assert_allclose(values, expected, rtol=0, atol=tol)
    with h5py.File(tmp_path / "merged.h5") as merged, h5py.File(tmp_path / "all.h5") as whole:
        np.testing.assert_array_equal(merged["snps/used"][()], whole["snps/used"][()])
        np.testing.assert_array_equal(merged["snps/freq"][()], whole["snps/freq"][()])


def test_merge_chromosomes__overlapping_snps_and_other_samples_are_errors(
    genome: Path, tmp_path: Path
) -> None:
    make_grm(genome, out=tmp_path / "a", chromosomes=("1", "2"))
    make_grm(genome, out=tmp_path / "b", chromosomes=("2", "3"))
    with pytest.raises(DataError, match=r"share 200 SNP\(s\) \(first: snp200\)"):
        merge_grm([tmp_path / "a.h5", tmp_path / "b.h5"], tmp_path / "m")
    keep = tmp_path / "keep.txt"
    keep.write_text("".join(f"fam{i} ind{i}\n" for i in range(30)))
    make_grm(genome, out=tmp_path / "c", chromosomes=("3",), keep=str(keep))
    with pytest.raises(DataError, match="has 30 samples"):
        merge_grm([tmp_path / "a.h5", tmp_path / "c.h5"], tmp_path / "m")
    assert not (tmp_path / "m.h5").exists()


def test_mgrm_list__paths_relative_to_the_list(genome: Path, tmp_path: Path) -> None:
    for chrom in ("1", "2"):
        make_grm(genome, out=tmp_path / f"chr{chrom}", chromosomes=(chrom,))
    listing = tmp_path / "grms.txt"
    listing.write_text("chr1\nchr2.h5\n")
    assert read_grm_list(listing) == [str(tmp_path / "chr1.h5"), str(tmp_path / "chr2.h5")]
