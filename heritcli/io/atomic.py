"""Atomic output files: write to a temporary file beside the target, then rename.

An interrupted or failed command therefore leaves either the previous file or
none, never a half-written one (``os.replace`` is atomic on POSIX within one
file system).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from heritcli.errors import OutputError

TEMP_PREFIX = ".herit-tmp-"


def check_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Raise :class:`OutputError` unless the directory that will hold ``path`` is writable."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"output directory {parent} does not exist (for {target})")
    if not parent.is_dir():
        raise OutputError(f"{parent} is not a directory (for {target})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output directory {parent} is not writable (for {target})")
    if target.is_dir():
        raise OutputError(f"output {target} is a directory")
    return target


def describe_os_error(exc: OSError, target: str | os.PathLike[str]) -> OutputError:
    """Turn an OSError raised while writing into a one-line :class:`OutputError`."""
    if exc.errno == errno.ENOSPC:
        return OutputError(f"no space left on device while writing {target}")
    if exc.errno == errno.EDQUOT:
        return OutputError(f"disk quota exceeded while writing {target}")
    reason = exc.strerror or str(exc)
    return OutputError(f"cannot write {target}: {reason}")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``target`` on success.

    On any exception (including KeyboardInterrupt) the temporary file is removed
    and ``target`` is left untouched.
    """
    target = check_writable_dir(target)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file 0600; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
    except OSError as exc:
        _remove_quietly(tmp)
        raise describe_os_error(exc, target) from exc
    except BaseException:
        _remove_quietly(tmp)
        raise


@contextlib.contextmanager
def atomic_text(target: str | os.PathLike[str]) -> Iterator[object]:
    """Open a temporary text file that becomes ``target`` when the block succeeds."""
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        yield handle


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
