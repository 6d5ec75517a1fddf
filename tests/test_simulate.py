"""herit simulate: the model against a dense computation, seeds, filters, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import random_counts
from scipy import special

import heritcli
from heritcli.cli.main import run
from heritcli.core.simulate import add_residuals, draw_effects, effect_scale, first_passing
from heritcli.errors import DataError, InputError, UsageError
from heritcli.io.plink import write_bfile
from heritcli.simulate_run import read_causal_list


def dense_standardized(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Samples × SNPs standardized genotypes, computed directly from the definition.

    p = A1 frequency over non-missing calls, z = (x − 2p)/√(2p(1−p)), missing z = 0.
    """
    x = counts.T.astype(np.float64)
    x[x < 0] = np.nan
    p = np.nanmean(x, axis=0) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):  # monomorphic SNPs: 0/0
        z = (x - 2.0 * p) / np.sqrt(2.0 * p * (1.0 - p))
    return np.nan_to_num(z, nan=0.0), p


def read_pheno(path: Path) -> tuple[list[str], list[tuple[str, str]], np.ndarray]:
    lines = path.read_text().splitlines()
    header = lines[0].split()
    rows = [line.split() for line in lines[1:]]
    ids = [(r[0], r[1]) for r in rows]
    values = np.array([[float(v) for v in r[2:]] for r in rows])
    return header, ids, values


@pytest.fixture
def toy(tmp_path: Path) -> tuple[str, np.ndarray]:
    """400 samples × 300 SNPs with 2% missing calls and 5 monomorphic SNPs."""
    rng = np.random.default_rng(20)
    counts = random_counts(rng, 300, 400, missing_rate=0.02)
    counts[[3, 50, 51, 120, 299]] = np.where(counts[[3, 50, 51, 120, 299]] < 0, -1, 0)
    prefix = str(tmp_path / "toy")
    write_bfile(prefix, counts)
    return prefix, counts


def test_simulate__matches_dense_oracle(toy: tuple[str, np.ndarray], tmp_path: Path) -> None:
    prefix, counts = toy
    h2 = 0.4
    result = heritcli.simulate(
        prefix, h2=h2, causal=30, n_reps=4, seed=5, out=str(tmp_path / "sim")
    )
    z, p = dense_standardized(counts)
    header, ids, y = read_pheno(tmp_path / "sim.pheno")
    assert header == ["FID", "IID", "y1", "y2", "y3", "y4"]
    assert ids == [(f"fam{i}", f"ind{i}") for i in range(400)]
    truth = json.loads((tmp_path / "sim.truth.json").read_text())
    assert truth["h2"] == h2 and truth["n_reps"] == 4
    residual_variances = []
    for r, rep in enumerate(truth["replicates"]):
        rows = [int(s.removeprefix("snp")) for s in rep["causal"]["snp"]]
        assert len(rows) == 30 == len(set(rows))
        assert not set(rows) & {3, 50, 51, 120, 299}  # monomorphic SNPs are never causal
        beta = np.array(rep["causal"]["beta"])
        np.testing.assert_allclose(rep["causal"]["freq"], p[rows], rtol=1e-12)
        np.testing.assert_allclose(
            rep["causal"]["beta_a1"], beta / np.sqrt(2 * p[rows] * (1 - p[rows])), rtol=1e-12
        )
        g = z[:, rows] @ beta
        # The effects are scaled so that the sample variance of g is exactly h².
        assert np.var(g) == pytest.approx(h2, rel=1e-12)
        assert rep["var_g"] == pytest.approx(np.var(g), rel=1e-12)
        # P.pheno holds 10 significant digits.
        np.testing.assert_allclose(y[:, r], result.phenotypes[:, r], rtol=1e-9, atol=1e-12)
        e = y[:, r] - g
        assert rep["h2_realised"] == pytest.approx(np.var(g) / np.var(y[:, r]), rel=1e-7)
        assert rep["var_e"] == pytest.approx(np.var(e), rel=1e-7)
        residual_variances.append(np.var(e))
    # e ~ N(0, var(g)(1 − h²)/h²) = N(0, 0.6): mean of 4 sample variances of n = 400 has
    # SD 0.6·√(2/400)/2 = 0.021.
    assert np.mean(residual_variances) == pytest.approx(1 - h2, abs=5 * 0.021)


def test_simulate__same_seed_same_output(toy: tuple[str, np.ndarray], tmp_path: Path) -> None:
    prefix, _ = toy
    for name in ("a", "b"):
        heritcli.simulate(prefix, h2=0.3, causal=10, n_reps=3, seed=9, out=str(tmp_path / name))
    for ext in (".pheno", ".truth.json"):
        assert (tmp_path / f"a{ext}").read_bytes() == (tmp_path / f"b{ext}").read_bytes()
    other = heritcli.simulate(prefix, h2=0.3, causal=10, n_reps=3, seed=10)
    first = heritcli.simulate(prefix, h2=0.3, causal=10, n_reps=3, seed=9)
    assert not np.allclose(other.phenotypes, first.phenotypes)


def test_simulate__replicate_independent_of_count(toy: tuple[str, np.ndarray]) -> None:
    prefix, _ = toy
    one = heritcli.simulate(prefix, h2=0.5, causal=12, n_reps=1, seed=3)
    three = heritcli.simulate(prefix, h2=0.5, causal=12, n_reps=3, seed=3)
    # Equal up to the summation order of the matrix product (the others share it).
    np.testing.assert_allclose(one.phenotypes[:, 0], three.phenotypes[:, 0], rtol=1e-12)
    assert one.replicates[0].snp_id.tolist() == three.replicates[0].snp_id.tolist()
    # Other replicates draw other causal SNPs.
    assert three.replicates[1].snp_id.tolist() != three.replicates[0].snp_id.tolist()


def test_simulate__same_causal_differs_only_by_residuals(toy: tuple[str, np.ndarray]) -> None:
    prefix, _ = toy
    result = heritcli.simulate(prefix, h2=0.5, causal=8, n_reps=3, seed=2, same_causal=True)
    snps = {tuple(r.snp_id.tolist()) for r in result.replicates}
    betas = {tuple(r.beta.tolist()) for r in result.replicates}
    assert len(snps) == 1 and len(betas) == 1
    assert not np.allclose(result.phenotypes[:, 0], result.phenotypes[:, 1])


def test_simulate__every_snp_by_default(toy: tuple[str, np.ndarray]) -> None:
    prefix, counts = toy
    result = heritcli.simulate(prefix, h2=0.7, seed=1)
    z, _ = dense_standardized(counts)
    polymorphic = np.flatnonzero(np.any(z != 0, axis=0))
    assert result.replicates[0].snp_index.tolist() == polymorphic.tolist()
    g = z[:, polymorphic] @ result.replicates[0].beta
    assert np.var(g) == pytest.approx(0.7, rel=1e-12)


def test_simulate__pi_draws_bernoulli_among_passing(toy: tuple[str, np.ndarray]) -> None:
    prefix, _ = toy
    result = heritcli.simulate(prefix, h2=0.5, pi=0.2, n_reps=20, seed=4)
    sizes = np.array([r.n_causal for r in result.replicates])
    # Binomial(295 polymorphic SNPs, 0.2): mean 59, SD 6.9; the mean of 20 has SD 1.5.
    assert sizes.mean() == pytest.approx(59.0, abs=6.0)
    assert len(set(sizes.tolist())) > 1
    for rep in result.replicates:
        assert not set(rep.snp_index.tolist()) & {3, 50, 51, 120, 299}


def test_simulate__filters_like_make_grm(toy: tuple[str, np.ndarray], tmp_path: Path) -> None:
    prefix, counts = toy
    keep = tmp_path / "keep.txt"
    keep.write_text("".join(f"fam{i} ind{i}\n" for i in range(0, 400, 2)))
    extract = tmp_path / "extract.txt"
    extract.write_text("".join(f"snp{j}\n" for j in range(100, 300)))
    result = heritcli.simulate(
        prefix, h2=0.5, causal=40, seed=6, keep=str(keep), extract=str(extract), maf=0.2
    )
    kept = np.arange(0, 400, 2)
    assert result.iid.tolist() == [f"ind{i}" for i in kept]
    z, p = dense_standardized(counts[:, kept])
    rep = result.replicates[0]
    assert rep.snp_index.min() >= 100
    # Frequencies are those of the kept samples, as make-grm computes them.
    np.testing.assert_allclose(rep.freq, p[rep.snp_index], rtol=1e-12)
    assert np.all(np.minimum(rep.freq, 1 - rep.freq) >= 0.2)
    g = z[:, rep.snp_index] @ rep.beta
    assert np.var(g) == pytest.approx(0.5, rel=1e-12)


def test_simulate__causal_list_with_effects(toy: tuple[str, np.ndarray], tmp_path: Path) -> None:
    prefix, counts = toy
    listed = tmp_path / "causal.snplist"
    listed.write_text("SNP EFFECT\nsnp10 2.0\nsnp7 -1.0\nsnp200 0.5\nsnp3 4.0\n")
    result = heritcli.simulate(prefix, h2=0.25, causal_list=str(listed), n_reps=2, seed=1)
    rep = result.replicates[0]
    # snp3 is monomorphic: left out; the others in .bim order with their relative effects.
    assert rep.snp_id.tolist() == ["snp7", "snp10", "snp200"]
    np.testing.assert_allclose(rep.beta / rep.beta[0], [1.0, -2.0, -0.5], rtol=1e-12)
    z, _ = dense_standardized(counts)
    assert np.var(z[:, [7, 10, 200]] @ rep.beta) == pytest.approx(0.25, rel=1e-12)
    assert result.replicates[1].beta.tolist() == rep.beta.tolist()


def test_simulate__case_control(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    prefix = str(tmp_path / "cc")
    write_bfile(prefix, random_counts(rng, 100, 3000))
    result = heritcli.simulate(
        prefix, h2=0.4, causal=50, prevalence=0.1, n_reps=2, seed=1, out=str(tmp_path / "cc")
    )
    assert set(np.unique(result.phenotypes).tolist()) == {0.0, 1.0}
    truth = json.loads((tmp_path / "cc.truth.json").read_text())
    assert truth["coding"] == "1 = case, 0 = control"
    for k, rep in enumerate(truth["replicates"]):
        assert rep["threshold"] == pytest.approx(float(special.ndtri(0.9)), rel=1e-12)
        assert rep["n_cases"] == int(result.phenotypes[:, k].sum())
        # Liability N(0, 1): P(case) = 0.1; SD of the case fraction √(0.09/3000) = 0.0055.
        assert rep["n_cases"] / 3000 == pytest.approx(0.1, abs=5 * 0.0055)
    lines = (tmp_path / "cc.pheno").read_text().splitlines()
    assert {v for line in lines[1:] for v in line.split()[2:]} == {"0", "1"}


def test_simulate__h2_bounds(toy: tuple[str, np.ndarray]) -> None:
    prefix, counts = toy
    z, _ = dense_standardized(counts)
    full = heritcli.simulate(prefix, h2=1.0, causal=5, seed=1)
    rep = full.replicates[0]
    np.testing.assert_allclose(full.phenotypes[:, 0], z[:, rep.snp_index] @ rep.beta, atol=1e-12)
    assert rep.h2_realised == pytest.approx(1.0) and rep.var_e == 0.0
    none = heritcli.simulate(prefix, h2=0.0, causal=5, seed=1)
    assert np.all(none.replicates[0].beta == 0.0) and none.replicates[0].h2_realised == 0.0


def test_core__effect_scale_and_residuals() -> None:
    rng = np.random.default_rng(0)
    g = rng.standard_normal(50) * 3 + 1
    assert np.var(g * effect_scale(g, 0.2)) == pytest.approx(0.2, rel=1e-12)
    assert effect_scale(g, 0.0) == 0.0
    with pytest.raises(ValueError, match="same genetic value"):
        effect_scale(np.ones(5), 0.5)
    trait = add_residuals(g * effect_scale(g, 0.2), 0.2, np.random.default_rng(1))
    np.testing.assert_allclose(trait.y, trait.g + trait.e)
    assert trait.h2_realised == pytest.approx(np.var(trait.g) / np.var(trait.y))


def test_core__draw_effects_and_first_passing() -> None:
    rng = np.random.default_rng(3)
    assert set(np.abs(draw_effects(rng, 100, "equal")).tolist()) == {1.0}
    laplace = draw_effects(rng, 200_000, "laplace")
    # Laplace(0, 1): variance 2 and excess kurtosis 3 (the normal's is 0).
    assert np.var(laplace) == pytest.approx(2.0, rel=0.03)
    kurtosis = np.mean(laplace**4) / np.var(laplace) ** 2 - 3
    assert kurtosis == pytest.approx(3.0, abs=0.3)
    with pytest.raises(ValueError):
        draw_effects(rng, 3, "cauchy")
    order = np.array([9, 4, 7, 1, 8])
    assert first_passing(order, np.array([0, 1, 1, 0, 1], bool), 2).tolist() == [4, 7]


def test_read_causal_list__errors(tmp_path: Path) -> None:
    path = tmp_path / "list"
    path.write_text("snp1 1\nsnp2\n")
    with pytest.raises(InputError, match="line 2"):
        read_causal_list(path)
    path.write_text("snp1 x\n")
    with pytest.raises(InputError, match="line 1: effect 'x'"):
        read_causal_list(path)
    path.write_text("snp1\nsnp1\n")
    with pytest.raises(InputError, match="listed twice"):
        read_causal_list(path)
    path.write_text("# nothing\n")
    with pytest.raises(InputError, match="no SNP IDs"):
        read_causal_list(path)
    path.write_text("ID\nsnp5\nsnp6\n")
    assert read_causal_list(path) == (["snp5", "snp6"], None)


def test_simulate__library_errors(toy: tuple[str, np.ndarray], tmp_path: Path) -> None:
    prefix, _ = toy
    with pytest.raises(UsageError, match="cannot be used together"):
        heritcli.simulate(prefix, h2=0.5, causal=3, pi=0.1)
    with pytest.raises(UsageError, match="--h2"):
        heritcli.simulate(prefix, h2=1.5)
    with pytest.raises(DataError, match="only 295 SNPs"):
        heritcli.simulate(prefix, h2=0.5, causal=296)
    missing = tmp_path / "list"
    missing.write_text("snp1\nrs99\n")
    with pytest.raises(InputError, match="rs99"):
        heritcli.simulate(prefix, h2=0.5, causal_list=str(missing))


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_simulate__writes_outputs_and_log(
    toy: tuple[str, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix, _ = toy
    out = tmp_path / "run"
    code, stdout, err = _cli(
        [
            "simulate",
            "--bfile",
            prefix,
            "--h2",
            "0.3",
            "--causal",
            "20",
            "--n-reps",
            "2",
            "--out",
            str(out),
            "--json",
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(stdout)["n_reps"] == 2
    truth = json.loads((tmp_path / "run.truth.json").read_text())
    assert truth["command"].startswith("herit simulate --bfile")
    log = (tmp_path / "run.log").read_text()
    assert "realised h2" in log and "finished" in log


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--h2", "0.5", "--causal", "3", "--pi", "0.1"], 2, "cannot be used together"),
        (["--h2", "2"], 2, "--h2"),
        (["--h2", "0.5", "--causal", "1000"], 4, "--causal 1000"),
        (["--h2", "0.5", "--effect-dist", "cauchy"], 2, "cauchy"),
    ],
)
def test_cli_simulate__errors_are_one_line(
    toy: tuple[str, np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    needle: str,
) -> None:
    prefix, _ = toy
    out = tmp_path / "bad"
    got, _, err = _cli(["simulate", "--bfile", prefix, *args, "--out", str(out)], capsys)
    assert got == code
    errors = [line for line in err.splitlines() if line.startswith("herit: error: ")]
    assert len(errors) == 1 and needle in errors[0]
    assert "Traceback" not in err
    assert not (tmp_path / "bad.pheno").exists() and not (tmp_path / "bad.truth.json").exists()


def test_cli_simulate__input_and_output_errors(
    tmp_path: Path, toy: tuple[str, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(
        [
            "simulate",
            "--bfile",
            str(tmp_path / "nothing"),
            "--h2",
            "0.5",
            "--out",
            str(tmp_path / "x"),
        ],
        capsys,
    )
    assert code == 3 and "missing PLINK file" in err
    prefix, _ = toy
    code, _, err = _cli(
        ["simulate", "--bfile", prefix, "--h2", "0.5", "--out", str(tmp_path / "no" / "x")],
        capsys,
    )
    assert code == 7 and "does not exist" in err
    assert not list((tmp_path).glob(".herit-tmp-*"))
