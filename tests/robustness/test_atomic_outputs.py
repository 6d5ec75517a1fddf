"""Outputs are all-or-none: failures, full disks and interrupts leave the earlier files or none.

* :func:`heritcli.io.atomic.atomic_files` on its own: an exception while writing, a rename that
  fails half-way (the targets already replaced are put back) and a signal during the renames
  (held back until the set is complete).
* Every writing subcommand run as a real process with a file-size limit (``RLIMIT_FSIZE``, so
  writes fail with EFBIG, as on a full disk): exit code 7, one line, earlier outputs intact.
  As root, also a real full disk (a 16 KiB tmpfs, ENOSPC) and a read-only directory.
* Real runs of ``mcem``, ``eigen`` and ``reml`` interrupted by SIGINT and SIGTERM: exit code
  130, one line, earlier outputs intact.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import random_counts

from heritcli.errors import OutputError
from heritcli.io import atomic
from heritcli.io.atomic import atomic_files, atomic_text, write_texts_atomically
from heritcli.io.plink import write_bfile

from .support import (
    MCEM_FAST,
    PREVIOUS,
    Workspace,
    assert_one_line_error,
    assert_outputs_untouched,
    child_env,
    herit_process,
    leftovers,
    limit_file_size,
    seed_outputs,
)

# ---------------------------------------------------------------------------------------------
# The helper itself
# ---------------------------------------------------------------------------------------------


def _targets(tmp_path: Path, previous: bool) -> list[Path]:
    paths = [tmp_path / "a.hsq", tmp_path / "a.json", tmp_path / "a.tsv"]
    if previous:
        seed_outputs(paths)
    return paths


@pytest.mark.parametrize("previous", [False, True], ids=["no-previous", "previous"])
def test_atomic_files__exception_while_writing_changes_nothing(tmp_path, previous) -> None:
    paths = _targets(tmp_path, previous)
    with pytest.raises(RuntimeError, match="half-way"), atomic_files(paths) as temps:
        temps[0].write_text("new a")
        temps[1].write_text("new b")
        raise RuntimeError("half-way")
    assert leftovers(tmp_path) == []
    for path in paths:
        assert path.read_bytes() == PREVIOUS if previous else not path.exists()


@pytest.mark.parametrize("previous", [False, True], ids=["no-previous", "previous"])
def test_atomic_files__failed_rename_puts_back_the_earlier_targets(
    tmp_path, previous, monkeypatch
) -> None:
    paths = _targets(tmp_path, previous)
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(Path(dst))
        if Path(dst) == paths[2] and Path(src).name.startswith(atomic.TEMP_PREFIX):
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(OutputError, match=r"no space left on device while writing .*a\.tsv"):
        write_texts_atomically({str(p): f"new {p.name}" for p in paths})
    assert paths[0] in calls and paths[1] in calls  # the first two had been replaced
    assert leftovers(tmp_path) == []
    for path in paths:
        assert path.read_bytes() == PREVIOUS if previous else not path.exists()


def test_atomic_files__signal_during_renames_is_held_until_all_are_done(
    tmp_path, monkeypatch
) -> None:
    paths = _targets(tmp_path, previous=True)
    real_replace = os.replace

    def interrupting_replace(src, dst):
        real_replace(src, dst)
        if Path(dst) == paths[0]:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # let the signal arrive while the other renames are pending

    monkeypatch.setattr(atomic.os, "replace", interrupting_replace)
    with pytest.raises(KeyboardInterrupt):
        write_texts_atomically({str(p): f"new {p.name}" for p in paths})
    assert [p.read_text() for p in paths] == [f"new {p.name}" for p in paths]
    assert leftovers(tmp_path) == []


def test_atomic_files__keyboard_interrupt_in_block_leaves_previous(tmp_path) -> None:
    paths = _targets(tmp_path, previous=True)
    with pytest.raises(KeyboardInterrupt), atomic_files(paths) as temps:
        temps[0].write_text("partial")
        raise KeyboardInterrupt
    assert all(p.read_bytes() == PREVIOUS for p in paths)
    assert leftovers(tmp_path) == []


def test_atomic_files__reserve_beyond_file_size_limit_fails_before_writing(tmp_path) -> None:
    """``reserve`` finds a full disk before the caller writes (checked in a child process)."""
    code = (
        "import sys\n"
        "from heritcli.io.atomic import atomic_files\n"
        "from heritcli.errors import OutputError\n"
        "try:\n"
        f"    with atomic_files([{str(tmp_path / 'big.h5')!r}], reserve=[1 << 20]) as t:\n"
        "        print('block entered')\n"
        "except OutputError as e:\n"
        "    print(e)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        preexec_fn=limit_file_size(4096),
        env=child_env(),
        check=True,
    )
    assert "block entered" not in proc.stdout
    assert "file size limit exceeded while writing" in proc.stdout
    assert "big.h5" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_atomic_text__follows_umask_and_replaces(tmp_path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("old")
    previous = os.umask(0o022)
    try:
        with atomic_text(target) as handle:
            handle.write("new")
    finally:
        os.umask(previous)
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------------------------------------
# Full disk, for every writing subcommand (real processes)
# ---------------------------------------------------------------------------------------------

#: (command, limit in bytes, outputs, arguments) — the limit lets the log through but not
#: every output; for reml the .hsq files fit and the JSON does not.
DISK_FULL = [
    pytest.param("make-grm", 8192, (".h5",), id="make-grm"),
    pytest.param("import-grm", 8192, (".h5",), id="import-grm"),
    pytest.param("export-grm", 8192, (".grm.bin", ".grm.N.bin", ".grm.id"), id="export-grm"),
    pytest.param("eigen", 8192, (".eigen.h5", ".pcs.txt", ".eigenval"), id="eigen"),
    pytest.param("reml", 2048, (".CD8.hsq", ".MCH.hsq", ".json", ".dropped.tsv"), id="reml"),
    pytest.param(
        "mcem",
        8192,
        (".mcem.json", ".mcem.trace.tsv", ".mcem.pip.tsv", ".dropped.tsv"),
        id="mcem",
    ),
]


def writing_args(command: str, ws: Workspace, out: Path) -> list[object]:
    return {
        "make-grm": ["make-grm", "--bfile", ws.bfile, "--out", out],
        "import-grm": ["import-grm", ws.gcta, "--out", out],
        "export-grm": ["export-grm", ws.grm, "--out", out],
        "eigen": ["eigen", "--grm", ws.grm, "--out", out, "--pcs", 2],
        "reml": [
            "reml",
            "--grm",
            ws.grm,
            "--pheno",
            ws.pheno,
            "--all-pheno",
            "--no-cache",
            "--out",
            out,
        ],
        "mcem": ["mcem", "--bfile", ws.bfile, "--pheno", ws.pheno, "--out", out, *MCEM_FAST],
    }[command]


@pytest.mark.parametrize(("command", "limit", "outputs"), DISK_FULL)
def test_file_size_limit__exit_7_and_earlier_outputs_intact(
    ws: Workspace, command: str, limit: int, outputs: tuple[str, ...]
) -> None:
    seeded = [Path(f"{ws.out}{suffix}") for suffix in outputs]
    seed_outputs(seeded)
    proc = herit_process(
        [*writing_args(command, ws, ws.out), "-q"], preexec_fn=limit_file_size(limit)
    )
    assert proc.returncode == 7, proc.stderr
    assert_one_line_error(
        proc.stderr, ["file size limit exceeded while writing", "no output file was changed"]
    )
    assert_outputs_untouched(ws.out_dir, seeded)
    assert leftovers(ws.root) == []


@contextlib.contextmanager
def mounted_tmpfs(path: Path, options: str) -> Iterator[bool]:
    """Mount a tmpfs at ``path`` (root only); yields False when that is not possible."""
    path.mkdir(exist_ok=True)
    if os.geteuid() != 0:
        yield False
        return
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    try:
        yield done.returncode == 0
    finally:
        if done.returncode == 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def test_full_disk__tmpfs_gives_exit_7(ws: Workspace) -> None:
    small = ws.root / "small"
    with mounted_tmpfs(small, "size=16k") as ok:
        if not ok:
            pytest.skip(
                "needs root and permission to mount a tmpfs (the file-size limit "
                "tests cover non-root runs)"
            )
        out = small / "res"
        seeded = [Path(f"{out}{s}") for s in (".eigen.h5", ".pcs.txt", ".eigenval")]
        seed_outputs(seeded)
        proc = herit_process(["eigen", "--grm", ws.grm, "--out", out, "--pcs", 2, "-q"])
        assert proc.returncode == 7, proc.stderr
        assert_one_line_error(
            proc.stderr, ["no space left on device while writing", "res.eigen.h5"]
        )
        assert_outputs_untouched(small, seeded)


def test_read_only_output_directory__exit_7(ws: Workspace) -> None:
    locked = ws.root / "locked"
    if os.geteuid() != 0:
        locked.mkdir()
        os.chmod(locked, 0o500)
        context: contextlib.AbstractContextManager[bool] = contextlib.nullcontext(True)
    else:
        context = mounted_tmpfs(locked, "ro,size=16k")
    with context as ok:
        if not ok:
            pytest.skip("root without permission to mount a read-only tmpfs")
        proc = herit_process(
            ["reml", "--grm", ws.grm, "--pheno", ws.pheno, "--out", locked / "res"]
        )
        assert proc.returncode == 7, proc.stderr
        assert_one_line_error(proc.stderr, ["locked", "not writable"])
    os.chmod(locked, 0o700)


# ---------------------------------------------------------------------------------------------
# Interrupting real runs
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_grm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 2,000-sample GRM (200 random SNPs): decomposing it takes a second or two."""
    from heritcli.cli.main import run

    work = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(11)
    n = 2000
    write_bfile(work / "big", random_counts(rng, 200, n))
    assert run(["make-grm", "--bfile", str(work / "big"), "--out", str(work / "big"), "-q"]) == 0
    y = rng.standard_normal(n)
    lines = ["FID IID y"] + [
        f"fam{i} ind{i} {'NA' if i % 7 == 0 else f'{y[i]:.5f}'}" for i in range(n)
    ]
    (work / "big.pheno").write_text("\n".join(lines) + "\n")
    return {"grm": work / "big.h5", "pheno": work / "big.pheno", "bfile": work / "big"}


def interrupt_when_logged(
    args: list[object], log: Path, marker: str, sig: int, delay: float = 0.2
) -> subprocess.CompletedProcess[str]:
    """Start ``herit ARGS``, send ``sig`` once ``marker`` is in ``log``, wait for the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "heritcli", *(str(a) for a in args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    deadline = time.time() + 120
    while not (log.exists() and marker in log.read_text()):
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.02)
    time.sleep(delay)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


SIGNALS = [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")]


@pytest.mark.parametrize("sig", SIGNALS)
def test_interrupt__mcem_keeps_earlier_outputs(tmp_path, big_grm, sig: int) -> None:
    out = tmp_path / "res"
    seeded = [Path(f"{out}{s}") for s in (".mcem.json", ".mcem.trace.tsv", ".mcem.pip.tsv")]
    seed_outputs(seeded)
    args = [
        "mcem",
        "--bfile",
        big_grm["bfile"],
        "--pheno",
        big_grm["pheno"],
        "--out",
        out,
        *MCEM_FAST,
        "--threads",
        1,
    ]
    # Interrupted while it decomposes the GRM of its 1,714 samples for the REML start.
    proc = interrupt_when_logged(args, Path(f"{out}.log"), "genotypes held as int8", sig)
    assert proc.returncode == 130, proc.stderr
    assert_one_line_error(proc.stderr, ["interrupted"])
    assert_outputs_untouched(tmp_path, seeded)
    assert "error: " in Path(f"{out}.log").read_text()


@pytest.mark.parametrize("sig", SIGNALS)
def test_interrupt__eigen_keeps_earlier_outputs(tmp_path, big_grm, sig: int) -> None:
    out = tmp_path / "res"
    seeded = [Path(f"{out}{s}") for s in (".eigen.h5", ".pcs.txt", ".eigenval")]
    seed_outputs(seeded)
    args = ["eigen", "--grm", big_grm["grm"], "--out", out, "--pcs", 5, "--threads", 1]
    proc = interrupt_when_logged(args, Path(f"{out}.eigen.log"), "GRM of 2000 samples", sig)
    assert proc.returncode == 130, proc.stderr
    assert_one_line_error(proc.stderr, ["interrupted"])
    assert_outputs_untouched(tmp_path, seeded)


@pytest.mark.parametrize("sig", SIGNALS)
def test_interrupt__reml_keeps_earlier_outputs(tmp_path, big_grm, sig: int) -> None:
    out = tmp_path / "res"
    seeded = [Path(f"{out}{s}") for s in (".hsq", ".json", ".dropped.tsv")]
    seed_outputs(seeded)
    args = [
        "reml",
        "--grm",
        big_grm["grm"],
        "--pheno",
        big_grm["pheno"],
        "--out",
        out,
        "--no-cache",
        "--threads",
        1,
    ]
    proc = interrupt_when_logged(args, Path(f"{out}.log"), "analysed", sig)
    assert proc.returncode == 130, proc.stderr
    assert_one_line_error(proc.stderr, ["interrupted"])
    assert_outputs_untouched(tmp_path, seeded)


def test_full_stdout__exit_7_not_an_internal_error(ws: Workspace) -> None:
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full on this system")
    with open(full, "w") as sink:
        proc = subprocess.run(
            [sys.executable, "-m", "heritcli", "inspect", str(ws.grm), "--json"],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
            check=False,
        )
    assert proc.returncode == 7, proc.stderr
    assert_one_line_error(proc.stderr, ["no space left on device"])
