"""--memory: the estimate, the block size chosen from it, and refusing runs that cannot fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import random_counts

from heritcli.api import make_grm
from heritcli.cli.main import run
from heritcli.core.grm import blas_chunk_snps
from heritcli.errors import UsageError
from heritcli.io.plink import write_bfile
from heritcli.memory_budget import (
    BASELINE_BYTES,
    BYTES_PER_VARIANT,
    GIB,
    block_for_budget,
    check_budget,
    grm_memory,
    largest_part_memory,
    parse_memory,
)


@pytest.mark.parametrize(
    ("text", "gib"),
    [("16", 16.0), ("16G", 16.0), ("16gb", 16.0), ("512M", 0.5), ("1.5T", 1536.0),
     ("2097152K", 2.0), (3, 3.0), ("8GiB", 8.0)],
)  # fmt: skip
def test_parse_memory__units(text, gib: float) -> None:
    assert parse_memory(text) == pytest.approx(gib)


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "16Q"])
def test_parse_memory__bad_values(text: str) -> None:
    with pytest.raises(UsageError, match="--memory"):
        parse_memory(text)


def test_grm_memory__terms_follow_the_formula() -> None:
    n, block, m = 10_000, 1024, 500_000
    est = grm_memory(n, block, any_missing=True, precision="float32", n_variants=m)
    chunk = blas_chunk_snps(n)
    expected = (8 + 4 + 4) * n * n + 4 * chunk * n + block * (8 * n + 2500)
    assert est.total == expected + BYTES_PER_VARIANT * m + BASELINE_BYTES
    f64 = grm_memory(n, block, any_missing=False, precision="float64")
    assert f64.parts["sums"] == 8 * n * n and f64.parts["float32 partial sums"] == 0
    band = grm_memory(n, block, any_missing=True, rows=(6000, 8000))
    assert band.parts["sums"] == 8 * 2000 * 8000


def test_block_for_budget__fits_and_shrinks() -> None:
    n = 20_000
    shape = {"any_missing": True, "precision": "float32"}
    fixed = grm_memory(n, 0, **shape).total
    budget_gib = (fixed + 300 * grm_memory(n, 1, **shape).parts["blocks"]) / GIB
    block = block_for_budget(budget_gib, 4096, n, **shape)
    assert block == 256  # 300 SNPs of room, rounded down to a multiple of 64
    assert grm_memory(n, block, **shape).total <= budget_gib * GIB
    assert block_for_budget(None, 4096, n, **shape) == 4096
    assert block_for_budget(1000.0, 4096, n, **shape) == 4096


def test_check_budget__suggestions_fit() -> None:
    n = 50_000
    shape = {"any_missing": True, "precision": "float32"}
    estimate = grm_memory(n, 512, **shape)
    with pytest.raises(UsageError) as info:
        check_budget(16.0, estimate, n_samples=n, block_snps=512, what="make-grm", **shape)
    message, hint = info.value.message, info.value.hint or ""
    assert "make-grm needs about 37." in message and "more than --memory 16.0 GiB" in message
    # The suggested number of parts is the smallest whose largest part fits.
    n_parts = int(hint.split("--part I/")[1].split()[0])
    assert largest_part_memory(n, n_parts, 64, **shape).total <= 16 * GIB
    assert largest_part_memory(n, n_parts - 1, 64, **shape).total > 16 * GIB
    assert "--dtype" not in hint  # float64 (8n² + 4n² with missing calls) needs 27.9 GiB
    most = int(hint.split("at most ")[-1].split()[0])
    assert grm_memory(most, 64, **shape).total <= 16 * GIB < grm_memory(most + 1, 64, **shape).total
    with pytest.raises(UsageError) as info:
        check_budget(30.0, estimate, n_samples=n, block_snps=512, what="make-grm", **shape)
    assert "--dtype float64 (28." in (info.value.hint or "")


@pytest.fixture
def small(tmp_path: Path) -> Path:
    write_bfile(tmp_path / "d", random_counts(np.random.default_rng(4), 300, 400, 0.01))
    return tmp_path / "d"


def test_make_grm__refuses_before_reading_and_the_suggestion_works(
    small: Path, tmp_path: Path, capsys
) -> None:
    est = grm_memory(400, 64, any_missing=True, n_variants=300).total
    budget = f"{(est - 0.4 * 8 * 400 * 400) / 2**20:.3f}M"  # below the one-shot's need
    code = run(
        ["make-grm", "--bfile", str(small), "--out", str(tmp_path / "g"), "--memory", budget]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert "herit: error: make-grm needs about" in err and "what would fit: --part I/" in err
    assert not (tmp_path / "g.h5").exists()
    n_parts = err.split("--part I/")[1].split()[0]
    for index in range(1, int(n_parts) + 1):
        code = run(["make-grm", "--bfile", str(small), "--out", str(tmp_path / "g"),
                    "--memory", budget, "--part", f"{index}/{n_parts}"])  # fmt: skip
        assert code == 0, capsys.readouterr().err
    log = (tmp_path / f"g.part_{n_parts}_1.log").read_text()
    assert "memory needed about" in log and "--memory" in log


def test_make_grm__block_size_from_budget_gives_the_same_grm(small: Path, tmp_path: Path) -> None:
    free = make_grm(small, out=tmp_path / "free")
    shape = {"any_missing": True, "n_variants": 300}
    budget = (grm_memory(400, 0, **shape).total + 100 * 10 * 400) / GIB
    tight = make_grm(small, out=tmp_path / "tight", memory=budget)
    assert tight.block_snps < free.block_snps
    # The accumulation does not depend on the block size (fixed BLAS chunks).
    assert tight.fingerprint == free.fingerprint
