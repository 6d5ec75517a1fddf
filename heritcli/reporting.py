"""How library functions report progress and diagnostics without printing.

Library functions accept a :class:`Reporter`; the command-line layer passes one
that writes to stderr and ``OUT.log``, Python callers get :class:`SilentReporter`
(or their own implementation) by default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol


class Progress(Protocol):
    """A running task: call :meth:`advance` as work completes.

    Implementations may also offer ``status(text)`` to show a short status after the bar
    (current estimates, say); callers look it up with ``getattr`` and skip it when absent.
    """

    def advance(self, amount: int = 1) -> None: ...


class Reporter(Protocol):
    """Receiver of a run's messages."""

    def info(self, message: str) -> None: ...

    def detail(self, message: str) -> None: ...

    def warning(self, message: str) -> None: ...

    def task(
        self, description: str, total: int | None, unit: str = ""
    ) -> contextlib.AbstractContextManager[Progress]: ...


class _NullProgress:
    def advance(self, amount: int = 1) -> None:
        return None

    def status(self, text: str) -> None:
        return None


class SilentReporter:
    """A reporter that records warnings and otherwise stays silent."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.messages: list[str] = []

    def info(self, message: str) -> None:
        self.messages.append(message)

    def detail(self, message: str) -> None:
        self.messages.append(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    @contextlib.contextmanager
    def task(self, description: str, total: int | None, unit: str = "") -> Iterator[Progress]:
        yield _NullProgress()
