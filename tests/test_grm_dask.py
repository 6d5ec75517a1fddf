"""make-grm --scheduler: the GRM's row bands on a real dask.distributed cluster.

The cluster is a ``distributed.LocalCluster`` of two single-thread workers in
this process (``processes=False``: starts in well under a second, also on a
loaded 2-core machine).  Oracle: the local one-shot run of the same options.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_same_grm, random_counts

from heritcli.api import make_grm
from heritcli.cli.main import run
from heritcli.io.plink import write_bfile

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as local:
        yield local


@pytest.fixture(scope="module")
def fileset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(8)
    prefix = tmp_path_factory.mktemp("dask") / "data"
    write_bfile(prefix, random_counts(rng, 900, 57, 0.01))
    return prefix


@pytest.mark.parametrize("options", [{}, {"maf": 0.1, "dtype": "float64"}])
def test_dask__two_workers_equal_local_run(cluster, fileset: Path, tmp_path: Path, options):
    local = make_grm(fileset, out=tmp_path / "local", **options)
    remote = make_grm(
        fileset, out=tmp_path / "dask", scheduler=cluster.scheduler_address, **options
    )
    # The acceptance bound is 1e-6; the bands are computed as the parts are, so they
    # agree with the local run as parts agree with the one-shot GRM.
    assert_same_grm(tmp_path / "dask.h5", tmp_path / "local.h5")
    assert remote.n_snps_used == local.n_snps_used


def test_dask__scheduler_file_and_cli(cluster, fileset: Path, tmp_path: Path, capsys) -> None:
    scheduler_file = tmp_path / "scheduler.json"
    scheduler_file.write_text(json.dumps({"address": cluster.scheduler_address}))
    code = run(["make-grm", "--bfile", str(fileset), "--out", str(tmp_path / "g"),
                "--scheduler", str(scheduler_file), "-v"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "2 workers, 2 threads; 2 row bands" in err
    make_grm(fileset, out=tmp_path / "local")
    assert_same_grm(tmp_path / "g.h5", tmp_path / "local.h5")


def test_dask__unreachable_scheduler_is_a_one_line_error(
    fileset: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("HERIT_DASK_TIMEOUT", "1")
    code = run(["make-grm", "--bfile", str(fileset), "--out", str(tmp_path / "g"),
                "--scheduler", "tcp://127.0.0.1:9"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 3
    errors = [line for line in err.splitlines() if line.startswith("herit: error:")]
    assert len(errors) == 1
    assert "cannot connect to the dask scheduler at tcp://127.0.0.1:9" in errors[0]
    assert "Traceback" not in err and not (tmp_path / "g.h5").exists()


def test_dask__part_and_scheduler_conflict(fileset: Path, tmp_path: Path, capsys) -> None:
    code = run(["make-grm", "--bfile", str(fileset), "--out", str(tmp_path / "g"),
                "--scheduler", "tcp://127.0.0.1:9", "--part", "1/2"])  # fmt: skip
    assert code == 2
    assert "--part and --scheduler cannot be used together" in capsys.readouterr().err


def test_dask_jobqueue_example__runs_with_local_workers(fileset: Path, tmp_path: Path) -> None:
    import runpy
    import sys

    example = Path(__file__).resolve().parents[1] / "examples" / "dask_jobqueue_make_grm.py"
    argv = sys.argv
    sys.argv = [
        str(example),
        "--bfile",
        str(fileset),
        "--out",
        str(tmp_path / "ex"),
        "--local",
        "2",
    ]
    try:
        runpy.run_path(str(example), run_name="__main__")
    finally:
        sys.argv = argv
    make_grm(fileset, out=tmp_path / "local")
    assert_same_grm(tmp_path / "ex.h5", tmp_path / "local.h5")
