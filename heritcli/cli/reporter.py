"""The command-line reporter: messages to stderr and ``OUT.log``, progress bars.

Data (sample IDs, file contents) may contain characters that rich would read
as markup, so every message is printed as plain text (``markup=False``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import platform
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from heritcli._version import __version__

#: Plain progress lines are printed at most this often (seconds) when stderr is not a terminal.
PLAIN_PROGRESS_SECONDS = 30.0


class CliReporter:
    """Reporter for one command run.

    Parameters
    ----------
    verbosity : int
        -1 quiet (warnings only), 0 normal, 1 verbose.
    log_path : Path, optional
        Where the run log goes; opened by :meth:`open_log`.
    """

    def __init__(self, verbosity: int = 0, stream: IO[str] | None = None) -> None:
        self.verbosity = verbosity
        self.stream = stream if stream is not None else sys.stderr
        self._console: Any = None
        self.log_handle: IO[str] | None = None
        self.log_path: Path | None = None
        self.warnings: list[str] = []
        self.started = time.perf_counter()

    @property
    def interactive(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    @property
    def console(self) -> Any:
        """The rich console on the stream, made on first use (importing rich takes time
        that a run printing plain lines to a file does not need to spend)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, markup=False, highlight=False, emoji=False)
        return self._console

    def _print(self, message: str) -> None:
        """One message line: through rich on a terminal, as plain text otherwise."""
        if self.interactive:
            self.console.print(message, soft_wrap=True)
        else:
            self.stream.write(message + "\n")
            self.stream.flush()

    # -- log file -------------------------------------------------------------------
    def open_log(self, path: Path, command: str) -> None:
        """Start ``OUT.log`` with the version, command and environment."""
        from heritcli.io.atomic import check_writable_dir

        check_writable_dir(path)
        self.log_path = path
        try:
            self.log_handle = open(path, "w", encoding="utf-8")
        except OSError as exc:
            from heritcli.io.atomic import describe_os_error

            raise describe_os_error(exc, path) from None
        now = _dt.datetime.now(tz=_dt.timezone.utc).replace(microsecond=0).isoformat()
        self._log(f"herit {__version__}")
        self._log(f"started {now}")
        self._log(f"command: {command}")
        self._log(f"python {platform.python_version()} on {platform.platform()}")

    def close_log(self, error: BaseException | None = None) -> None:
        if self.log_handle is None:
            return
        try:
            self._close_log(error)
        except Exception:  # the log is secondary: never hide the run's own error with its own
            if error is None:
                raise
        finally:
            if self.log_handle is not None:
                with contextlib.suppress(OSError):
                    self.log_handle.close()
                self.log_handle = None

    def _close_log(self, error: BaseException | None) -> None:
        assert self.log_handle is not None
        elapsed = time.perf_counter() - self.started
        if error is not None:
            self._log(f"error: {error}")
            if not _is_expected(error):
                self._log("traceback:")
                self.log_handle.write(
                    "".join(traceback.format_exception(type(error), error, error.__traceback__))
                )
        if self.warnings:
            self._log(f"{len(self.warnings)} warning(s)")
        status = "failed" if error is not None else "finished"
        self._log(f"{status} after {elapsed:.2f} s")
        handle, self.log_handle = self.log_handle, None
        if handle is not None:
            try:
                handle.close()
            except OSError as exc:
                from heritcli.io.atomic import describe_os_error

                raise describe_os_error(exc, self.log_path or "the log") from None

    def _log(self, message: str) -> None:
        """Append a line to the log; a full disk stops the run with exit code 7."""
        if self.log_handle is None:
            return
        try:
            self.log_handle.write(message + "\n")
            self.log_handle.flush()
        except OSError as exc:
            from heritcli.io.atomic import describe_os_error

            handle, self.log_handle = self.log_handle, None
            with contextlib.suppress(OSError):
                handle.close()
            raise describe_os_error(exc, self.log_path or "the log") from None

    # -- messages ------------------------------------------------------------------------
    def info(self, message: str) -> None:
        self._log(message)
        if self.verbosity >= 0:
            self._print(message)

    def detail(self, message: str) -> None:
        self._log(message)
        if self.verbosity >= 1:
            self._print(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        self._log(f"warning: {message}")
        self._print(f"herit: warning: {message}")

    def result(self, renderable: Any) -> None:
        """Print a result table to stdout (not stderr)."""
        result_console().print(renderable)

    @contextlib.contextmanager
    def task(self, description: str, total: int | None, unit: str = "") -> Iterator[Any]:
        started = time.perf_counter()
        if self.interactive and self.verbosity >= 0:
            with _RichTask(self.console, description, total, unit) as rich_task:
                yield rich_task
        else:
            yield _PlainTask(self, description, total, unit)
        self._log(f"{description}: done in {time.perf_counter() - started:.2f} s")


class _RichTask:
    def __init__(self, console: Any, description: str, total: int | None, unit: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
        if total is not None:
            columns += [
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
            ]
        columns.append(TimeElapsedColumn())
        columns.append(TextColumn("{task.fields[status]}"))
        self.progress = Progress(*columns, console=console, transient=False)
        self.unit = unit
        self.started = time.perf_counter()
        self.done = 0
        self.task_id = self.progress.add_task(description, total=total, rate="", status="")

    def __enter__(self) -> _RichTask:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = f"{self.done / elapsed:,.0f} {self.unit}/s" if self.unit else ""
        self.progress.update(self.task_id, advance=amount, rate=rate)

    def status(self, text: str) -> None:
        """Show ``text`` (e.g. current estimates) after the bar."""
        self.progress.update(self.task_id, status=text)


class _PlainTask:
    """Periodic plain lines, readable in cluster logs."""

    def __init__(
        self, reporter: CliReporter, description: str, total: int | None, unit: str
    ) -> None:
        self.reporter = reporter
        self.description = description
        self.total = total
        self.unit = unit
        self.done = 0
        self.started = time.perf_counter()
        self.last = self.started
        self.next_fraction = 0.1
        self.status_text = ""

    def status(self, text: str) -> None:
        """Append ``text`` (e.g. current estimates) to the periodic lines."""
        self.status_text = text

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        now = time.perf_counter()
        fraction = self.done / self.total if self.total else 0.0
        if (
            self.total and fraction >= self.next_fraction
        ) or now - self.last >= PLAIN_PROGRESS_SECONDS:
            self.last = now
            while self.total and self.next_fraction <= fraction:
                self.next_fraction += 0.1
            self._line(now)

    def _line(self, now: float) -> None:
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if self.total:
            remaining = (self.total - self.done) / rate if rate > 0 else float("nan")
            text = (
                f"{self.description}: {self.done:,}/{self.total:,} {self.unit} "
                f"({100 * self.done / self.total:.0f}%), {rate:,.0f} {self.unit}/s, "
                f"{elapsed:.0f} s elapsed, about {remaining:.0f} s left"
            )
        else:
            text = f"{self.description}: {self.done:,} {self.unit}, {elapsed:.0f} s elapsed"
        if self.status_text:
            text += f"; {self.status_text}"
        self.reporter.info(text)


def result_console() -> Any:
    """A console on stdout; when stdout is not a terminal, wide enough for result tables."""
    from rich.console import Console

    width = None if sys.stdout.isatty() else 120
    return Console(markup=False, highlight=False, width=width)


def _is_expected(error: BaseException) -> bool:
    from heritcli.errors import HeritError

    return isinstance(error, HeritError | KeyboardInterrupt)
