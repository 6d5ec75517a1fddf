"""Fixtures of the robustness battery: a tiny cohort cut from the mouse data, built once.

The cohort is the first 100 mice and the first 500 SNPs of ``example_data/example`` (the
mouse_hs1940 data of GEMMA, see ``example_data/README.md``), their CD8 and MCH phenotypes
from ``example_data/example.pheno`` (46 and 3 of the 100 missing), a covariate file with the
.fam sex and a three-level text column, and the artifacts the chain makes from them:
``herit make-grm`` → ``tiny.h5``, ``herit eigen --pcs 3`` → ``tiny.eigen.h5`` and
``tiny.pcs.txt``, ``herit export-grm`` → ``tiny.grm.*``.  Each test works on its own copy.

Hypothesis profiles for the parser fuzzing: ``robustness`` (the default here, a small budget)
and ``slow`` (``pytest tests/robustness --hypothesis-profile slow``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import EXAMPLE
from hypothesis import HealthCheck, settings

from heritcli.cli.main import run
from heritcli.io.plink import BimTable, open_bfile, read_fam, write_bfile

from .support import Workspace, copy_workspace

N_SAMPLES = 100
N_SNPS = 500

settings.register_profile(
    "slow",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def build_cohort(root: Path) -> Workspace:
    """Cut the tiny cohort out of the mouse data and run the chain on it."""
    inputs = root / "inputs"
    inputs.mkdir()
    source = open_bfile(EXAMPLE / "example")
    counts = source.read_counts(0, N_SNPS)[:, :N_SAMPLES]
    bim = BimTable(
        *(getattr(source.bim, f)[:N_SNPS] for f in ("chrom", "snp_id", "cm", "pos", "a1", "a2"))
    )
    fid, iid = source.fam.fid[:N_SAMPLES], source.fam.iid[:N_SAMPLES]
    write_bfile(inputs / "tiny", counts, fid=fid, iid=iid, bim=bim)
    lines = (EXAMPLE / "example.pheno").read_text().splitlines()
    assert lines[0].split() == ["FID", "IID", "CD8", "MCH"]
    rows = {tuple(line.split()[:2]): line for line in lines[1:]}
    pheno = inputs / "tiny.pheno"
    pheno.write_text(
        "\n".join([lines[0], *(rows[(f, i)] for f, i in zip(fid, iid, strict=True))]) + "\n"
    )
    sex = [line.split()[4] for line in (EXAMPLE / "example.fam").read_text().splitlines()]
    covar = inputs / "tiny.covar"
    covar.write_text(
        "FID IID sex batch\n"
        + "".join(
            f"{f} {i} {sex[k]} b{k % 3}\n" for k, (f, i) in enumerate(zip(fid, iid, strict=True))
        )
    )
    assert read_fam(inputs / "tiny.fam").n_samples == N_SAMPLES
    grm = inputs / "tiny.h5"
    for args in (
        ["make-grm", "--bfile", inputs / "tiny", "--out", grm, "-q"],
        ["eigen", "--grm", grm, "--pcs", "3", "-q"],
        ["export-grm", grm, "--out", inputs / "tiny", "-q"],
    ):
        assert run([str(a) for a in args]) == 0, args
    return Workspace(
        root=root,
        inputs=inputs,
        out_dir=root / "out",
        bfile=inputs / "tiny",
        pheno=pheno,
        covar=covar,
        grm=grm,
        eigen=inputs / "tiny.eigen.h5",
        pcs=inputs / "tiny.pcs.txt",
        gcta=inputs / "tiny",
    )


@pytest.fixture(scope="session")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_cohort(tmp_path_factory.mktemp("cohort"))


@pytest.fixture
def ws(cohort: Workspace, tmp_path: Path) -> Workspace:
    """A private copy of the cohort (inputs may be broken freely) and an empty ``out/``."""
    return copy_workspace(cohort, tmp_path / "ws")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)
