"""The ``herit eigen`` and ``herit reml`` command lines on HapMap3 genotypes.

The GRM is built from ``tests/data/hapmap3/hm3`` (957 samples of several populations, 14,079 SNPs,
0.15 % missing calls) by ``herit make-grm``, decomposed by ``herit eigen --pcs 10``, and phenotypes
are simulated from that decomposition (seeded): g = U·diag(√d)·ξ has covariance K exactly.

Every number a run prints is checked against an independent computation written in the test: the
spectral fit of :func:`heritcli.core.reml.fit_spectral` on the eigenvectors stored by ``eigen`` (or,
for sub-samples, on ``numpy.linalg.eigh`` of the sub-GRM), GCTA's logL convention
(logL_GCTA = logL + ½·df·log 2π − ½·log|XᵀX| for REML, + ½·n·log 2π for ML; see
:mod:`heritcli.core.reml`) and the liability transformation of Lee et al. (2011, AJHG 88:294),
h²_L = h²_O·K²(1 − K)²/(φ(Φ⁻¹(1 − K))²·P(1 − P)).

Each failure case checks the exit code, a single ``herit: error:`` line naming the offending
file, line or value, no traceback, and that no result file (``.hsq``, ``.json``, ``.dropped.tsv``)
or temporary file is left behind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import DATA
from scipy import stats

from heritcli.cli.main import run
from heritcli.core.reml import fit_spectral

HM3 = DATA / "hapmap3" / "hm3"
LOG_2PI = math.log(2.0 * math.pi)
HSQ_ROWS = ["Source", "V(G)", "V(e)", "Vp", "V(G)/Vp", "logL", "logL0", "LRT", "df", "Pval", "n"]
#: Population prevalence of the simulated 0/1 trait (liability threshold Φ⁻¹(1 − 0.2)).
PREVALENCE = 0.2


@dataclass(frozen=True)
class Hm3:
    """The HapMap3 GRM, its decomposition, PCs and a simulated phenotype file."""

    work: Path
    grm: Path
    eigen: Path
    pcs: Path
    pheno: Path
    fid: list[str]
    iid: list[str]
    values: np.ndarray
    vectors: np.ndarray
    pcs_matrix: np.ndarray
    traits: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return len(self.fid)


def herit(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("herit: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def result_files(*directories: Path) -> list[str]:
    """Result and temporary files (a failed run may leave its ``.log`` and nothing else)."""
    found = []
    for directory in directories:
        for path in directory.iterdir():
            if path.suffix in (".hsq", ".json", ".tsv") or ".herit-tmp-" in path.name:
                found.append(path.name)
    return sorted(found)


def write_table(path: Path, header: str | None, ids: list[tuple[str, str]], columns) -> Path:
    """Write ``FID IID c1 c2 …`` (NaN as NA); ``header`` None writes none."""
    lines = [] if header is None else [header]
    matrix = np.column_stack(columns) if columns else np.empty((len(ids), 0))
    for (f, i), row in zip(ids, matrix, strict=True):
        cells = ["NA" if isinstance(v, float) and math.isnan(v) else f"{v:.10g}" for v in row]
        lines.append(" ".join([f, i, *cells]))
    path.write_text("\n".join(lines) + "\n")
    return path


def read_hsq(path: Path) -> dict[str, list[str]]:
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    return {row[0]: row[1:] for row in rows}


def oracle(
    hm3: Hm3,
    trait: str,
    covariates: np.ndarray | None,
    index: np.ndarray | None = None,
    **kw: object,
):
    """Fit the trait with the library alone; returns (fit, X) for the analysed samples."""
    y = hm3.traits[trait]
    rows = np.arange(hm3.n) if index is None else index
    ok = rows[~np.isnan(y[rows])]
    x = np.ones((ok.size, 1))
    if covariates is not None:
        x = np.column_stack([x, covariates[ok]])
    if index is None and ok.size == hm3.n:
        values, vectors = hm3.values, hm3.vectors
    else:
        with h5py.File(hm3.grm) as handle:
            kinship = handle["grm/values"][()].astype(np.float64)[np.ix_(ok, ok)]
        values, vectors = np.linalg.eigh(kinship)
    fit = fit_spectral(values, vectors.T @ y[ok], vectors.T @ x, **kw)
    return fit, x


@pytest.fixture(scope="module")
def hm3(tmp_path_factory: pytest.TempPathFactory) -> Hm3:
    work = tmp_path_factory.mktemp("hm3")
    assert run(["make-grm", "--bfile", str(HM3), "--out", str(work / "hm3"), "-q"]) == 0
    assert run(["eigen", "--grm", str(work / "hm3.h5"), "--pcs", "10", "-q"]) == 0
    with h5py.File(work / "hm3.eigen.h5") as handle:
        values = handle["eigen/values"][()]
        vectors = handle["eigen/vectors"][()]
        fid = handle["samples/fid"].asstr()[()].tolist()
        iid = handle["samples/iid"].asstr()[()].tolist()
    pcs_lines = (work / "hm3.pcs.txt").read_text().splitlines()
    pcs_matrix = np.array([[float(v) for v in line.split()[2:]] for line in pcs_lines[1:]])
    n = len(fid)
    rng = np.random.default_rng(20240612)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))

    def genetic() -> np.ndarray:
        return root @ rng.standard_normal(n)

    # y1: h² = 0.5 and an effect of the leading PC (population structure, adjusted by --covar).
    y1 = 1.0 + 3.0 * pcs_matrix[:, 0] + math.sqrt(0.5) * genetic()
    y1 += math.sqrt(0.5) * rng.standard_normal(n)
    # y2: h² = 0.3 with 60 missing values, written as NA and as -9.
    y2 = math.sqrt(0.3) * genetic() + math.sqrt(0.7) * rng.standard_normal(n)
    y2[rng.choice(n, 60, replace=False)] = np.nan
    # cc: 0/1 by a liability threshold, liability h² = 0.5, prevalence 0.2.
    liability = math.sqrt(0.5) * genetic() + math.sqrt(0.5) * rng.standard_normal(n)
    cc = (liability > stats.norm.isf(PREVALENCE)).astype(np.float64)
    # neg: rotated variances w_i = 1 + h(d_i − 1) with h < 0, i.e. a negative "heritability",
    # which only --no-constrain can estimate.
    h_neg = -0.5 / (values.max() - 1.0)
    w = 1.0 + h_neg * (values - 1.0)
    neg = vectors @ (np.sqrt(w) * rng.choice([-1.0, 1.0], n))
    ids = list(zip(fid, iid, strict=True))
    pheno = work / "traits.txt"
    write_table(pheno, "FID IID y1 y2 cc neg", ids, [y1, y2, cc, neg])
    # Some missing y2 values as -9 (PLINK's code) rather than NA.
    text = pheno.read_text().splitlines()
    missing_rows = [k for k in range(n) if np.isnan(y2[k])][:20]
    for k in missing_rows:
        cells = text[k + 1].split()
        cells[3] = "-9"
        text[k + 1] = " ".join(cells)
    pheno.write_text("\n".join(text) + "\n")
    return Hm3(
        work=work,
        grm=work / "hm3.h5",
        eigen=work / "hm3.eigen.h5",
        pcs=work / "hm3.pcs.txt",
        pheno=pheno,
        fid=fid,
        iid=iid,
        values=values,
        vectors=vectors,
        pcs_matrix=pcs_matrix,
        traits={"y1": y1, "y2": y2, "cc": cc, "neg": neg},
    )


def ids_file(path: Path, hm3: Hm3, rows: np.ndarray, header: bool = False) -> Path:
    lines = (["#FID IID"] if header else []) + [f"{hm3.fid[k]} {hm3.iid[k]}" for k in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------------------------
# Workflows
# --------------------------------------------------------------------------------------------


def test_reml__hapmap3_with_pcs_as_covariates(capsys, hm3: Hm3, tmp_path: Path) -> None:
    out = tmp_path / "res"
    code, stdout, err = herit(
        capsys, "reml", "--grm", hm3.grm, "--pheno", hm3.pheno, "--covar", hm3.pcs, "--out", out
    )
    assert code == 0, err
    assert "y1" in stdout and "V(G)/Vp" in stdout  # the table
    document = json.loads((tmp_path / "res.json").read_text())
    (result,) = document["phenotypes"]
    expected_keys = {
        "name", "h2", "h2_se", "h2_ci", "vg", "vg_se", "ve", "ve_se", "vp", "vp_se", "logl",
        "logl0", "lrt", "pval", "n", "df", "beta", "beta_se", "covariates", "boundary",
        "method", "cov_vc", "logl_gcta", "logl0_gcta", "eigen_source",
    }  # fmt: skip
    assert expected_keys <= set(result)
    assert result["name"] == "y1" and result["n"] == 957 and result["method"] == "reml"
    assert result["covariates"] == ["intercept"] + [f"PC{k}" for k in range(1, 11)]
    assert result["eigen_source"] == f"cached {hm3.eigen}"
    fit, x = oracle(hm3, "y1", hm3.pcs_matrix)
    for key in ("h2", "h2_se", "vg", "vg_se", "ve", "ve_se", "vp", "vp_se", "logl", "logl0"):
        assert result[key] == pytest.approx(getattr(fit, key), rel=1e-9, abs=1e-12), key
    assert result["h2_ci"] == pytest.approx(list(fit.h2_ci), rel=1e-9)
    assert result["beta"] == pytest.approx(fit.beta.tolist(), rel=1e-7, abs=1e-8)
    assert np.array(result["cov_vc"]) == pytest.approx(fit.cov_vc, rel=1e-8)
    # Simulated with h² = 0.5: the profile interval covers it.
    assert result["h2_ci"][0] < 0.5 < result["h2_ci"][1]
    # The .hsq: GCTA's rows, values to the printed digits, logL in GCTA's convention.
    hsq = read_hsq(tmp_path / "res.hsq")
    assert list(hsq) == HSQ_ROWS
    assert hsq["V(G)/Vp"] == [f"{fit.h2:.6f}", f"{fit.h2_se:.6f}"]
    assert hsq["V(G)"] == [f"{fit.vg:.6f}", f"{fit.vg_se:.6f}"]
    df = 957 - x.shape[1]
    shift = 0.5 * df * LOG_2PI - 0.5 * np.linalg.slogdet(x.T @ x)[1]
    assert float(hsq["logL"][0]) == pytest.approx(fit.logl + shift, abs=6e-4)
    assert float(hsq["logL0"][0]) == pytest.approx(fit.logl0 + shift, abs=6e-4)
    assert hsq["n"] == ["957"] and hsq["df"] == ["1"]
    log = (tmp_path / "res.log").read_text()
    assert "herit reml" in log and "finished after" in log


@pytest.mark.parametrize("flavour", ["plink2", "gcta-covar", "gcta-qcovar"])
def test_reml__eigenvec_files_as_covariates(capsys, hm3: Hm3, tmp_path: Path, flavour: str) -> None:
    ids = list(zip(hm3.fid, hm3.iid, strict=True))
    columns = list(hm3.pcs_matrix.T)
    if flavour == "plink2":  # plink2 --pca: tab-separated, '#FID IID PC1 …' header
        path = tmp_path / "pca.eigenvec"
        header = "#FID\tIID\t" + "\t".join(f"PC{k}" for k in range(1, 11))
        write_table(path, header, ids, columns)
        path.write_text(path.read_text().replace(" ", "\t"))
        option, names = "--covar", [f"PC{k}" for k in range(1, 11)]
    else:  # GCTA --pca: 'FID IID v1 … v10', space-separated, no header
        path = write_table(tmp_path / "gcta.eigenvec", None, ids, columns)
        option = "--covar" if flavour == "gcta-covar" else "--qcovar"
        prefix = "covar" if option == "--covar" else "qcovar"
        names = [f"{prefix}{k}" for k in range(1, 11)]
    code, stdout, err = herit(
        capsys, "reml", "--grm", hm3.grm, "--pheno", hm3.pheno, option, path, "--json", "-q",
        "--out", tmp_path / "res",
    )  # fmt: skip
    assert code == 0, err
    (result,) = json.loads(stdout)["phenotypes"]
    assert result["covariates"] == ["intercept", *names]
    fit, _ = oracle(hm3, "y1", hm3.pcs_matrix)
    assert result["h2"] == pytest.approx(fit.h2, rel=1e-9)
    assert result["h2_se"] == pytest.approx(fit.h2_se, rel=1e-9)


def test_reml__keep_and_remove(capsys, hm3: Hm3, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    kept = np.sort(rng.choice(hm3.n, 600, replace=False))
    removed = kept[::12]  # 50 of the kept samples
    keep = ids_file(tmp_path / "keep.txt", hm3, kept, header=True)
    remove = ids_file(tmp_path / "remove.txt", hm3, removed)
    args = ["reml", "--grm", hm3.grm, "--pheno", hm3.pheno, "--covar", hm3.pcs]
    args += ["--keep", keep, "--remove", remove, "--out", tmp_path / "res", "-v"]
    code, _, err = herit(capsys, *args)
    assert code == 0, err
    (result,) = json.loads((tmp_path / "res.json").read_text())["phenotypes"]
    assert result["n"] == 550
    index = np.setdiff1d(kept, removed)
    fit, _ = oracle(hm3, "y1", hm3.pcs_matrix, index=index)
    assert result["h2"] == pytest.approx(fit.h2, rel=1e-7)
    assert result["h2_se"] == pytest.approx(fit.h2_se, rel=1e-7)
    assert result["logl"] == pytest.approx(fit.logl, rel=1e-9)
    # The sub-GRM was decomposed here and cached under its sample-set hash ...
    assert "decomposed here" in result["eigen_source"]
    caches = list(hm3.work.glob("hm3.eigen.*.h5"))
    assert any(str(c) in result["eigen_source"] for c in caches)
    dropped = (tmp_path / "res.dropped.tsv").read_text().splitlines()
    assert len(dropped) == 1 + 957 - 550
    reasons = "\n".join(dropped)
    assert "keep" in reasons and "remove" in reasons
    # ... and found again by the next run.
    code, stdout, err = herit(capsys, *args[:-1], "--json", "-q")
    assert code == 0, err
    assert json.loads(stdout)["phenotypes"][0]["eigen_source"].startswith("cached")


def test_reml__method_ml(capsys, hm3: Hm3, tmp_path: Path) -> None:
    code, _, err = herit(
        capsys, "reml", "--grm", hm3.grm, "--pheno", hm3.pheno, "--covar", hm3.pcs,
        "--method", "ml", "--out", tmp_path / "res", "-q",
    )  # fmt: skip
    assert code == 0, err
    (result,) = json.loads((tmp_path / "res.json").read_text())["phenotypes"]
    assert result["method"] == "ml"
    fit, _ = oracle(hm3, "y1", hm3.pcs_matrix, method="ml")
    reml_fit, _ = oracle(hm3, "y1", hm3.pcs_matrix)
    assert result["h2"] == pytest.approx(fit.h2, rel=1e-9)
    assert result["vp"] == pytest.approx(fit.vp, rel=1e-9)
    assert fit.h2 != pytest.approx(reml_fit.h2, rel=1e-6)  # ML really is a different fit
    hsq = read_hsq(tmp_path / "res.hsq")
    assert float(hsq["logL"][0]) == pytest.approx(fit.logl + 0.5 * 957 * LOG_2PI, abs=6e-4)


def test_reml__no_constrain_allows_negative_h2(capsys, hm3: Hm3, tmp_path: Path) -> None:
    base = ["reml", "--grm", hm3.grm, "--pheno", hm3.pheno, "--pheno-name", "neg"]
    code, _, err = herit(capsys, *base, "--out", tmp_path / "bounded")
    assert code == 0, err
    assert "lower boundary" in err  # the warning
    (bounded,) = json.loads((tmp_path / "bounded.json").read_text())["phenotypes"]
    assert bounded["h2"] == 0.0 and bounded["boundary"] == "lower"
    code, _, err = herit(capsys, *base, "--no-constrain", "--out", tmp_path / "free", "-q")
    assert code == 0, err
    (free,) = json.loads((tmp_path / "free.json").read_text())["phenotypes"]
    fit, _ = oracle(hm3, "neg", None, constrain=False)
    assert fit.h2 < 0.0
    assert free["h2"] == pytest.approx(fit.h2, rel=1e-8)
    assert free["boundary"] is None and free["h2_ci"][0] < free["h2"] < 0.0
    hsq = read_hsq(tmp_path / "free.hsq")
    assert float(hsq["V(G)"][0]) < 0.0 and float(hsq["V(G)/Vp"][0]) < 0.0


def test_reml__prevalence_gives_liability_scale(capsys, hm3: Hm3, tmp_path: Path) -> None:
    code, _, err = herit(
        capsys, "reml", "--grm", hm3.grm, "--pheno", hm3.pheno, "--pheno-name", "cc",
        "--prevalence", PREVALENCE, "--out", tmp_path / "res", "-q",
    )  # fmt: skip
    assert code == 0, err
    (result,) = json.loads((tmp_path / "res.json").read_text())["phenotypes"]
    cases = float(np.mean(hm3.traits["cc"]))
    threshold = stats.norm.isf(PREVALENCE)
    factor = (PREVALENCE * (1 - PREVALENCE)) ** 2 / (
        stats.norm.pdf(threshold) ** 2 * cases * (1 - cases)
    )
    assert result["sample_prevalence"] == pytest.approx(cases, rel=1e-12)
    assert result["h2_liability"] == pytest.approx(result["h2"] * factor, rel=1e-12)
    assert result["h2_liability_se"] == pytest.approx(result["h2_se"] * factor, rel=1e-12)
    hsq = read_hsq(tmp_path / "res.hsq")
    assert list(hsq) == [*HSQ_ROWS[:5], "V(G)/Vp_L", *HSQ_ROWS[5:]]
    assert hsq["V(G)/Vp_L"] == [
        f"{result['h2'] * factor:.6f}",
        f"{result['h2_se'] * factor:.6f}",
    ]
    # Simulated with liability h² = 0.5.
    assert abs(result["h2_liability"] - 0.5) < 4 * result["h2_liability_se"]


def test_reml__prevalence_rejects_quantitative_trait(capsys, hm3: Hm3, tmp_path: Path) -> None:
    code, _, err = herit(
        capsys, "reml", "--grm", hm3.grm, "--pheno", hm3.pheno, "--prevalence", "0.1",
        "--out", tmp_path / "res",
    )  # fmt: skip
    assert code == 4
    assert_one_line_error(err, "--prevalence", "y1")
    assert result_files(tmp_path) == []


def test_reml__all_pheno(capsys, hm3: Hm3, tmp_path: Path) -> None:
    code, stdout, err = herit(
        capsys, "reml", "--grm", hm3.grm, "--pheno", hm3.pheno, "--all-pheno",
        "--out", tmp_path / "all",
    )  # fmt: skip
    assert code == 0, err
    names = ["y1", "y2", "cc", "neg"]
    for name in names:
        assert list(read_hsq(tmp_path / f"all.{name}.hsq")) == HSQ_ROWS
        assert name in stdout
    assert not (tmp_path / "all.hsq").exists()
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["all.json"]
    document = json.loads((tmp_path / "all.json").read_text())
    assert [p["name"] for p in document["phenotypes"]] == names
    by_name = {p["name"]: p for p in document["phenotypes"]}
    assert by_name["y2"]["n"] == 957 - 60 and by_name["y1"]["n"] == 957
    for name in names:
        fit, _ = oracle(hm3, name, None)
        assert by_name[name]["h2"] == pytest.approx(fit.h2, rel=1e-7, abs=1e-12)
        hsq = read_hsq(tmp_path / f"all.{name}.hsq")
        assert hsq["n"] == [str(by_name[name]["n"])]
    dropped = (tmp_path / "all.dropped.tsv").read_text().splitlines()
    assert len(dropped) == 1 + 60 and all("\ty2\t" in line for line in dropped[1:])


def test_reml__collinear_covariate_dropped_with_warning(capsys, hm3: Hm3, tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    age = rng.normal(50, 10, hm3.n)
    ids = list(zip(hm3.fid, hm3.iid, strict=True))
    covar = write_table(tmp_path / "covar.txt", "FID IID age age_months", ids, [age, 12 * age])
    code, _, err = herit(
        capsys, "reml", "--grm", hm3.grm, "--pheno", hm3.pheno, "--covar", covar,
        "--out", tmp_path / "res",
    )  # fmt: skip
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("herit: warning:")]
    assert any("age_months" in line and "collinear" in line for line in warnings), err
    (result,) = json.loads((tmp_path / "res.json").read_text())["phenotypes"]
    assert result["covariates"] == ["intercept", "age"]
    assert [d[0] for d in result["dropped_covariates"]] == ["age_months"]
    fit, _ = oracle(hm3, "y1", age[:, None])
    assert result["h2"] == pytest.approx(fit.h2, rel=1e-8)


def test_reml__real_subprocess(hm3: Hm3, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    ids = list(zip(hm3.fid, hm3.iid, strict=True))
    constant = write_table(tmp_path / "const.txt", "FID IID y", ids, [np.full(hm3.n, 2.5)])
    base = [sys.executable, "-m", "heritcli", "reml", "--grm", str(hm3.grm)]
    proc = subprocess.run(
        [*base, "--pheno", str(constant), "--out", str(tmp_path / "bad")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 4, proc.stderr
    assert_one_line_error(proc.stderr, "constant", "y", str(constant))
    assert result_files(tmp_path) == []
    proc = subprocess.run(
        [*base, "--pheno", str(hm3.pheno), "--out", str(tmp_path / "ok"), "--json", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert json.loads(proc.stdout)["phenotypes"][0]["name"] == "y1"


# --------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------


def _pheno(tmp: Path, hm3: Hm3, values: list[str], header: str = "FID IID y") -> Path:
    lines = [header] + [f"{f} {i} {v}" for f, i, v in zip(hm3.fid, hm3.iid, values, strict=True)]
    path = tmp / "pheno.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _text_in_phenotype(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    values = [f"{v:.6g}" for v in hm3.traits["y1"]]
    values[3] = "high"
    path = _pheno(tmp, hm3, values)
    return ["--pheno", path], [str(path), "line 5", "column y", "'high'"]


def _no_overlap(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    path = tmp / "pheno.txt"
    path.write_text("FID IID y\n" + "".join(f"F{k} I{k} {k % 7}\n" for k in range(50)))
    return ["--pheno", path], ["no samples in common", str(path), "957"]


def _constant(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    path = _pheno(tmp, hm3, ["1.5"] * hm3.n)
    return ["--pheno", path], ["phenotype y", str(path), "constant (1.5)"]


def _phenotype_is_covariate(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    lines = hm3.pcs.read_text().splitlines()
    path = tmp / "pheno.txt"
    path.write_text("FID IID y\n" + "".join(" ".join(x.split()[:3]) + "\n" for x in lines[1:]))
    args = ["--pheno", path, "--covar", hm3.pcs]
    return args, ["phenotype y", str(path), "linear combination of the covariates", "PC1"]


def _all_missing(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    path = _pheno(tmp, hm3, ["NA"] * (hm3.n - 3) + ["-9", "nan", "NA"])
    return ["--pheno", path], ["no samples left", "957 missing phenotype y"]


def _mpheno_beyond(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    return ["--pheno", hm3.pheno, "--mpheno", "5"], ["--mpheno 5", "4 phenotype columns"]


def _too_many_covariates(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    keep = ids_file(tmp / "keep.txt", hm3, np.arange(8))
    args = ["--pheno", hm3.pheno, "--covar", hm3.pcs, "--keep", keep]
    return args, ["11 columns", "10 covariate columns", "8 samples"]


def _grm_missing(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    path = tmp / "nothere.h5"
    return ["--grm", path, "--pheno", hm3.pheno], [str(path), "does not exist"]


def _grm_directory(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    path = tmp / "adir.h5"
    path.mkdir()
    return ["--grm", path, "--pheno", hm3.pheno], [str(path), "is a directory"]


def _grm_truncated(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    path = tmp / "cut.h5"
    data = hm3.grm.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return ["--grm", path, "--pheno", hm3.pheno], [str(path), "not a readable HDF5 file"]


def _grm_not_hdf5(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    path = tmp / "text.h5"
    path.write_text("FID IID y\n")
    return ["--grm", path, "--pheno", hm3.pheno], [str(path), "not a readable HDF5 file"]


def _grm_foreign_hdf5(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    path = tmp / "foreign.h5"
    with h5py.File(path, "w") as handle:
        handle["grm"] = np.eye(3)
    return ["--grm", path, "--pheno", hm3.pheno], [str(path), "not an herit artifact"]


def _grm_unreadable(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    path = tmp / "locked.h5"
    shutil.copy(hm3.grm, path)
    path.chmod(0)
    return ["--grm", path, "--pheno", hm3.pheno], [str(path), "not a readable HDF5 file"]


def _eigen_as_grm(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    return ["--grm", hm3.eigen, "--pheno", hm3.pheno], [str(hm3.eigen), "'eigen'", "'grm'"]


def _eigen_of_other_grm(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    other = tmp / "other"
    assert run(["make-grm", "--bfile", str(HM3), "--maf", "0.2", "--out", str(other), "-q"]) == 0
    assert run(["eigen", "--grm", f"{other}.h5", "-q"]) == 0
    path = tmp / "other.eigen.h5"
    return ["--eigen", path, "--pheno", hm3.pheno], [str(path), "another GRM", str(hm3.grm)]


def _eigen_of_other_samples(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    keep = ids_file(tmp / "keep.txt", hm3, np.arange(700))
    args = ["--eigen", hm3.eigen, "--keep", keep, "--pheno", hm3.pheno]
    return args, [str(hm3.eigen), "957 samples", "700 samples"]


def _out_dir_missing(tmp: Path, hm3: Hm3) -> tuple[list[object], list[str]]:
    out = tmp / "no" / "such" / "dir" / "res"
    return ["--pheno", hm3.pheno, "--out", out], [str(out.parent), "does not exist"]


BAD_INPUTS: dict[str, tuple[Callable[[Path, Hm3], tuple[list[object], list[str]]], int]] = {
    "text-in-phenotype": (_text_in_phenotype, 3),
    "no-overlapping-ids": (_no_overlap, 4),
    "constant-phenotype": (_constant, 4),
    "all-missing-phenotype": (_all_missing, 4),
    "phenotype-is-a-covariate": (_phenotype_is_covariate, 4),
    "mpheno-beyond-last-column": (_mpheno_beyond, 2),
    "more-covariates-than-samples": (_too_many_covariates, 4),
    "grm-missing": (_grm_missing, 3),
    "grm-is-directory": (_grm_directory, 3),
    "grm-truncated": (_grm_truncated, 3),
    "grm-not-hdf5": (_grm_not_hdf5, 3),
    "grm-foreign-hdf5": (_grm_foreign_hdf5, 6),
    "grm-unreadable": (_grm_unreadable, 3),
    "eigen-artifact-as-grm": (_eigen_as_grm, 6),
    "eigen-of-another-grm": (_eigen_of_other_grm, 6),
    "eigen-of-another-sample-set": (_eigen_of_other_samples, 6),
    "output-directory-missing": (_out_dir_missing, 7),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_reml__bad_input(capsys, hm3: Hm3, tmp_path: Path, case: str) -> None:
    if case == "grm-unreadable" and os.geteuid() == 0:
        pytest.skip("file permissions do not restrict root")
    make, expected_code = BAD_INPUTS[case]
    extra, fragments = make(tmp_path, hm3)
    args: list[object] = ["reml"]
    if "--grm" not in extra:
        args += ["--grm", hm3.grm]
    if "--out" not in extra:
        args += ["--out", tmp_path / "res"]
    before = sorted(p.name for p in hm3.work.iterdir())
    code, stdout, err = herit(capsys, *args, *extra)
    assert code == expected_code, err
    assert_one_line_error(err, *fragments)
    assert stdout == ""
    assert result_files(tmp_path) == []
    # Nothing new beside the GRM either (no cache of a failed run, no temporary file).
    assert sorted(p.name for p in hm3.work.iterdir()) == before
