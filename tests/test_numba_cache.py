"""Where numba caches the compiled MCEM sweep: a per-user directory, never the package.

Each case runs in a fresh Python process, as ``herit mcem`` does, because numba reads its
configuration when it is imported and herit compiles the sweep once per process.  That the
cache is reused is read from numba's own counters (``dispatcher.stats.cache_hits``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from heritcli.core import mcem

pytest.importorskip("numba")

PACKAGE_CACHE = Path(mcem.__file__).parent / "__pycache__"

COMPILE = """
import json
from heritcli.core import mcem
sweep = mcem.numba_sweep()
print(json.dumps({
    "compiled": sweep is not None,
    "hits": sum(sweep.stats.cache_hits.values()) if sweep is not None else 0,
    "misses": sum(sweep.stats.cache_misses.values()) if sweep is not None else 0,
}))
"""


def numba_files(directory: Path) -> dict[str, tuple[int, int]]:
    """numba's index and data files under ``directory``: path -> (mtime, size)."""
    if not directory.exists():
        return {}
    return {
        str(path): (path.stat().st_mtime_ns, path.stat().st_size)
        for path in directory.rglob("*")
        if path.suffix in (".nbi", ".nbc")
    }


def compile_sweep(tmp_path: Path, **env: str) -> dict[str, object]:
    """Compile the sweep in a new process with HOME in ``tmp_path`` and ``env`` added."""
    unset = ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")
    environ = {k: v for k, v in os.environ.items() if k not in unset}
    environ["HOME"] = str(tmp_path / "home")
    environ.update(env)
    done = subprocess.run(
        [sys.executable, "-c", COMPILE],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_numba_cache__per_user_directory_reused_by_the_next_run(tmp_path: Path) -> None:
    before = numba_files(PACKAGE_CACHE)
    xdg = tmp_path / "xdg"
    first = compile_sweep(tmp_path, XDG_CACHE_HOME=str(xdg))
    assert first["compiled"]
    written = numba_files(xdg / "herit" / "numba")
    names = {Path(p).name for p in written}
    assert any(n.startswith("mcem._sweep_kernel") and n.endswith(".nbi") for n in names), names
    assert any(n.startswith("mcem._sweep_kernel") and n.endswith(".nbc") for n in names), names
    # The next process loads the sweep from that cache instead of compiling it again, and
    # adds no file to it.
    second = compile_sweep(tmp_path, XDG_CACHE_HOME=str(xdg))
    assert second["hits"] == 1 and second["misses"] == 0, second
    assert set(numba_files(xdg)) == set(written)
    assert numba_files(PACKAGE_CACHE) == before
    assert not (tmp_path / "home").exists()


def test_numba_cache__default_is_under_the_home_cache(tmp_path: Path) -> None:
    before = numba_files(PACKAGE_CACHE)
    # A relative XDG_CACHE_HOME is ignored, as the XDG base-directory specification says.
    result = compile_sweep(tmp_path, XDG_CACHE_HOME="relative/cache")
    assert result["compiled"]
    assert numba_files(tmp_path / "home" / ".cache" / "herit" / "numba")
    assert not (tmp_path / "relative").exists()
    assert numba_files(PACKAGE_CACHE) == before


def test_numba_cache__numba_cache_dir_of_the_user_wins(tmp_path: Path) -> None:
    before = numba_files(PACKAGE_CACHE)
    chosen = tmp_path / "chosen"
    result = compile_sweep(tmp_path, NUMBA_CACHE_DIR=str(chosen), XDG_CACHE_HOME=str(tmp_path))
    assert result["compiled"]
    assert numba_files(chosen)
    assert not (tmp_path / "herit").exists()
    assert numba_files(PACKAGE_CACHE) == before


def test_numba_cache__unusable_directory_compiles_without_cache(tmp_path: Path) -> None:
    before = numba_files(PACKAGE_CACHE)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would go\n")
    for _ in range(2):
        result = compile_sweep(tmp_path, XDG_CACHE_HOME=str(blocker))
        assert result["compiled"] and result["hits"] == 0, result
    assert numba_files(tmp_path) == {}
    assert numba_files(PACKAGE_CACHE) == before


def test_numba_cache_dir__created_on_demand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert mcem.numba_cache_dir() == tmp_path / "x" / "herit" / "numba"
    assert (tmp_path / "x" / "herit" / "numba").is_dir()
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert mcem.numba_cache_dir() == tmp_path / "h" / ".cache" / "herit" / "numba"
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    assert mcem.numba_cache_dir() is None
