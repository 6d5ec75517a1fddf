"""herit plot: figures render from real artifacts, and the numbers drawn are the right ones."""

from __future__ import annotations

import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from helpers import DATA, random_counts

import heritcli
from heritcli.cli.main import run
from heritcli.errors import InputError, UsageError
from heritcli.io.plink import write_bfile
from heritcli.plot import HALF_CHI2_95, offdiagonal_histogram, read_labels, read_trace

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk (PNG specification, section 11.2.2)."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small data set run through make-grm, eigen --pcs 4 and simulate (two traits)."""
    work = tmp_path_factory.mktemp("plot")
    rng = np.random.default_rng(5)
    write_bfile(work / "toy", random_counts(rng, 1500, 500, missing_rate=0.01))
    heritcli.make_grm(work / "toy", out=str(work / "toy"))
    heritcli.decompose(work / "toy.h5", pcs=4)
    heritcli.simulate(work / "toy", h2=0.6, causal=100, n_reps=2, seed=2, out=str(work / "sim"))
    return work


def test_plot_profile__curve_peaks_at_estimate_and_crosses_at_interval(toy_run: Path) -> None:
    from heritcli.plot import profile_curves

    options = heritcli.RemlOptions(
        grm=str(toy_run / "toy.h5"), pheno=str(toy_run / "sim.pheno"), all_pheno=True
    )
    curves = profile_curves(options, points=101)
    report = heritcli.fit_reml(options)
    assert [c.name for c in curves] == ["y1", "y2"]
    for curve, fitted in zip(curves, report.phenotypes, strict=True):
        assert curve.h2_hat == fitted.fit.h2
        # The grid contains the estimate and the interval ends.
        at = {float(h): float(v) for h, v in zip(curve.h2, curve.logl, strict=True)}
        assert at[curve.h2_hat] == pytest.approx(fitted.fit.logl, abs=1e-8)
        assert max(curve.logl) <= fitted.fit.logl + 1e-8
        for end in curve.h2_ci:
            if 0.0 < end < 1.0:
                assert at[end] == pytest.approx(fitted.fit.logl - HALF_CHI2_95, abs=1e-4)


def test_cli_plot_profile__png(toy_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = toy_run / "profile.png"
    code = run(
        [
            "plot",
            "profile",
            "--grm",
            str(toy_run / "toy.h5"),
            "--pheno",
            str(toy_run / "sim.pheno"),
            "--all-pheno",
            "--out",
            str(out),
            "--dpi",
            "60",
        ]
    )
    _, err = capsys.readouterr()
    assert code == 0, err
    width, height = png_size(out)
    # Two panels side by side at 60 dpi: about 9.2 × 3.4 inches, cropped tight.
    assert 300 < width < 700 and 120 < height < 260
    assert "y1: h2 = " in err and "95% CI" in err


def test_offdiagonal_histogram__equals_dense(toy_run: Path) -> None:
    grm = heritcli.api.load_grm(toy_run / "toy.h5")
    matrix = grm.load_values()
    lower = matrix[np.tril_indices(matrix.shape[0], k=-1)]
    hist = offdiagonal_histogram(toy_run / "toy.h5", bins=40, rows_per_read=37)
    assert hist["counts"].sum() == lower.size == 500 * 499 // 2
    np.testing.assert_array_equal(hist["counts"], np.histogram(lower, bins=hist["edges"])[0])
    assert hist["mean"] == pytest.approx(lower.mean(), rel=1e-10)
    assert hist["var"] == pytest.approx(lower.var(), rel=1e-8)
    np.testing.assert_array_equal(hist["diagonal"], np.diag(matrix))


def test_plot_grm__hapmap_populations_svg(tmp_path: Path) -> None:
    """PCs of 319 HapMap 3 founders (tests/data/hapmap3) coloured by their population."""
    hm3 = DATA / "hapmap3"
    heritcli.make_grm(
        hm3 / "hm3",
        out=str(tmp_path / "hm3"),
        keep=str(hm3 / "keep.txt"),
        extract=str(hm3 / "extract.txt"),
    )
    heritcli.decompose(tmp_path / "hm3.h5", pcs=4)
    out = tmp_path / "pcs.svg"
    result = heritcli.plot.plot_grm(
        tmp_path / "hm3.h5",
        out,
        pcs=tmp_path / "hm3.pcs.txt",
        labels=hm3 / "populations.txt",
        label_column="population",
    )
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    assert result.panels == ["off-diagonal histogram", "PC1 vs PC2", "PC3 vs PC4"]
    labels, name = read_labels(hm3 / "populations.txt", "population")
    kept = [tuple(line.split()[:2]) for line in (hm3 / "keep.txt").read_text().splitlines()]
    expected: dict[str, int] = {}
    for pair in kept:
        expected[labels[pair]] = expected.get(labels[pair], 0) + 1
    assert name == "population" and result.summary["groups"] == expected
    assert len(expected) == 11
    text = out.read_text()
    assert "CEU" in text and "YRI" in text  # the legend is in the figure
    assert "<dc:date>" not in text  # no creation date: the same inputs give the same file


def test_plot_mcem__trace_from_a_real_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(11)
    write_bfile(tmp_path / "small", random_counts(rng, 300, 200))
    heritcli.simulate(tmp_path / "small", h2=0.5, causal=10, seed=1, out=str(tmp_path / "sim"))
    code = run(
        [
            "mcem",
            "--bfile",
            str(tmp_path / "small"),
            "--pheno",
            str(tmp_path / "sim.pheno"),
            "--chains",
            "2",
            "--iterations",
            "60",
            "--burn-in",
            "20",
            "--allow-no-converge",
            "--out",
            str(tmp_path / "fit"),
            "-q",
        ]
    )
    assert code == 0, capsys.readouterr().err
    trace = read_trace(tmp_path / "fit.mcem.trace.tsv")
    assert set(trace["chain"].tolist()) == {1.0, 2.0}
    out = tmp_path / "trace.png"
    assert (
        run(
            [
                "plot",
                "mcem",
                "--trace",
                str(tmp_path / "fit.mcem.trace.tsv"),
                "--out",
                str(out),
                "--dpi",
                "50",
                "-q",
            ]
        )
        == 0
    )
    png_size(out)
    result = heritcli.plot.plot_mcem(tmp_path / "fit.mcem.trace.tsv", tmp_path / "trace.pdf")
    assert (tmp_path / "trace.pdf").read_bytes()[:5] == b"%PDF-"
    assert result.summary["chains"] == [1, 2] and result.summary["burn_in"] == 20
    assert result.summary["iterations"] == 60 and "h2" in result.summary


def test_plot__errors(toy_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["plot", "grm", "--grm", str(toy_run / "toy.h5"), "--out", str(tmp_path / "a.jpg")])
    assert code == 2 and "use a .png, .svg or .pdf name" in capsys.readouterr().err
    labels = tmp_path / "labels.txt"
    labels.write_text("FID IID group\nfam0 ind0 a\n")
    code = run(
        [
            "plot",
            "grm",
            "--grm",
            str(toy_run / "toy.h5"),
            "--pcs",
            str(toy_run / "toy.pcs.txt"),
            "--labels",
            str(labels),
            "--label-column",
            "colour",
            "--out",
            str(tmp_path / "b.png"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 3 and "no column 'colour'" in err
    not_trace = tmp_path / "x.tsv"
    not_trace.write_text("a\tb\n1\t2\n")
    with pytest.raises(InputError, match="not an MCEM trace"):
        read_trace(not_trace)
    with pytest.raises(UsageError, match="give --pcs too"):
        heritcli.plot.plot_grm(toy_run / "toy.h5", tmp_path / "c.png", labels=labels)
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob(".herit-tmp-*"))


def test_plot__without_matplotlib_one_line(
    toy_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    code = run(["plot", "grm", "--grm", str(toy_run / "toy.h5"), "--out", str(tmp_path / "g.png")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [
        "herit: error: herit plot needs matplotlib: pip install 'herit[plot]'"
    ]
    assert not (tmp_path / "g.png").exists()
