"""``herit mcem`` and :func:`heritcli.mcem_run.fit_mcem`: pipeline, command line, simulations.

Three groups of tests:

* the command line on a small synthetic fileset (written here with ``write_bfile``, seeded):
  files written, JSON keys, REML starting values equal to ``herit make-grm`` + ``herit reml``
  on the same data (the same standardization and sample handling), determinism across
  ``--threads``, and bad input (one ``herit: error:`` line, the documented exit code, no
  traceback, no result file);
* simulations on the real HS-mouse genotypes (``example_data/example``, 1,940 mice, 10,996
  polymorphic SNPs; the analysed samples are the 1,410 with a CD8 value), with traits simulated
  here (seeded): a sparse trait with 20 causal SNPs and a polygenic one, each fitted with the
  default options and with every chain started at π = 0.5 and at π = 0.001.  The acceptance
  rules come from the feature request: π̂·M within a factor 2 of the number of causal SNPs and
  ĥ² within 2 SE of the realised h² for the sparse trait; π̂ high and ĥ² close to REML's for
  the polygenic trait;
* a slow calibration study over 30 sparse replicates (``-m slow``): the mean reported SE of ĥ²
  within 25 % of the empirical SD of ĥ² − realised h²; REML's SE is reported next to it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from helpers import EXAMPLE

from heritcli.cli.main import run
from heritcli.errors import ConvergenceError
from heritcli.io.plink import write_bfile
from heritcli.mcem_run import McemOptions, fit_mcem

RESULT_SUFFIXES = (".mcem.json", ".mcem.trace.tsv", ".mcem.pip.tsv", ".dropped.tsv")


# --------------------------------------------------------------------------------------------
# A small synthetic fileset for the command line
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """300 samples × 800 SNPs with 1 % missing calls, a 6-SNP trait and one covariate."""
    work = tmp_path_factory.mktemp("mcem_small")
    rng = np.random.default_rng(2024)
    n, m = 300, 800
    p = rng.uniform(0.1, 0.9, m)
    counts = rng.binomial(2, p[:, None], (m, n)).astype(np.int8)
    counts[rng.random(counts.shape) < 0.01] = -1
    write_bfile(work / "small", counts)
    z = np.where(
        counts >= 0, (counts - 2 * p[:, None]) / np.sqrt(2 * p[:, None] * (1 - p[:, None])), 0
    )
    causal = rng.choice(m, 6, replace=False)
    genetic = z[causal].T @ rng.standard_normal(6)
    age = rng.normal(50, 10, n)
    y = genetic / genetic.std() * math.sqrt(0.5) + rng.standard_normal(n) * math.sqrt(0.5)
    y += 0.05 * age
    lines = ["FID IID y other"]
    for i in range(n):
        value = "NA" if i % 60 == 0 else f"{y[i]:.6f}"
        lines.append(f"fam{i} ind{i} {value} {rng.standard_normal():.4f}")
    (work / "small.pheno").write_text("\n".join(lines) + "\n")
    covar = ["FID IID age"] + [f"fam{i} ind{i} {age[i]:.3f}" for i in range(n)]
    (work / "small.covar").write_text("\n".join(covar) + "\n")
    return {
        "work": work,
        "bfile": work / "small",
        "pheno": work / "small.pheno",
        "covar": work / "small.covar",
    }


FAST = ["--iterations", "500", "--burn-in", "100"]


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


def result_files(directory: Path) -> list[str]:
    return sorted(
        p.name
        for p in directory.iterdir()
        if p.name.endswith(RESULT_SUFFIXES) or p.name.startswith(".herit-tmp-")
    )


def test_mcem__writes_every_output(capsys, small: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "res"
    code, stdout, err = herit(
        capsys,
        "mcem",
        "--bfile",
        small["bfile"],
        "--pheno",
        small["pheno"],
        "--covar",
        small["covar"],
        "--out",
        out,
        *FAST,
    )
    assert code == 0, err
    assert "Spike-and-slab" in stdout
    document = json.loads((tmp_path / "res.mcem.json").read_text())
    for key in (
        "h2",
        "h2_se",
        "pi",
        "pi_se",
        "sigma_g2",
        "sigma_e2",
        "n",
        "n_snps",
        "iterations",
        "converged",
        "rhat",
        "chains",
        "seed",
        "reml",
        "h2_realised",
        "h2_realised_sd",
    ):
        assert key in document, key
    assert document["n"] == 295  # 300 less the 5 with NA (i % 60 == 0)
    assert document["n_snps"] == 800
    assert document["covariates"] == ["intercept", "age"]
    assert document["converged"] is True
    assert len(document["chains"]) == 4
    assert [c["pi_start"] for c in document["chains"]] == [0.001, 0.01, 0.1, 0.5]
    assert 0.0 < document["h2"] < 1.0 and document["h2_se"] > 0
    assert document["command"].startswith("herit mcem --bfile")
    trace = (tmp_path / "res.mcem.trace.tsv").read_text().splitlines()
    assert trace[0].split("\t")[:5] == ["chain", "iteration", "phase", "h2", "pi"]
    assert len(trace) == 1 + 4 * document["iterations"]
    pip = (tmp_path / "res.mcem.pip.tsv").read_text().splitlines()
    assert pip[0].split("\t") == ["SNP", "CHR", "BP", "A1", "A2", "PIP", "BETA", "BETA_A1"]
    assert len(pip) == 801
    values = np.array([float(line.split("\t")[5]) for line in pip[1:]])
    assert np.all((values >= 0) & (values <= 1))
    log = (tmp_path / "res.log").read_text()
    assert "REML starting values" in log and "finished after" in log
    assert (tmp_path / "res.dropped.tsv").read_text().count("missing phenotype y") == 5


def test_mcem__reml_start_equals_make_grm_and_reml(
    capsys, small: dict[str, Path], tmp_path: Path
) -> None:
    """The in-memory GRM is make-grm's: REML on it equals ``herit reml`` on the artifact."""
    assert (
        run(["make-grm", "--bfile", str(small["bfile"]), "--out", str(tmp_path / "g"), "-q"]) == 0
    )
    assert (
        run(
            [
                "reml",
                "--grm",
                str(tmp_path / "g.h5"),
                "--pheno",
                str(small["pheno"]),
                "--covar",
                str(small["covar"]),
                "--out",
                str(tmp_path / "r"),
                "-q",
                "--no-cache",
            ]
        )
        == 0
    )
    reml = json.loads((tmp_path / "r.json").read_text())["phenotypes"][0]
    code, _, err = herit(
        capsys,
        "mcem",
        "--bfile",
        small["bfile"],
        "--pheno",
        small["pheno"],
        "--covar",
        small["covar"],
        "--out",
        tmp_path / "m",
        "-q",
        *FAST,
    )
    assert code == 0, err
    start = json.loads((tmp_path / "m.mcem.json").read_text())["reml"]
    # float32 GRM in both (make-grm's default precision): agreement to float32 rounding
    assert start["h2"] == pytest.approx(reml["h2"], abs=1e-5)
    assert start["sigma_g2"] == pytest.approx(reml["vg"], rel=1e-4)


def test_mcem__same_seed_same_output_whatever_threads(
    capsys, small: dict[str, Path], tmp_path: Path
) -> None:
    docs = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}"
        code, _, err = herit(
            capsys,
            "mcem",
            "--bfile",
            small["bfile"],
            "--pheno",
            small["pheno"],
            "--out",
            out,
            "--threads",
            threads,
            "-q",
            "--allow-no-converge",
            *FAST,
        )
        assert code == 0, err
        docs.append(json.loads(Path(f"{out}.mcem.json").read_text()))
        docs[-1]["trace"] = Path(f"{out}.mcem.trace.tsv").read_text()
        docs[-1]["pip"] = Path(f"{out}.mcem.pip.tsv").read_text()
    for key in ("h2", "h2_se", "pi", "pi_se", "rhat", "chains", "trace", "pip", "iterations"):
        assert docs[0][key] == docs[1][key], key


def test_mcem__without_numba_warns_and_uses_numpy(
    capsys, monkeypatch, small: dict[str, Path], tmp_path: Path
) -> None:
    from heritcli.core import mcem

    monkeypatch.setattr(mcem, "_NUMBA_TRIED", True)
    monkeypatch.setattr(mcem, "_NUMBA_SWEEP", None)
    code, _, err = herit(
        capsys,
        "mcem",
        "--bfile",
        small["bfile"],
        "--pheno",
        small["pheno"],
        "--out",
        tmp_path / "np",
        "--iterations",
        "60",
        "--burn-in",
        "20",
        "--chains",
        "2",
        "--allow-no-converge",
        "-q",
    )
    assert code == 0, err
    assert "herit: warning: numba is not installed" in err
    assert json.loads((tmp_path / "np.mcem.json").read_text())["engine"] == "numpy"


def test_mcem__not_converged_exit_5_and_nothing_written(
    capsys, small: dict[str, Path], tmp_path: Path
) -> None:
    # 25 iterations leave 21 after the burn-in: fewer than the rule's minimum, never converged.
    args = [
        "mcem",
        "--bfile",
        small["bfile"],
        "--pheno",
        small["pheno"],
        "--out",
        tmp_path / "nc",
        "--iterations",
        "25",
        "--burn-in",
        "4",
    ]
    code, stdout, err = herit(capsys, *args)
    assert code == 5, err
    assert_one_line_error(err, "did not converge", "25 iterations")
    assert "herit: hint:" in err and "--allow-no-converge" in err
    assert stdout == ""
    assert result_files(tmp_path) == []
    assert "error:" in (tmp_path / "nc.log").read_text()
    code, _, err = herit(capsys, *args, "--allow-no-converge", "-q")
    assert code == 0, err
    assert "did not converge" in err  # still warned
    document = json.loads((tmp_path / "nc.mcem.json").read_text())
    assert document["converged"] is False
    assert document["iterations"] == 25


def _pheno_text(small: dict[str, Path], values: list[str]) -> str:
    rows = [f"fam{i} ind{i} {v}" for i, v in enumerate(values)]
    return "FID IID y\n" + "\n".join(rows) + "\n"


BAD = {
    "bfile-missing": (
        lambda s, t: ["--bfile", t / "nope", "--pheno", s["pheno"]],
        3,
        ["missing PLINK file", "nope.bed"],
    ),
    "pheno-missing": (lambda s, t: ["--pheno", t / "nope.txt"], 3, ["nope.txt", "No such file"]),
    "text-in-phenotype": (
        lambda s, t: [
            "--pheno",
            _write(t / "p.txt", _pheno_text(s, ["1.0"] * 5 + ["high"] + ["2.0"] * 294)),
        ],
        3,
        ["p.txt", "'high'"],
    ),
    "constant-phenotype": (
        lambda s, t: ["--pheno", _write(t / "p.txt", _pheno_text(s, ["1.5"] * 300))],
        4,
        ["phenotype y", "constant (1.5)"],
    ),
    "no-overlapping-ids": (
        lambda s, t: [
            "--pheno",
            _write(t / "p.txt", "FID IID y\n" + "".join(f"F{k} I{k} {k}\n" for k in range(30))),
        ],
        4,
        ["no samples in common"],
    ),
    "extract-matches-nothing": (
        lambda s, t: ["--pheno", s["pheno"], "--extract", _write(t / "e.txt", "rs1\nrs2\n")],
        4,
        ["no variants left"],
    ),
    "pi-start-out-of-range": (
        lambda s, t: ["--pheno", s["pheno"], "--pi-start", "1.5"],
        2,
        ["--pi-start", "1.5"],
    ),
    "maf-out-of-range": (lambda s, t: ["--pheno", s["pheno"], "--maf", "0.7"], 2, ["--maf", "0.7"]),
    "burn-in-too-long": (
        lambda s, t: ["--pheno", s["pheno"], "--iterations", "100", "--burn-in", "90"],
        2,
        ["--iterations 100", "--burn-in 90"],
    ),
    "mpheno-beyond-last-column": (
        lambda s, t: ["--pheno", s["pheno"], "--mpheno", "3"],
        2,
        ["--mpheno 3", "2 phenotype columns"],
    ),
    "output-directory-missing": (
        lambda s, t: ["--pheno", s["pheno"], "--out", t / "no" / "dir" / "res"],
        7,
        ["does not exist"],
    ),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", list(BAD))
def test_mcem__bad_input(capsys, small: dict[str, Path], tmp_path: Path, case: str) -> None:
    make, expected, fragments = BAD[case]
    extra = [str(a) for a in make(small, tmp_path)]
    args = ["mcem", *FAST, *extra]
    if "--bfile" not in extra:
        args += ["--bfile", small["bfile"]]
    if "--out" not in extra:
        args += ["--out", tmp_path / "res"]
    code, stdout, err = herit(capsys, *args)
    assert code == expected, err
    assert_one_line_error(err, *fragments)
    assert stdout == ""
    assert result_files(tmp_path) == []


def test_mcem__real_subprocess_and_help(small: dict[str, Path], tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", "heritcli", "mcem", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "Example" in proc.stdout and "herit mcem --bfile" in proc.stdout
    assert "5    no convergence" in proc.stdout
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "heritcli",
            "mcem",
            "--bfile",
            str(small["bfile"]),
            "--pheno",
            str(small["pheno"]),
            "--out",
            str(tmp_path / "s"),
            "--json",
            "-q",
            *FAST,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert json.loads(proc.stdout)["n_snps"] == 800


# --------------------------------------------------------------------------------------------
# Simulations on the HS-mouse genotypes
# --------------------------------------------------------------------------------------------

MICE = EXAMPLE / "example"


@lru_cache(maxsize=1)
def _mice_genotypes() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardized genotypes (SNPs × analysed mice) of the 1,410 mice with CD8, their IDs."""
    from heritcli.core.standardize import block_stats, standardize
    from heritcli.io.plink import open_bfile
    from heritcli.io.tables import read_phenotypes

    fileset = open_bfile(MICE)
    counts = fileset.read_counts(0, fileset.n_snps)
    stats = block_stats(counts)
    used = stats.maf > 0
    table = read_phenotypes(EXAMPLE / "example.pheno")
    analysed = np.flatnonzero(~np.isnan(table.values[:, 0]))
    z = standardize(counts[used], stats.freq[used], dtype=np.float64)[:, analysed]
    return z, fileset.fam.fid, fileset.fam.iid, analysed, np.flatnonzero(used)


def _simulate_mice(seed: int, n_causal: int | None, h2: float = 0.5) -> dict:
    """y = Zb + e on the analysed mice; returns the phenotype for all 1,940 (NA elsewhere)."""
    z, fid, iid, analysed, _ = _mice_genotypes()
    rng = np.random.default_rng(seed)
    m = z.shape[0]
    if n_causal is None:  # polygenic: every SNP has an effect
        causal = np.arange(m)
    else:
        causal = np.sort(rng.choice(m, n_causal, replace=False))
    genetic = z[causal].T @ rng.standard_normal(causal.size)
    genetic = (genetic - genetic.mean()) / genetic.std() * math.sqrt(h2)
    noise = rng.standard_normal(genetic.size) * math.sqrt(1 - h2)
    y = np.full(fid.size, np.nan)
    y[analysed] = genetic + noise
    return {
        "y": y,
        "causal": causal,
        "realised_h2": float(genetic.var() / (genetic.var() + noise.var())),
        "fid": fid,
        "iid": iid,
    }


def _pheno_file(path: Path, sim: dict) -> Path:
    lines = ["FID IID y"] + [
        f"{f} {i} {'NA' if np.isnan(v) else f'{v:.8f}'}"
        for f, i, v in zip(sim["fid"], sim["iid"], sim["y"], strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def sparse_trait(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    # seed 20240: 20 causal SNPs (the 10–50 of the feature request), h² = 0.5
    sim = _simulate_mice(20240, 20)
    return _pheno_file(tmp_path_factory.mktemp("sparse") / "y.txt", sim), sim


@pytest.fixture(scope="module")
def polygenic_trait(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    sim = _simulate_mice(20241, None)
    return _pheno_file(tmp_path_factory.mktemp("poly") / "y.txt", sim), sim


@pytest.mark.parametrize("pi_start", [None, 0.5, 0.001], ids=["default", "pi0.5", "pi0.001"])
def test_mcem__sparse_trait_on_mice(
    sparse_trait: tuple[Path, dict], pi_start: float | None
) -> None:
    pheno, sim = sparse_trait
    report = fit_mcem(McemOptions(bfile=str(MICE), pheno=str(pheno), pi_start=pi_start))
    fit = report.fit
    m = report.n_snps
    assert m == 10996  # the polymorphic SNPs (example_data/README.md)
    assert report.n_samples == 1410  # mice with a CD8 value (example_data/README.md)
    assert fit.converged
    # Acceptance: π·M within a factor 2 of the 20 causal SNPs, ĥ² within 2 SE of realised h².
    assert 10 <= fit.params.pi * m <= 40, fit.params.pi * m
    assert abs(fit.params.h2 - sim["realised_h2"]) <= 2 * fit.h2_se, (fit.params.h2, fit.h2_se)
    # The causal SNPs with large effects are found (LD spreads the others over neighbours).
    assert np.count_nonzero(fit.pip > 0.5) >= 8


@pytest.mark.parametrize("pi_start", [None, 0.5, 0.001], ids=["default", "pi0.5", "pi0.001"])
def test_mcem__polygenic_trait_on_mice(
    polygenic_trait: tuple[Path, dict], pi_start: float | None
) -> None:
    pheno, _ = polygenic_trait
    report = fit_mcem(
        McemOptions(bfile=str(MICE), pheno=str(pheno), pi_start=pi_start, allow_no_converge=True)
    )
    fit = report.fit
    # "π̂ moves high": hundreds of SNPs at least (the truth is all 10,996)
    assert fit.params.pi * report.n_snps >= 300, fit.params.pi * report.n_snps
    # ĥ² agrees with REML on the GRM of the same genotypes (the model REML fits exactly)
    assert abs(fit.params.h2 - report.reml.h2) <= 2 * report.reml.h2_se


def test_fit_mcem__convergence_error_from_the_library(sparse_trait: tuple[Path, dict]) -> None:
    pheno, _ = sparse_trait
    options = McemOptions(bfile=str(MICE), pheno=str(pheno), iterations=30, burn_in=8, chains=2)
    with pytest.raises(ConvergenceError, match="did not converge"):
        fit_mcem(options)
    report = fit_mcem(replace(options, allow_no_converge=True))
    assert not report.fit.converged and report.fit.iterations == 30


# --------------------------------------------------------------------------------------------
# Calibration (slow)
# --------------------------------------------------------------------------------------------


def _simulate_from_model(seed: int, expected_causal: int = 20, h2: float = 0.5) -> dict:
    """A trait drawn from the spike-and-slab model itself, σg² = h², σe² = 1 − h².

    Each SNP is causal with probability π = 20/M (so the number of causal SNPs is binomial),
    with effect N(0, σg²/(Mπ)) on the standardized genotype; nothing is rescaled, so the
    parameter h² = σg²/(σg² + σe²) is the same in every replicate while the realised h² varies.
    """
    z, fid, iid, analysed, _ = _mice_genotypes()
    rng = np.random.default_rng(seed)
    m = z.shape[0]
    causal = np.flatnonzero(rng.random(m) < expected_causal / m)
    effects = rng.standard_normal(causal.size) * math.sqrt(h2 / expected_causal)
    genetic = z[causal].T @ effects
    noise = rng.standard_normal(genetic.size) * math.sqrt(1 - h2)
    y = np.full(fid.size, np.nan)
    y[analysed] = genetic + noise
    return {
        "y": y,
        "causal": causal,
        "fid": fid,
        "iid": iid,
        "realised_h2": float(genetic.var() / (genetic.var() + noise.var())),
    }


@pytest.mark.slow
def test_mcem__calibration_of_h2_se_over_sparse_replicates(tmp_path: Path) -> None:
    """40 sparse traits drawn from the model (about 20 causal SNPs, h² = 0.5) on the mice.

    The error of ĥ² against the parameter h² = 0.5 has an empirical SD over replicates that
    the mean reported SE must match within 25 % (the SD of 40 replicates has a relative
    sampling error of about 11 %).  REML's estimate and SE are printed next to it: REML's SE
    describes the error of a Gaussian model with 10,996 tiny effects and is about 2.5 times
    too small here, because a variance carried by ~20 effects varies much more between
    replicates (the realised genetic variance of k effects has relative variance 2/k, and k
    itself varies).  Measured when this test was written (this file, ``-m slow -s``, 2 cores,
    13 min): mcem mean SE 0.098 vs empirical SD 0.084 (ratio 1.17), REML mean SE 0.036 vs
    empirical SD 0.097 (ratio 0.37), π̂·M mean SE 5.9 vs empirical SD 5.8 (mean 20.6 for an
    expected 20).
    """
    errors, ses, reml_errors, reml_ses, k_errors, k_ses = [], [], [], [], [], []
    for r in range(40):
        sim = _simulate_from_model(41000 + r)
        pheno = _pheno_file(tmp_path / f"y{r}.txt", sim)
        report = fit_mcem(McemOptions(bfile=str(MICE), pheno=str(pheno), allow_no_converge=True))
        fit = report.fit
        errors.append(fit.params.h2 - 0.5)
        ses.append(fit.h2_se)
        reml_errors.append(report.reml.h2 - 0.5)
        reml_ses.append(report.reml.h2_se)
        k_errors.append(fit.params.pi * report.n_snps - 20)
        k_ses.append(fit.pi_se * report.n_snps)
    sd = float(np.std(errors, ddof=1))
    mean_se = float(np.mean(ses))
    print(
        f"\nmcem: mean SE {mean_se:.4f}, empirical SD {sd:.4f}, bias {np.mean(errors):+.4f}; "
        f"REML: mean SE {np.mean(reml_ses):.4f}, empirical SD {np.std(reml_errors, ddof=1):.4f}, "
        f"bias {np.mean(reml_errors):+.4f}; pi*M: mean SE {np.nanmean(k_ses):.2f}, "
        f"empirical SD {np.std(k_errors, ddof=1):.2f}, bias {np.mean(k_errors):+.2f}"
    )
    assert abs(mean_se / sd - 1) <= 0.25
    assert float(np.mean(reml_ses)) < 0.75 * float(np.std(reml_errors, ddof=1))
