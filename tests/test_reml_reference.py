"""REML on real data against GEMMA 0.98.5, and eigen/reml through the command line.

Reference numbers (tests/data/mouse_gemma/cd8_standardized_grm_lmm.log.txt and
tests/data/bxd/bxdp_lmm.log.txt, GEMMA 0.98.5 Debian build):

* HS mice, CD8 (n = 1,410), K = the standardized GRM of all 1,940 mice
  (the matrix make-grm computes): vg 0.500284, ve 0.339905, so
  λ = vg/ve = 1.47184 and V(G)/Vp = λ/(1+λ) = 0.59544; REMLE log-likelihood
  −1586.89; MLE log-likelihood −1587.27; se(beta) 0.0155263.
  GEMMA's "pve 0.598309" is a different quantity: pve = λτ/(1+λτ) with
  τ = tr(PKP)/n over the analysed mice (P = I − 11ᵀ/n), i.e. h² rescaled to the
  mean diagonal of the centred kinship; V(G)/Vp is what GCTA reports.
* GEMMA centres a user-supplied kinship (K → PKP) before fitting. REML with an
  intercept is invariant to that, ML and the intercept's estimate are not, so the
  ML log-likelihood and se(beta) are compared after centring K the same way.
* herit's logL is the complete (restricted) log-likelihood, the quantity GEMMA
  prints (see heritcli.core.reml); GCTA's .hsq logL differs by a constant.
* BXD (67 phenotyped strains), GEMMA -gk 1 kinship, intercept only: the estimate is
  at the boundary (pve 9.7e-06) with REMLE log-likelihood −49.6077; at h² = 0
  the REML likelihood does not depend on K.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import DATA, EXAMPLE

from heritcli.api import make_grm
from heritcli.cli.main import run
from heritcli.core.reml import fit_spectral
from heritcli.reml_run import RemlOptions, fit_reml


@pytest.fixture(scope="module")
def mice_grm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mice") / "mice"
    make_grm(EXAMPLE / "example", out=out, dtype="float64")
    return Path(str(out) + ".h5")


def test_reml__cd8_matches_gemma(mice_grm: Path) -> None:
    report = fit_reml(RemlOptions(grm=str(mice_grm), pheno=str(EXAMPLE / "example.pheno")))
    (cd8,) = report.phenotypes
    fit = cd8.fit
    assert cd8.name == "CD8" and fit.n == 1410
    assert round(fit.vg / fit.ve, 5) == 1.47184
    assert round(fit.h2, 5) == 0.59544
    assert fit.vg == pytest.approx(0.500284, abs=1.5e-6)
    assert fit.ve == pytest.approx(0.339905, abs=1.5e-6)
    assert round(fit.logl, 2) == -1586.89
    assert fit.boundary is None and fit.converged
    assert fit.h2_ci[0] < fit.h2 < fit.h2_ci[1]


def test_reml__cd8_ml_and_beta_se_with_centred_kinship(mice_grm: Path) -> None:
    import h5py
    import pandas as pd

    pheno = pd.read_csv(EXAMPLE / "example.pheno", sep=r"\s+")
    y = pheno["CD8"].to_numpy()
    ok = ~np.isnan(y)
    with h5py.File(mice_grm) as handle:
        kinship = handle["grm/values"][()][np.ix_(ok, ok)]
    y = y[ok]
    n = y.size
    centre = np.eye(n) - 1.0 / n
    values, vectors = np.linalg.eigh(centre @ kinship @ centre)
    x_rot = vectors.T @ np.ones((n, 1))
    ml = fit_spectral(values, vectors.T @ y, x_rot, method="ml")
    assert round(ml.logl, 2) == -1587.27
    reml = fit_spectral(values, vectors.T @ y, x_rot, method="reml")
    assert round(reml.h2, 5) == 0.59544
    assert round(float(reml.beta_se[0]), 7) == 0.0155263


@pytest.fixture(scope="module")
def bxd(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    work = tmp_path_factory.mktemp("bxd")
    make_grm(DATA / "bxd" / "BXD", out=work / "bxd")
    fam = (DATA / "bxd" / "BXD.fam").read_text().split("\n")
    rows = [line.split() for line in fam if line.strip()]
    pheno = work / "bxd.pheno"
    pheno.write_text("".join(f"{r[0]} {r[1]} {'NA' if r[5] == '-9' else r[5]}\n" for r in rows))
    covar_lines = (DATA / "bxd" / "BXD_covariates.txt").read_text().splitlines()
    covar = work / "bxd.covar"
    covar.write_text(
        "FID IID c1 c2\n"
        + "".join(f"{r[0]} {r[1]} {c}\n" for r, c in zip(rows, covar_lines, strict=True))
    )
    return work / "bxd.h5", pheno, covar


def test_reml__bxd_boundary_is_flagged_and_finite(bxd) -> None:
    grm, pheno, _ = bxd
    report = fit_reml(RemlOptions(grm=str(grm), pheno=str(pheno)))
    fit = report.phenotypes[0].fit
    assert fit.n == 67
    assert fit.h2 == pytest.approx(0.0, abs=1e-3)
    assert fit.boundary == "lower"
    assert fit.h2_ci[0] == 0.0 and 0.0 < fit.h2_ci[1] <= 1.0
    for value in (fit.h2_se, fit.vg_se, fit.ve_se, fit.vp_se, fit.logl, fit.pval):
        assert value is not None and math.isfinite(value)
    assert fit.pval >= 0.4
    # At h² = 0 the likelihood does not depend on K: GEMMA's boundary value applies.
    assert round(fit.logl0, 4) == -49.6077
    # (GEMMA's MLE, −49.8552, is not comparable here: ML depends on its centring of K.)
    ml = fit_reml(RemlOptions(grm=str(grm), pheno=str(pheno), method="ml")).phenotypes[0].fit
    assert ml.boundary == "lower" and math.isfinite(ml.logl)


def test_reml__bxd_with_covariates_and_no_constrain(bxd) -> None:
    grm, pheno, covar = bxd
    report = fit_reml(RemlOptions(grm=str(grm), pheno=str(pheno), covar=str(covar)))
    fit = report.phenotypes[0]
    # The two BXD covariate columns are identical: the second is dropped as collinear.
    assert fit.covariates == ("intercept", "c1")
    assert [name for name, _ in fit.dropped_covariates] == ["c2"]
    free = fit_reml(RemlOptions(grm=str(grm), pheno=str(pheno), constrain=False)).phenotypes[0]
    assert free.fit.h2 <= report.phenotypes[0].fit.h2 + 1e-6 or free.fit.h2 < 0


def test_cli__eigen_then_reml_uses_cache(tmp_path: Path, capsys) -> None:
    prefix = tmp_path / "mice"
    assert run(["make-grm", "--bfile", str(EXAMPLE / "example"), "--out", str(prefix), "-q"]) == 0
    assert run(["eigen", "--grm", f"{prefix}.h5", "--pcs", "5", "-q"]) == 0
    pcs = (tmp_path / "mice.pcs.txt").read_text().splitlines()
    assert pcs[0].split() == ["#FID", "IID", "PC1", "PC2", "PC3", "PC4", "PC5"]
    assert len(pcs) == 1941
    assert len((tmp_path / "mice.eigenval").read_text().split()) == 5
    out = tmp_path / "res"
    code = run(
        [
            "reml",
            "--grm",
            f"{prefix}.h5",
            "--pheno",
            str(EXAMPLE / "example.pheno"),
            "--all-pheno",
            "--covar",
            str(tmp_path / "mice.pcs.txt"),
            "--out",
            str(out),
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)
    names = [p["name"] for p in document["phenotypes"]]
    assert names == ["CD8", "MCH"]
    for p in document["phenotypes"]:
        assert p["covariates"] == ["intercept", "PC1", "PC2", "PC3", "PC4", "PC5"]
        assert 0 < p["h2"] < 1 and p["h2_se"] > 0
        assert "cached" in p["eigen_source"] or "decomposed" in p["eigen_source"]
    hsq = (tmp_path / "res.CD8.hsq").read_text().splitlines()
    assert [line.split("\t")[0] for line in hsq] == [
        "Source",
        "V(G)",
        "V(e)",
        "Vp",
        "V(G)/Vp",
        "logL",
        "logL0",
        "LRT",
        "df",
        "Pval",
        "n",
    ]
    assert (tmp_path / "res.json").exists() and (tmp_path / "res.dropped.tsv").exists()
    # Phenotypes with different missing patterns get sub-GRM decompositions, cached by sample set.
    assert len(list(tmp_path.glob("mice.eigen.*.h5"))) == 2
    # Second run: everything comes from the cache.
    assert (
        run(
            [
                "reml",
                "--grm",
                f"{prefix}.h5",
                "--pheno",
                str(EXAMPLE / "example.pheno"),
                "--out",
                str(out),
                "--json",
                "-q",
            ]
        )
        == 0
    )
    again = json.loads(capsys.readouterr().out)["phenotypes"][0]
    assert again["eigen_source"].startswith("cached")
