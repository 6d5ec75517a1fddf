"""The compiled .bed kernels against the numpy code they replace (the oracle).

Every kernel must give exactly what numpy gives: counts and positions as
integers, standardized values bit for bit (the kernel only copies values that
numpy computed), pair counts as a dense ``S Sᵀ``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import random_counts

from heritcli.core import bedkernels
from heritcli.core.packed import (
    code_counts,
    code_values,
    frequencies_from_codes,
    standardize_packed,
)
from heritcli.core.standardize import block_stats, standardize
from heritcli.io.plink import decode_packed, encode_counts, missing_positions, write_bfile

pytestmark = pytest.mark.skipif(
    not bedkernels.kernels_available(), reason="the compiled .bed kernels are not built here"
)


def _packed(rng: np.random.Generator, b: int, n: int, missing: float) -> np.ndarray:
    """Packed rows of random genotypes with random junk in the padding bits."""
    counts = random_counts(rng, b, n, missing)
    packed = encode_counts(counts).reshape(b, -1).copy()
    rest = n % 4
    if rest:
        junk = rng.integers(0, 256, b, dtype=np.uint8) & np.uint8((0xFF << (2 * rest)) & 0xFF)
        packed[:, -1] |= junk
    return packed


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 31, 32, 33, 64, 255])
def test_scan_rows__equals_numpy_counts_and_missing_positions(n: int) -> None:
    rng = np.random.default_rng(n)
    packed = _packed(rng, 40, n, 0.1)
    counts, rows, cols = bedkernels.scan_rows(packed, n)
    np.testing.assert_array_equal(counts, code_counts(packed, n))
    want_rows, want_cols = missing_positions(packed, n)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_array_equal(cols, want_cols)


@pytest.mark.parametrize("n", [5, 33, 130])
def test_scan_rows__subset_in_any_order_equals_decoding(n: int) -> None:
    rng = np.random.default_rng(100 + n)
    packed = _packed(rng, 25, n, 0.2)
    index = rng.permutation(n)[: n // 2 + 1]
    counts, rows, cols = bedkernels.scan_rows(packed, n, index)
    decoded = decode_packed(packed, n)[:, index]
    stats = block_stats(decoded)
    freq, called, missed = frequencies_from_codes(counts)
    np.testing.assert_array_equal(freq, stats.freq)
    np.testing.assert_array_equal(called, stats.n_called)
    np.testing.assert_array_equal(missed, stats.n_missing)
    # The same calls; the kernel lists a SNP's calls in output order, numpy in .fam order.
    want_rows, want_cols = missing_positions(packed, n, index)
    order, want_order = np.lexsort((cols, rows)), np.lexsort((want_cols, want_rows))
    np.testing.assert_array_equal(rows[order], want_rows[want_order])
    np.testing.assert_array_equal(cols[order], want_cols[want_order])
    assert np.all(np.diff(rows) >= 0) and np.all(np.diff(cols)[np.diff(rows) == 0] > 0)


def test_scan_rows__more_missing_calls_than_first_guess() -> None:
    # Every call missing: far beyond the first buffer of 4 positions per row.
    n = 300
    packed = encode_counts(np.full((3, n), -1, dtype=np.int8)).reshape(3, -1)
    counts, rows, cols = bedkernels.scan_rows(packed, n)
    assert counts[:, 1].tolist() == [n, n, n]
    assert rows.size == 3 * n and cols.tolist() == list(range(n)) * 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [3, 4, 7, 64, 101])
def test_standardize_rows__equals_numpy_bit_for_bit(dtype: type, n: int) -> None:
    rng = np.random.default_rng(7 * n)
    packed = _packed(rng, 30, n, 0.05)
    freq, _, _ = frequencies_from_codes(code_counts(packed, n))
    freq = np.clip(np.nan_to_num(freq, nan=0.3), 0.05, 0.95)
    values = code_values(freq, dtype)
    for width in sorted({1, n // 2 + 1, n}):
        got = bedkernels.standardize_rows(packed, values, width)
        want = standardize_packed(packed, n, freq, dtype=dtype)[:, :width]
        assert got.dtype == dtype and got.flags.c_contiguous
        np.testing.assert_array_equal(got.view(np.uint8), np.ascontiguousarray(want).view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardize_rows__subset_equals_decode_then_standardize(dtype: type) -> None:
    rng = np.random.default_rng(3)
    n = 97
    packed = _packed(rng, 20, n, 0.05)
    index = rng.permutation(n)[:60]
    decoded = decode_packed(packed, n)[:, index]
    freq = np.clip(block_stats(decoded).freq, 0.05, 0.95)
    want = standardize(decoded, freq, dtype=dtype)
    out = np.full((20, 45), np.nan, dtype=dtype)
    got = bedkernels.standardize_rows(packed, code_values(freq, dtype), 45, index, n, out=out)
    assert got is out
    np.testing.assert_array_equal(
        got.view(np.uint8), np.ascontiguousarray(want[:, :45]).view(np.uint8)
    )


@pytest.mark.parametrize("threads", [2, 3, 8])
@pytest.mark.parametrize("subset", [False, True], ids=["all", "subset"])
def test_decoding_kernels__threads_give_the_same_block(
    monkeypatch: pytest.MonkeyPatch, threads: int, subset: bool
) -> None:
    # A small threshold splits even this small block into row slices.
    monkeypatch.setattr(bedkernels, "MIN_VALUES_PER_THREAD", 64)
    rng = np.random.default_rng(threads)
    n = 37
    packed = _packed(rng, 50, n, 0.15)
    index = rng.permutation(n)[:30] if subset else None
    width = 25 if subset else n
    values = code_values(rng.uniform(0.05, 0.95, 50), np.float32)
    one = bedkernels.scan_rows(packed, n, index)
    many = bedkernels.scan_rows(packed, n, index, threads=threads)
    for got, want in zip(many, one, strict=True):
        np.testing.assert_array_equal(got, want)
    z1 = bedkernels.standardize_rows(packed, values, width, index, n)
    zt = bedkernels.standardize_rows(packed, values, width, index, n, threads=threads)
    np.testing.assert_array_equal(zt, z1)
    assert one[1].size  # the block has missing calls, found by more than one slice
    assert len({int(r) * threads // 50 for r in one[1]}) > 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_decoding_kernels__threads_work_in_a_forked_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child forked after the helper threads were made (dask and multiprocessing may
    fork) has none of them: it must make its own instead of waiting on its parent's."""
    import signal
    import time

    monkeypatch.setattr(bedkernels, "MIN_VALUES_PER_THREAD", 64)
    rng = np.random.default_rng(4)
    packed = _packed(rng, 50, 37, 0.1)
    values = code_values(rng.uniform(0.05, 0.95, 50), np.float32)
    want = bedkernels.standardize_rows(packed, values, 37, threads=2)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        got = bedkernels.standardize_rows(packed, values, 37, threads=2)
        os._exit(0 if np.array_equal(got, want) else 1)
    deadline = time.time() + 30
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung on its parent's helper threads")


def test_standardize_rows__rejects_an_output_of_the_wrong_shape() -> None:
    packed = np.zeros((2, 3), dtype=np.uint8)
    values = np.zeros((2, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="out must be"):
        bedkernels.standardize_rows(packed, values, 10, out=np.empty((2, 9), dtype=np.float32))
    with pytest.raises(ValueError, match="cannot hold"):
        bedkernels.standardize_rows(packed, values, 13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [(0, 40), (13, 29)])
def test_add_missing_pairs__equals_dense_s_st(dtype: type, rows: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    r0, r1 = rows
    missing = rng.random((50, r1)) < 0.15
    snp, sample = np.nonzero(missing)
    ss = np.zeros((r1 - r0, r1), dtype=dtype, order="F")
    # Calls of a SNP need only be adjacent: shuffle them within each SNP, and add in two goes
    # (each SNP's calls in one of them).
    order = np.lexsort((rng.random(snp.size), snp))
    half = int(np.searchsorted(snp[order], 25))
    bedkernels.add_missing_pairs(snp[order][:half], sample[order][:half], ss, r0)
    bedkernels.add_missing_pairs(snp[order][half:], sample[order][half:], ss, r0)
    dense = missing.T.astype(float) @ missing.astype(float)
    lower = np.arange(r1)[None, :] <= (r0 + np.arange(r1 - r0))[:, None]
    np.testing.assert_array_equal(ss[lower], dense[r0:r1][lower])
    assert not ss[~lower].any()


def test_add_missing_pairs__unsorted_snps_are_grouped_first() -> None:
    ss = np.zeros((4, 4), dtype=np.float32, order="F")
    bedkernels.add_missing_pairs(np.array([1, 0, 1]), np.array([2, 2, 3]), ss)
    want = np.zeros((4, 4), dtype=np.float32)
    want[2, 2], want[3, 3], want[3, 2] = 2, 1, 1
    np.testing.assert_array_equal(ss, want)


def test_kernels__make_grm_without_them_writes_the_same_grm(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    prefix = tmp_path / "data"
    write_bfile(prefix, random_counts(rng, 600, 45, 0.02))
    keep = tmp_path / "keep.txt"
    keep.write_text("".join(f"fam{i} ind{i}\n" for i in range(0, 45, 3)))
    fingerprints = {}
    for disabled in ("0", "1"):
        env = {**os.environ, bedkernels.DISABLE_VARIABLE: disabled}
        for name, extra in (("all", []), ("keep", ["--keep", str(keep)])):
            out = tmp_path / f"{name}{disabled}"
            command = [sys.executable, "-m", "heritcli", "make-grm", "--bfile", str(prefix),
                       "--out", str(out), "-v", *extra]  # fmt: skip
            proc = subprocess.run(command, env=env, capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
            decoder = "numpy .bed decoding" if disabled == "1" else "compiled .bed kernels"
            assert decoder in Path(f"{out}.log").read_text()
            with h5py.File(f"{out}.h5") as handle:
                fingerprints[name, disabled] = str(handle.attrs["fingerprint"])
    assert fingerprints["all", "0"] == fingerprints["all", "1"]
    assert fingerprints["keep", "0"] == fingerprints["keep", "1"]


@pytest.mark.parametrize("subset", [False, True])
@pytest.mark.parametrize("fixed", [False, True])
def test_stream_blocks__compiled_and_numpy_routes_give_the_same_blocks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, subset: bool, fixed: bool
) -> None:
    from heritcli.allele_freq import count_alleles
    from heritcli.grm_stream import BedReader, SnpFilter, stream_blocks

    rng = np.random.default_rng(9)
    counts = random_counts(rng, 300, 53, 0.03)
    counts[7] = 0  # monomorphic: dropped
    write_bfile(tmp_path / "d", counts)
    reader = BedReader(str(tmp_path / "d.bed"), 53, 300)
    index = np.sort(rng.choice(53, 40, replace=False)) if subset else None
    candidates = np.arange(300)
    fixed_counts = count_alleles(reader, 53, index, candidates, 64, n_bim=300) if fixed else None
    width = 25 if fixed else None  # a band of columns needs fixed frequencies

    def blocks() -> list:
        grm_filter = SnpFilter(maf=0.05)
        stream = stream_blocks(
            reader, index, candidates, 64, grm_filter, width=width, counts=fixed_counts
        )
        return list(stream)

    compiled = blocks()
    monkeypatch.setattr(bedkernels, "kernels_available", lambda: False)
    reference = blocks()
    assert len(compiled) == len(reference) == 5
    for got, want in zip(compiled, reference, strict=True):
        np.testing.assert_array_equal(got.reason, want.reason)
        np.testing.assert_array_equal(got.stats.freq, want.stats.freq)
        np.testing.assert_array_equal(got.z.view(np.uint8), want.z.view(np.uint8))
        assert (got.missing is None) == (want.missing is None)
        if got.missing is not None:
            np.testing.assert_array_equal(got.missing[0], want.missing[0])
            np.testing.assert_array_equal(got.missing[1], want.missing[1])


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("rows", [(0, 40), (20, 61), (61, 90), (100, 300)])
def test_finished_band__equals_band_rows(
    monkeypatch: pytest.MonkeyPatch, precision: str, rows: tuple[int, int], threads: int
) -> None:
    from heritcli.core.grm import GrmAccumulator, band_rows, finished_band

    monkeypatch.setattr(bedkernels, "MIN_VALUES_PER_THREAD", 64)  # slices even at this size
    rng = np.random.default_rng(6)
    r1 = rows[1]
    dtype = np.float32 if precision == "float32" else np.float64
    z = rng.standard_normal((700, r1)).astype(dtype)
    missing = rng.random((700, r1)) < 0.03
    z[missing] = 0
    for mask in (missing, None):
        acc = GrmAccumulator(300, precision=precision, max_snps=700, rows=rows)
        acc.add(z if mask is not None else rng.standard_normal((700, r1)).astype(dtype), mask)
        sums = acc.finish()
        values, counts = finished_band(sums, precision, threads=threads)
        want_values, want_counts = band_rows(sums)
        assert values.dtype == dtype
        np.testing.assert_array_equal(values, want_values.astype(dtype))
        assert (counts is None) == (want_counts is None)
        if counts is not None:
            np.testing.assert_array_equal(counts, want_counts.astype(np.float32))
        # A tile of rows at a time (as a part is written), compiled and numpy: the same rows.
        height = r1 - rows[0]
        for lo, hi in [(0, 1), (0, height), (3, min(height, 17)), (height - 1, height)]:
            tile_values, tile_counts = finished_band(sums, precision, threads, rows=(lo, hi))
            np.testing.assert_array_equal(tile_values, values[lo:hi])
            numpy_values, numpy_counts = band_rows(sums, (lo, hi))
            np.testing.assert_array_equal(numpy_values, want_values[lo:hi])
            if counts is not None:
                np.testing.assert_array_equal(tile_counts, counts[lo:hi])
                np.testing.assert_array_equal(numpy_counts, want_counts[lo:hi])
    with pytest.raises(ValueError, match="outside the band"):
        bedkernels.band_values(
            sums.zz, sums.ss, sums.missing_per_sample, sums.n_snps, rows[0], rows=(0, r1 + 1)
        )


@pytest.mark.parametrize("threads", [1, 3])
def test_grm_rows_from_lower__equals_rows_of_the_symmetrized_sums(
    monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    from heritcli.core.grm import GrmAccumulator, grm_rows, symmetrize_lower

    monkeypatch.setattr(bedkernels, "MIN_VALUES_PER_THREAD", 64)  # slices even at this size
    rng = np.random.default_rng(12)
    n = 70
    z = rng.standard_normal((500, n)).astype(np.float32)
    missing = rng.random((500, n)) < 0.02
    z[missing] = 0
    acc = GrmAccumulator(n, max_snps=500)
    acc.add(z, missing)
    sums = acc.finish()
    got = [
        bedkernels.grm_rows_from_lower(
            sums.zz,
            sums.ss,
            sums.missing_per_sample,
            sums.n_snps,
            a,
            min(a + 32, n),
            threads=threads,
        )
        for a in range(0, n, 32)
    ]
    symmetrize_lower(sums.zz)
    symmetrize_lower(sums.ss)
    for (values, counts), start in zip(got, range(0, n, 32), strict=True):
        want_values, want_counts = grm_rows(sums, start, min(start + 32, n))
        np.testing.assert_array_equal(values, want_values.astype(np.float32))
        np.testing.assert_array_equal(counts, want_counts.astype(np.float32))


def test_flush_lower__adds_the_lower_triangle_and_clears_it() -> None:
    rng = np.random.default_rng(2)
    partial = np.asfortranarray(rng.standard_normal((5, 8)).astype(np.float32))
    total = np.asfortranarray(rng.standard_normal((5, 8)))
    lower = np.arange(8)[None, :] <= (3 + np.arange(5))[:, None]
    want = total.copy()
    want[lower] += partial[lower].astype(np.float64)
    upper_before = partial[~lower].copy()
    bedkernels.flush_lower(partial, total, row_start=3)
    np.testing.assert_array_equal(total, want)
    assert not partial[lower].any()
    np.testing.assert_array_equal(partial[~lower], upper_before)
