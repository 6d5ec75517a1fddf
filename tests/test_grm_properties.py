"""Properties of the streamed GRM, checked against a dense one-shot computation."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import random_counts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heritcli.api import make_grm
from heritcli.core.grm import GrmAccumulator, dense_grm, grm_rows, symmetrize_lower
from heritcli.core.standardize import block_stats, standardize
from heritcli.io.plink import write_bfile


def _dense_reference(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z Zᵀ / N computed in one shot in float64 from the SNPs × samples counts."""
    stats = block_stats(counts)
    keep = (stats.n_called > 0) & (stats.maf > 0)
    counts = counts[keep]
    z = standardize(counts, stats.freq[keep], dtype=np.float64)
    missing = counts < 0
    present = (~missing).astype(float)
    return dense_grm(z, missing), present.T @ present


def _grm_of(prefix: Path, out: Path, **options) -> tuple[np.ndarray, np.ndarray | None]:
    make_grm(prefix, out=out, **options)
    with h5py.File(str(out) + ".h5") as handle:
        values = handle["grm/values"][()]
        pairs = handle["grm/n_pairs"][()] if "grm/n_pairs" in handle else None
    return values, pairs


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    n_samples=st.integers(2, 30),
    n_snps=st.integers(1, 60),
    missing_rate=st.sampled_from([0.0, 0.02, 0.3]),
    block=st.integers(1, 70),
    seed=st.integers(0, 2**32 - 1),
)
def test_accumulator__equals_dense_for_any_block(
    n_samples: int, n_snps: int, missing_rate: float, block: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    counts = random_counts(rng, n_snps, n_samples, missing_rate)
    stats = block_stats(counts)
    keep = (stats.n_called > 0) & (stats.maf > 0)
    if not keep.any():
        return
    expected, expected_pairs = _dense_reference(counts)
    acc = GrmAccumulator(n_samples, precision="float64")
    counts_kept = counts[keep]
    freq = stats.freq[keep]
    for start in range(0, counts_kept.shape[0], block):
        part = counts_kept[start : start + block]
        z = standardize(part, freq[start : start + block], dtype=np.float64)
        acc.add(z, part < 0 if (part < 0).any() else None)
    sums = acc.finish()
    symmetrize_lower(sums.zz)
    if sums.ss is not None:
        symmetrize_lower(sums.ss)
    values, pairs = grm_rows(sums, 0, n_samples)
    present_everywhere = expected_pairs > 0
    np.testing.assert_allclose(values[present_everywhere], expected[present_everywhere], atol=1e-10)
    if pairs is not None:
        np.testing.assert_array_equal(pairs, expected_pairs)
    else:
        assert np.all(expected_pairs == keep.sum())


def test_missing_sparse_and_dense_paths_agree() -> None:
    rng = np.random.default_rng(5)
    missing = rng.random((50, 40)) < 0.01
    missing[:, 3] = True  # a sample missing everywhere
    sparse = GrmAccumulator(40, precision="float64")
    sparse._add_missing(*np.nonzero(missing[:20]), 20)
    sparse._add_missing(*np.nonzero(missing[20:]), 30)
    sparse._flush_missing()
    dense = GrmAccumulator(40, precision="float64")
    dense._add_missing(*np.nonzero(missing), 50)  # 2.6% missing: the dense path
    expected = np.tril(missing.T.astype(float) @ missing.astype(float))
    np.testing.assert_array_equal(np.tril(sparse._ss), expected)
    np.testing.assert_array_equal(np.tril(dense._ss), expected)
    np.testing.assert_array_equal(sparse._missing_per_sample, missing.sum(axis=0))


@pytest.fixture(scope="module")
def simulated_bfile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(11)
    counts = random_counts(rng, 700, 61, missing_rate=0.01)
    counts[5] = 2  # a monomorphic SNP
    counts[9] = -1  # a SNP with every call missing
    prefix = tmp_path_factory.mktemp("sim") / "sim"
    write_bfile(prefix, counts)
    return prefix, counts


def test_make_grm__equals_dense_float64(simulated_bfile, tmp_path: Path) -> None:
    prefix, counts = simulated_bfile
    values, pairs = _grm_of(prefix, tmp_path / "g", dtype="float64")
    expected, expected_pairs = _dense_reference(counts)
    np.testing.assert_allclose(values, expected, atol=1e-12)
    np.testing.assert_array_equal(pairs, expected_pairs)


def test_make_grm__float32_close_to_dense(simulated_bfile, tmp_path: Path) -> None:
    prefix, counts = simulated_bfile
    values, _ = _grm_of(prefix, tmp_path / "g")
    assert values.dtype == np.float32
    expected, _ = _dense_reference(counts)
    np.testing.assert_allclose(values, expected, atol=2e-6)


@pytest.mark.parametrize("block", [1, 7, 64, 10_000])
@pytest.mark.parametrize("threads", [1, 2])
def test_make_grm__block_size_and_threads_do_not_matter(
    simulated_bfile, tmp_path: Path, block: int, threads: int
) -> None:
    prefix, _ = simulated_bfile
    reference, ref_pairs = _grm_of(prefix, tmp_path / "ref", dtype="float64", block_snps=500)
    values, pairs = _grm_of(
        prefix, tmp_path / "g", dtype="float64", block_snps=block, threads=threads
    )
    np.testing.assert_allclose(values, reference, atol=1e-12)
    np.testing.assert_array_equal(pairs, ref_pairs)


def test_make_grm__symmetric_and_psd(simulated_bfile, tmp_path: Path) -> None:
    prefix, _ = simulated_bfile
    values, _ = _grm_of(prefix, tmp_path / "g", dtype="float64")
    np.testing.assert_array_equal(values, values.T)
    # Pairwise divisors make the matrix only approximately PSD; with 1% missing
    # the smallest eigenvalue stays far above -1e-2 of the largest.
    eigenvalues = np.linalg.eigvalsh(values)
    assert eigenvalues.min() > -1e-2 * eigenvalues.max()


def test_make_grm__psd_without_missing(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    write_bfile(tmp_path / "x", random_counts(rng, 300, 40))
    values, pairs = _grm_of(tmp_path / "x", tmp_path / "g", dtype="float64")
    assert pairs is None
    assert np.linalg.eigvalsh(values).min() > -1e-10


def test_make_grm__permuting_samples_permutes_grm(simulated_bfile, tmp_path: Path) -> None:
    prefix, counts = simulated_bfile
    rng = np.random.default_rng(4)
    order = rng.permutation(counts.shape[1])
    fid = np.array([f"fam{i}" for i in order])
    iid = np.array([f"ind{i}" for i in order])
    write_bfile(tmp_path / "perm", counts[:, order], fid=fid, iid=iid)
    base, base_pairs = _grm_of(prefix, tmp_path / "a", dtype="float64")
    permuted, permuted_pairs = _grm_of(tmp_path / "perm", tmp_path / "b", dtype="float64")
    np.testing.assert_allclose(permuted, base[np.ix_(order, order)], atol=1e-12)
    np.testing.assert_array_equal(permuted_pairs, base_pairs[np.ix_(order, order)])


def test_make_grm__snp_table_records_reasons(simulated_bfile, tmp_path: Path) -> None:
    prefix, _ = simulated_bfile
    result = make_grm(prefix, out=tmp_path / "g", maf=0.1)
    assert result.snps_dropped["monomorphic"] == 1
    assert result.snps_dropped["all-missing"] == 1
    with h5py.File(tmp_path / "g.h5") as handle:
        reason = handle["snps/reason"].asstr()[()]
        used = handle["snps/used"][()]
        freq = handle["snps/freq"][()]
    assert reason[5] == "monomorphic" and reason[9] == "all-missing"
    assert used.sum() == result.n_snps_used
    maf = np.minimum(freq, 1 - freq)
    assert np.all(maf[reason == "maf"] < 0.1)
    assert np.all(maf[used] >= 0.1 - 1e-12), maf[used].min()  # ties are kept, as by plink
