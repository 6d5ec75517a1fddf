"""Running the real command line on broken inputs and checking what it leaves on disk."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from heritcli.cli.main import run
from heritcli.io.atomic import TEMP_PREFIX

REPO = Path(__file__).resolve().parents[2]
#: Bytes standing for the output of an earlier run; a failed run must leave them as they are.
PREVIOUS = b"output of an earlier run\n"
#: Fast settings for mcem on the tiny cohort (the fit itself is tested elsewhere).
MCEM_FAST = ["--iterations", "60", "--burn-in", "20", "--chains", "2", "--allow-no-converge"]


@dataclass
class Workspace:
    """A private copy of the tiny cohort: inputs in ``inputs/``, outputs in ``out/``."""

    root: Path
    inputs: Path
    out_dir: Path
    bfile: Path
    pheno: Path
    covar: Path
    grm: Path
    eigen: Path
    pcs: Path
    gcta: Path

    @property
    def out(self) -> Path:
        return self.out_dir / "res"

    def file(self, name: str) -> Path:
        return self.inputs / name

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.inputs / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path


def copy_workspace(cohort: Workspace, root: Path) -> Workspace:
    """Copy the cohort's inputs to ``root/inputs`` and make an empty ``root/out``."""
    inputs = root / "inputs"
    shutil.copytree(cohort.inputs, inputs)
    out_dir = root / "out"
    out_dir.mkdir()
    return Workspace(
        root=root,
        inputs=inputs,
        out_dir=out_dir,
        **{
            name: inputs / getattr(cohort, name).relative_to(cohort.inputs)
            for name in ("bfile", "pheno", "covar", "grm", "eigen", "pcs", "gcta")
        },
    )


def herit(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``herit ARGS`` in this process; return (exit code, stdout, stderr)."""
    code = run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(err: str, fragments: Sequence[str]) -> str:
    """Exactly one ``herit: error:`` line holding every fragment, and no traceback."""
    lines = [line for line in err.splitlines() if line.startswith("herit: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    assert "Exception ignored" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def seed_outputs(paths: Sequence[Path]) -> None:
    for path in paths:
        path.write_bytes(PREVIOUS)


def assert_outputs_untouched(out_dir: Path, seeded: Sequence[Path]) -> None:
    """The earlier outputs are intact, no temporary file is left, nothing new but logs."""
    names = sorted(p.name for p in out_dir.iterdir())
    assert not [n for n in names if n.startswith(TEMP_PREFIX)], names
    for path in seeded:
        assert path.read_bytes() == PREVIOUS, path
    expected = {p.name for p in seeded}
    extra = [
        n
        for n in names
        if n not in expected and not n.endswith(".log") and not (out_dir / n).is_dir()
    ]
    assert extra == [], extra


def leftovers(directory: Path) -> list[str]:
    """Temporary files anywhere under ``directory``."""
    return sorted(p.name for p in directory.rglob(f"{TEMP_PREFIX}*"))


def limit_file_size(max_bytes: int) -> Callable[[], None]:
    """A ``preexec_fn`` that caps the size of any file the child writes (writes fail, EFBIG)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def herit_process(
    args: Sequence[object], *, preexec_fn: Callable[[], None] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m heritcli ARGS`` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "heritcli", *(str(a) for a in args)],
        capture_output=True,
        text=True,
        preexec_fn=preexec_fn,
        timeout=timeout,
        env=child_env(),
        check=False,
    )


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("OMP_NUM_THREADS", "1")
    return env
