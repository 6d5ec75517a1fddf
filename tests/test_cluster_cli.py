"""Cluster use from the command line: array-job scripts, resuming, threads, merge-grm and freq."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import assert_same_grm, random_counts

from heritcli.cli.main import run
from heritcli.io.plink import write_bfile
from heritcli.threads import available_cores, cgroup_cpu_quota, limit_threads

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def herit(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    code = run([str(a) for a in args])
    return code, capsys.readouterr().err


@pytest.fixture
def data(tmp_path: Path) -> Path:
    write_bfile(tmp_path / "data", random_counts(np.random.default_rng(9), 400, 45, 0.01))
    return tmp_path / "data"


# -- threads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2])
def test_threads__log_reports_the_bounded_blas(capsys, data: Path, tmp_path: Path, threads: int):
    code, err = herit(capsys, "make-grm", "--bfile", data, "--out", tmp_path / "g",
                      "--threads", threads)  # fmt: skip
    assert code == 0, err
    line = next(x for x in (tmp_path / "g.log").read_text().splitlines() if "BLAS:" in x)
    assert line.startswith(f"threads: {threads}; BLAS:")
    # Every BLAS library loaded (numpy's and scipy's OpenBLAS) reports the bound.
    counts = [int(c) for c in re.findall(r"(\d+) threads\)", line)]
    assert counts and all(c == threads for c in counts), line


def test_available_cores__slurm_affinity_and_cgroup(monkeypatch, tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert available_cores() == 1
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "999")
    assert available_cores() <= affinity
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_quota(str(tmp_path)) == 2
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(str(tmp_path)) is None
    assert cgroup_cpu_quota(str(tmp_path / "absent")) is None


def test_limit_threads__bounds_numba_when_loaded() -> None:
    numba = pytest.importorskip("numba")
    before = numba.get_num_threads()
    with limit_threads(1) as n:
        assert n == 1 and numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


# -- the SLURM array-job example ------------------------------------------------------------------


def test_slurm_array_example__parts_then_merge_equal_one_shot(data: Path, tmp_path: Path) -> None:
    if shutil.which("bash") is None or shutil.which("herit") is None:
        pytest.skip("needs bash and the herit command on PATH")
    env = {**os.environ, "BFILE": str(data), "OUT": str(tmp_path / "grm"),
           "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_CPUS_PER_TASK": "1",
           "SLURM_MEM_PER_NODE": "2048"}  # fmt: skip
    script = str(EXAMPLES / "slurm_make_grm_parts.sh")
    for task in ("1", "2", "3"):
        subprocess.run(["bash", script], env={**env, "SLURM_ARRAY_TASK_ID": task},
                       check=True, cwd=tmp_path)  # fmt: skip
    # A resubmitted task finds its part complete and skips it.
    subprocess.run(["bash", str(EXAMPLES / "slurm_make_grm_parts.sh")],
                   env={**env, "SLURM_ARRAY_TASK_ID": "2"}, check=True, cwd=tmp_path)  # fmt: skip
    assert "part 2/3 is already complete" in (tmp_path / "grm.part_3_2.log").read_text()
    subprocess.run(["bash", str(EXAMPLES / "slurm_merge_grm.sh")],
                   env={**env, "N_PARTS": "3"}, check=True, cwd=tmp_path)  # fmt: skip
    assert run(["make-grm", "--bfile", str(data), "--out", str(tmp_path / "one"), "-q"]) == 0
    assert_same_grm(tmp_path / "grm.h5", tmp_path / "one.h5")


def test_slurm_array_example__fails_outside_an_array_job(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    proc = subprocess.run(["bash", str(EXAMPLES / "slurm_make_grm_parts.sh")], env=env,
                          capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert proc.returncode != 0 and "array job" in proc.stderr


# -- walltime: interrupted parts leave nothing, reruns redo only them ---------------------------


def test_interrupted_part__leaves_nothing_and_rerun_redoes_only_it(capsys, tmp_path: Path):
    prefix = tmp_path / "big"
    write_bfile(prefix, random_counts(np.random.default_rng(0), 20000, 1500, 0.001))
    out = tmp_path / "out"
    out.mkdir()
    assert herit(capsys, "make-grm", "--bfile", prefix, "--out", out / "g", "--part", "1/2")[0] == 0
    command = [sys.executable, "-m", "heritcli", "make-grm", "--bfile", str(prefix),
               "--out", str(out / "g"), "--part", "2/2", "--block-snps", "16",
               "--threads", "1"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / "g.part_2_2.log"
    deadline = time.time() + 60
    while not log.exists() or "make-grm part 2/2: " not in log.read_text():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # what SLURM sends at walltime
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert sorted(p.name for p in out.iterdir()) == [
        "g.part_2_1.h5",
        "g.part_2_1.log",
        "g.part_2_2.log",
    ]
    for index in (1, 2):
        code, err = herit(capsys, "make-grm", "--bfile", prefix, "--out", out / "g",
                          "--part", f"{index}/2")  # fmt: skip
        assert code == 0, err
        assert ("already complete" in err) == (index == 1)
    assert (
        herit(capsys, "merge-grm", *sorted(out.glob("g.part_2_*.h5")), "--out", out / "m")[0] == 0
    )
    assert herit(capsys, "make-grm", "--bfile", prefix, "--out", out / "one")[0] == 0
    assert_same_grm(out / "m.h5", out / "one.h5")


# -- merge-grm and freq on the command line ------------------------------------------------------


def test_merge_grm_cli__missing_part_is_one_line_error(capsys, data: Path, tmp_path: Path) -> None:
    for index in (1, 3):
        assert herit(capsys, "make-grm", "--bfile", data, "--out", tmp_path / "g",
                     "--part", f"{index}/3")[0] == 0  # fmt: skip
    code, err = herit(capsys, "merge-grm", *sorted(tmp_path.glob("g.part_3_*.h5")),
                      "--out", tmp_path / "m")  # fmt: skip
    assert code == 6
    errors = [line for line in err.splitlines() if line.startswith("herit: error:")]
    assert len(errors) == 1 and "part 2/3 is missing: expected" in errors[0]
    assert "g.part_3_2.h5" in errors[0] and "Traceback" not in err
    assert not (tmp_path / "m.h5").exists()
    code, err = herit(capsys, "merge-grm", "--out", tmp_path / "m")
    assert code == 2 and "needs GRM files" in err


def test_merge_grm_cli__mgrm_list_and_freq_command(capsys, data: Path, tmp_path: Path) -> None:
    code, err = herit(capsys, "freq", "--bfile", data, "--out", tmp_path / "f")
    assert code == 0, err
    header = (tmp_path / "f.freq").read_text().splitlines()[0]
    assert header == "#CHROM\tID\tA1\tA2\tA1_FREQ\tN_CALLED\tN_MISSING"
    for name, extra in (("a", ["--extract", "a.txt"]), ("b", ["--exclude", "a.txt"])):
        (tmp_path / "a.txt").write_text("".join(f"snp{j}\n" for j in range(0, 400, 2)))
        args = [x.replace("a.txt", str(tmp_path / "a.txt")) for x in extra]
        code, err = herit(capsys, "make-grm", "--bfile", data, "--out", tmp_path / name,
                          "--freq", tmp_path / "f.freq", *args)  # fmt: skip
        assert code == 0, err
    (tmp_path / "list.txt").write_text("a\nb\n")
    code, err = herit(
        capsys, "merge-grm", "--mgrm", tmp_path / "list.txt", "--out", tmp_path / "ab"
    )
    assert code == 0, err
    assert herit(capsys, "make-grm", "--bfile", data, "--out", tmp_path / "all")[0] == 0
    with h5py.File(tmp_path / "ab.h5") as merged, h5py.File(tmp_path / "all.h5") as whole:
        np.testing.assert_allclose(merged["grm/values"][()], whole["grm/values"][()], atol=2e-6)
