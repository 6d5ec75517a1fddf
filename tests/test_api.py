"""The Python API: ``import heritcli`` exposes the five functions the command line calls."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import random_counts

import heritcli
from heritcli.cli.main import run
from heritcli.io.plink import write_bfile

API = ("make_grm", "decompose", "fit_reml", "fit_mcem", "simulate")


def test_api__exports() -> None:
    for name in API:
        assert name in heritcli.__all__
        function = getattr(heritcli, name)
        assert callable(function)
        doc = function.__doc__ or ""
        assert "Returns" in doc or "Parameters" in doc, f"{name} lacks a numpydoc docstring"
    for name in heritcli.__all__:
        getattr(heritcli, name)
    with pytest.raises(AttributeError):
        heritcli.no_such_function  # noqa: B018


def test_api__import_is_light() -> None:
    code = (
        "import sys, heritcli; print([m for m in ('numpy', 'scipy', 'h5py') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_api__whole_chain_returns_dataclasses(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    write_bfile(tmp_path / "toy", random_counts(rng, 800, 300))
    sim = heritcli.simulate(tmp_path / "toy", h2=0.5, causal=50, seed=1, out=str(tmp_path / "s"))
    grm = heritcli.make_grm(tmp_path / "toy", out=str(tmp_path / "toy"))
    eig = heritcli.decompose(tmp_path / "toy.h5", pcs=2)
    reml = heritcli.fit_reml(
        heritcli.RemlOptions(grm=str(tmp_path / "toy.h5"), pheno=str(tmp_path / "s.pheno"))
    )
    mcem = heritcli.fit_mcem(
        heritcli.McemOptions(
            bfile=str(tmp_path / "toy"),
            pheno=str(tmp_path / "s.pheno"),
            chains=2,
            iterations=50,
            burn_in=20,
            allow_no_converge=True,
        )
    )
    for result in (sim, grm, eig, reml, mcem):
        assert dataclasses.is_dataclass(result)
        document = result.to_dict()
        assert isinstance(document, dict)
        json.dumps(document, allow_nan=False)
    assert grm.n_samples == 300 and eig.n_samples == 300
    assert reml.phenotypes[0].name == "y1" and mcem.phenotype == "y1"
    # Both fits see the trait simulate wrote; its realised h² is what the JSON says.
    assert sim.to_dict()["h2_realised"] == [sim.replicates[0].h2_realised]


@pytest.mark.parametrize(
    ("module", "function", "args"),
    [
        ("heritcli.api", "make_grm", ["make-grm", "--bfile", "{d}/toy", "--out", "{d}/g"]),
        ("heritcli.eigen_run", "decompose", ["eigen", "--grm", "{d}/toy.h5"]),
        ("heritcli.reml_run", "fit_reml", ["reml", "--grm", "{d}/toy.h5", "--pheno", "{d}/p"]),
        ("heritcli.mcem_run", "fit_mcem", ["mcem", "--bfile", "{d}/toy", "--pheno", "{d}/p"]),
        (
            "heritcli.simulate_run",
            "run_simulation",
            ["simulate", "--bfile", "{d}/toy", "--h2", "0.5", "--out", "{d}/s"],
        ),
    ],
)
def test_cli__is_a_thin_layer_over_the_api(
    module: str,
    function: str,
    args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each command reaches its library function (replaced here by a probe that stops the run)."""
    import importlib

    class Reached(Exception):
        pass

    def probe(*_args: object, **_kwargs: object) -> None:
        raise Reached

    monkeypatch.setattr(importlib.import_module(module), function, probe)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Reached):
        run([a.format(d=tmp_path) for a in args], debug=True)
    capsys.readouterr()
