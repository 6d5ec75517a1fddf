"""The ``herit`` command line for make-grm, export-grm, import-grm and inspect.

Each failure case checks the exit code, a single ``herit: error:`` line naming the
offending file or value, no traceback, and that no output file is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import DATA, random_counts

from heritcli.cli.main import run
from heritcli.io.plink import write_bfile

HM3 = DATA / "hapmap3" / "hm3"


def herit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("herit: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.suffix == ".h5" or "tmp" in p.name)


@pytest.fixture
def small(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    write_bfile(tmp_path / "small", random_counts(rng, 200, 30, 0.02))
    return tmp_path / "small"


def test_make_grm__writes_artifact_and_log(capsys, small: Path, tmp_path: Path) -> None:
    code, _, err = herit(
        capsys, "make-grm", "--bfile", small, "--out", tmp_path / "res", "--maf", "0.05"
    )
    assert code == 0, err
    assert "wrote" in err and "mean diagonal" in err
    log = (tmp_path / "res.log").read_text()
    assert "herit make-grm --bfile" in log and "--maf 0.05" in log
    assert "finished after" in log
    with h5py.File(tmp_path / "res.h5") as handle:
        assert handle.attrs["herit_format"] == "grm"
        assert handle["grm/values"].shape == (30, 30)
        params = json.loads(handle.attrs["params"])
        assert params["maf"] == 0.05
        inputs = json.loads(handle.attrs["inputs"])
        assert set(inputs) == {"bed", "bim", "fam"} and "sha256" in inputs["bim"]


def test_make_grm__default_out_is_basename_in_cwd(
    capsys, small: Path, tmp_path: Path, monkeypatch
) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    code, _, err = herit(capsys, "make-grm", "--bfile", small, "-q")
    assert code == 0, err
    assert err == ""
    assert (work / "small.h5").exists() and (work / "small.log").exists()


def test_inspect__describes_grm(capsys, small: Path, tmp_path: Path) -> None:
    assert herit(capsys, "make-grm", "--bfile", small, "--out", tmp_path / "g")[0] == 0
    code, out, _ = herit(capsys, "inspect", tmp_path / "g.h5", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["kind"] == "grm" and info["n_samples"] == 30
    assert info["n_snps"] + sum(info.get("snps_dropped", {}).values()) == 200
    assert {"diag_mean", "offdiag_var", "fingerprint", "command", "herit_version"} <= set(info)
    code, out, _ = herit(capsys, "inspect", tmp_path / "g.h5")
    assert code == 0 and "diag_mean" in out


def test_export_import__cli(capsys, small: Path, tmp_path: Path) -> None:
    assert herit(capsys, "make-grm", "--bfile", small, "--out", tmp_path / "g")[0] == 0
    assert herit(capsys, "export-grm", tmp_path / "g.h5", "--out", tmp_path / "gc")[0] == 0
    assert (tmp_path / "gc.grm.bin").stat().st_size == 4 * 30 * 31 // 2
    assert herit(capsys, "import-grm", tmp_path / "gc", "--out", tmp_path / "back")[0] == 0
    code, out, _ = herit(capsys, "inspect", tmp_path / "back.h5", "--json")
    assert code == 0
    assert json.loads(out)["n_samples"] == 30


def test_version(capsys) -> None:
    code, out, _ = herit(capsys, "--version")
    assert code == 0
    for name in ("herit", "Python", "numpy", "scipy", "h5py", "pandas-plink", "BLAS"):
        assert name in out


def _break_magic(prefix: Path) -> None:
    bed = prefix.with_suffix(".bed")
    bed.write_bytes(b"\x00\x00\x01" + bed.read_bytes()[3:])


def _truncate(prefix: Path) -> None:
    bed = prefix.with_suffix(".bed")
    bed.write_bytes(bed.read_bytes()[:-5])


def _drop_bim_line(prefix: Path) -> None:
    bim = prefix.with_suffix(".bim")
    bim.write_text("".join(bim.read_text().splitlines(True)[:-1]))


def _duplicate_sample(prefix: Path) -> None:
    fam = prefix.with_suffix(".fam")
    fam.write_text(fam.read_text().replace("fam1 ind1", "fam0 ind0"))


@pytest.mark.parametrize(
    ("break_input", "extra", "code", "fragments"),
    [
        (_break_magic, [], 3, ["small.bed", "not a PLINK 1 .bed"]),
        (_truncate, [], 3, ["small.bed", "looks truncated"]),
        (_drop_bim_line, [], 3, ["small.bed", "199 variants"]),
        (_duplicate_sample, [], 3, ["small.fam", "line 2", "duplicate sample ID 'fam0 ind0'"]),
        (lambda p: p.with_suffix(".bim").unlink(), [], 3, ["missing PLINK file", "small.bim"]),
        (lambda p: None, ["--maf", "0.7"], 2, ["--maf", "0.7"]),
        (lambda p: None, ["--maf", "-1"], 2, ["--maf"]),
        (lambda p: None, ["--geno", "2"], 2, ["--geno"]),
        (lambda p: None, ["--max-maf", "0.01", "--maf", "0.1"], 2, ["--max-maf"]),
        (lambda p: None, ["--chr", "5-2"], 2, ["--chr", "5-2"]),
        (lambda p: None, ["--chr", "1", "--autosome"], 2, ["--autosome"]),
        (lambda p: None, ["--threads", "0"], 2, ["--threads"]),
        (lambda p: None, ["--dtype", "float16"], 2, ["--dtype"]),
        (
            lambda p: p.with_name("empty.txt").write_text(""),
            ["--keep", "{dir}/empty.txt"],
            3,
            ["empty.txt"],
        ),
        (
            lambda p: p.with_name("nobody.txt").write_text("x y\n"),
            ["--keep", "{dir}/nobody.txt"],
            4,
            ["no samples left"],
        ),
        (
            lambda p: p.with_name("none.txt").write_text("rsX\n"),
            ["--extract", "{dir}/none.txt"],
            4,
            ["no variants left"],
        ),
        (lambda p: None, ["--chr", "7"], 4, ["no variants left"]),
        (lambda p: None, ["--max-maf", "0.001"], 4, ["no variants passed the filters"]),
        (lambda p: None, ["--out", "{dir}/no/such/dir/g"], 7, ["does not exist"]),
    ],
)
def test_make_grm__bad_input(
    capsys, small: Path, tmp_path: Path, break_input, extra, code, fragments
) -> None:
    break_input(small)
    args = [a.replace("{dir}", str(tmp_path)) for a in extra]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "g")]
    got, _, err = herit(capsys, "make-grm", "--bfile", small, *args)
    assert got == code, err
    assert_one_line_error(err, *fragments)
    assert leftovers(tmp_path) == []


def test_make_grm__usage_error_without_options(capsys) -> None:
    code, _, err = herit(capsys, "make-grm")
    assert code == 2
    assert_one_line_error(err, "--bfile")


def test_make_grm__unwritable_output(capsys, small: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = herit(capsys, "make-grm", "--bfile", small, "--out", locked / "g")
    assert code == 7
    assert_one_line_error(err, "not writable")


def test_make_grm__failure_keeps_previous_output(capsys, small: Path, tmp_path: Path) -> None:
    assert herit(capsys, "make-grm", "--bfile", small, "--out", tmp_path / "g")[0] == 0
    before = (tmp_path / "g.h5").read_bytes()
    _truncate(small)
    assert herit(capsys, "make-grm", "--bfile", small, "--out", tmp_path / "g")[0] == 3
    assert (tmp_path / "g.h5").read_bytes() == before


def test_make_grm__real_subprocess_exit_code_and_no_traceback(small: Path, tmp_path: Path) -> None:
    _break_magic(small)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "heritcli",
            "make-grm",
            "--bfile",
            str(small),
            "--out",
            str(tmp_path / "g"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3
    assert proc.stderr.startswith("herit: error:")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_make_grm__interrupt_leaves_no_partial_output(tmp_path: Path, sig: int) -> None:
    rng = np.random.default_rng(0)
    prefix = tmp_path / "big"
    # Long enough (about a second of accumulation) to be interrupted mid-stream.
    write_bfile(prefix, random_counts(rng, 24000, 1500, 0.001))
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heritcli",
            "make-grm",
            "--bfile",
            str(prefix),
            "--out",
            str(out / "g"),
            "--block-snps",
            "16",
            "--threads",
            "1",
            "-v",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Wait until the first progress line shows the stream under way, then interrupt it.
    deadline = time.time() + 60
    while not (out / "g.log").exists() or "make-grm: " not in (out / "g.log").read_text():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert_one_line_error(err, "interrupted")
    assert sorted(p.name for p in out.iterdir()) == ["g.log"]
    assert "error: " in (out / "g.log").read_text()


def test_make_grm__outputs_follow_the_umask(capsys, small: Path, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        assert herit(capsys, "make-grm", "--bfile", small, "--out", tmp_path / "g", "-q")[0] == 0
    finally:
        os.umask(previous)
    assert (tmp_path / "g.h5").stat().st_mode & 0o777 == 0o644
