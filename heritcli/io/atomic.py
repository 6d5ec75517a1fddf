"""Atomic output files: write to temporary files beside the targets, then rename.

An interrupted or failed command therefore leaves either the previous files or
none, never a half-written one (``os.replace`` is atomic on POSIX within one
file system).  A command that writes several files (``reml``: ``P.hsq`` and
``P.json``; ``eigen``: ``P.eigen.h5``, ``P.pcs.txt``, ``P.eigenval``) writes them
through :func:`atomic_files`, which makes the set all-or-none:

1. every temporary file is written and flushed to disk first (a full disk or
   a file-size limit fails here, before any target is touched);
2. then all of them are renamed onto their targets, with SIGINT and SIGTERM
   held back for the few microseconds this takes;
3. if a rename fails, the targets already replaced are put back (their
   previous content was kept as a hard link) or removed.

Errors are reported as :class:`~heritcli.errors.OutputError` (exit code 7),
naming the file and the reason (no space left, quota, file-size limit, ...).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import tempfile
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from heritcli.errors import OutputError

TEMP_PREFIX = ".herit-tmp-"
_UNCHANGED = "; no output file was changed"

#: errno values that mean "the disk (or the allowance for this job) is full".
_FULL_DISK = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file size limit exceeded",
}
#: HDF5 reports the C errno inside its message ("errno = 28, error message = ...").
_HDF5_ERRNO = re.compile(r"errno = (\d+)")


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


def os_error_number(exc: BaseException) -> int | None:
    """The errno of an OSError, also when HDF5 only mentions it in the message."""
    number = getattr(exc, "errno", None)
    if isinstance(number, int):
        return number
    found = _HDF5_ERRNO.search(str(exc))
    return int(found.group(1)) if found else None


def is_full_disk(exc: BaseException) -> bool:
    """True for "no space left", "quota exceeded" and "file too large" errors."""
    return os_error_number(exc) in _FULL_DISK


def describe_os_error(
    exc: BaseException, target: str | os.PathLike[str], *, outcome: str = ""
) -> OutputError:
    """Turn an OSError raised while writing into a one-line :class:`OutputError`.

    ``outcome`` (e.g. "; no output file was changed") is appended to the message.
    """
    number = os_error_number(exc)
    if number in _FULL_DISK:
        return OutputError(
            f"{_FULL_DISK[number]} while writing {target}{outcome}",
            hint="free some space (or raise the limit) and run the command again",
        )
    if number == errno.EROFS:
        return OutputError(f"cannot write {target}: the file system is read-only{outcome}")
    if number in (errno.EACCES, errno.EPERM):
        return OutputError(f"cannot write {target}: permission denied{outcome}")
    text = str(exc)
    reason = getattr(exc, "strerror", None) or (text.splitlines()[0] if text else "")
    return OutputError(f"cannot write {target}: {reason or type(exc).__name__}{outcome}")


@contextlib.contextmanager
def atomic_files(
    targets: Sequence[str | os.PathLike[str]], *, reserve: Sequence[int] | None = None
) -> Iterator[list[Path]]:
    """Yield one temporary path per target; on success rename them all, otherwise none.

    Parameters
    ----------
    targets : sequence of path
        The files to (re)place.  Every directory must exist and be writable.
    reserve : sequence of int, optional
        Expected size in bytes of each file.  The space is allocated up front
        (``posix_fallocate``) and released again, so that a full disk or a
        file-size limit is reported before anything is written.  Needed for
        files written by HDF5, which does not recover from a failed write.

    Yields
    ------
    list of Path
        Temporary paths, in the order of ``targets``, each an empty file in its
        target's directory.  The caller writes (and closes) them all in the block.

    Raises
    ------
    OutputError
        A directory is missing or not writable, or writing, flushing or renaming
        failed (for example disk full).  No target has changed then.

    Notes
    -----
    On any exception in the block (including KeyboardInterrupt) every temporary
    file is removed and no target is touched.  The renames happen only after
    every file has been flushed with ``fsync``; a failing rename puts back the
    targets already replaced.
    """
    paths = [check_writable_dir(t) for t in targets]
    if len({p.resolve() for p in paths}) != len(paths):
        raise ValueError(f"atomic_files: the same target twice in {[str(p) for p in paths]}")
    temps: list[Path] = []
    try:
        for path in paths:
            temps.append(_new_temp(path))
        if reserve is not None:
            _check_space(temps, paths, reserve)
        yield list(temps)
        for tmp in temps:
            _flush_to_disk(tmp)
        with _signals_held():
            _replace_all(temps, paths)
    except OSError as exc:
        _remove_quietly(*temps)
        raise describe_os_error(exc, _target_of(exc, temps, paths), outcome=_UNCHANGED) from exc
    except BaseException as exc:
        _remove_quietly(*temps)
        if isinstance(exc, Exception) and os_error_number(exc) in _FULL_DISK:
            # HDF5 wraps a failed write in RuntimeError("... errno = 28 ...").
            raise describe_os_error(
                exc, ", ".join(map(os.fspath, paths)), outcome=_UNCHANGED
            ) from exc
        raise


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, reserve: int | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``target`` on success.

    On any exception (including KeyboardInterrupt) the temporary file is removed
    and ``target`` is left untouched.  ``reserve``: see :func:`atomic_files`.
    """
    with atomic_files([target], reserve=None if reserve is None else [reserve]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_text(target: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """Open a temporary text file that becomes ``target`` when the block succeeds."""
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        yield handle


def write_texts_atomically(texts: dict[str, str]) -> list[str]:
    """Write several text files all-or-none (see :func:`atomic_files`); returns their paths."""
    names = list(texts)
    with atomic_files(names) as temps:
        for name, tmp in zip(names, temps, strict=True):
            with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(texts[name])
    return names


# ---------------------------------------------------------------------------------------------


def _new_temp(target: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=target.suffix, dir=target.parent)
    os.close(fd)
    return Path(name)


def _check_space(temps: list[Path], targets: list[Path], sizes: Sequence[int]) -> None:
    """Allocate ``sizes`` bytes in the temporary files at once, then release them."""
    handles: list[int] = []
    try:
        for tmp, target, size in zip(temps, targets, sizes, strict=True):
            fd = os.open(tmp, os.O_RDWR)
            handles.append(fd)
            if size <= 0:
                continue
            try:
                _allocate(fd, int(size))
            except OSError as exc:
                raise describe_os_error(exc, target, outcome=_UNCHANGED) from None
        for fd in handles:
            os.ftruncate(fd, 0)
    finally:
        for fd in handles:
            os.close(fd)


def _allocate(fd: int, size: int) -> None:
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, 0, size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise
    # No fallocate here: a file-size limit still shows, as does a full disk on most systems.
    os.ftruncate(fd, size)


def _flush_to_disk(path: Path) -> None:
    """``fsync`` a closed file, so that a full disk shows up before any rename."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_all(temps: list[Path], targets: list[Path]) -> None:
    """Rename every temporary file onto its target; on failure restore the earlier targets."""
    mode = 0o666 & ~_current_umask()
    done: list[tuple[Path, Path | None]] = []
    try:
        for tmp, target in zip(temps, targets, strict=True):
            # mkstemp creates the file 0600; give the result the permissions open() would.
            os.chmod(tmp, mode)
            backup = _keep_previous(target)
            done.append((target, backup))
            os.replace(tmp, target)
    except BaseException:
        for target, backup in reversed(done):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, target)
                else:
                    target.unlink()
        raise
    finally:
        _remove_quietly(*(b for _, b in done if b is not None))


def _keep_previous(target: Path) -> Path | None:
    """A hard link to the current ``target`` (None if there is none), to restore it."""
    if not target.exists():
        return None
    backup = target.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}.previous"
    try:
        os.link(target, backup)
    except OSError:
        return None  # no hard links here: a failed rename then leaves no file, never a partial one
    return backup


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM (main thread only) and deliver them afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, _frame: object) -> None:
        received.append(signum)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            previous[sig] = signal.signal(sig, hold)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            signal.raise_signal(received[0])


def _target_of(exc: OSError, temps: list[Path], targets: list[Path]) -> str:
    """The target a failing temporary file belongs to (all of them when it is not known)."""
    name = getattr(exc, "filename", None)
    for tmp, target in zip(temps, targets, strict=False):
        if name is not None and os.fspath(name) in (os.fspath(tmp), os.fspath(target)):
            return os.fspath(target)
        if os.fspath(tmp) in str(exc):
            return os.fspath(target)
    return ", ".join(os.fspath(t) for t in targets)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_quietly(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
