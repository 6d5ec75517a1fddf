"""Pieces shared by every subcommand: verbosity options, the run log, the command line."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from heritcli.cli.reporter import CliReporter

F = TypeVar("F", bound=Callable[..., Any])


def verbosity_options(func: F) -> F:
    """Add ``-q/--quiet`` and ``-v/--verbose``."""
    func = click.option(
        "-v", "--verbose", is_flag=True, help="Print more detail (per-step timings, threads)."
    )(func)
    func = click.option(
        "-q", "--quiet", is_flag=True, help="Print only warnings and errors on stderr."
    )(func)
    return func


def threads_option(func: F) -> F:
    return click.option(
        "--threads",
        type=click.IntRange(min=1),
        default=None,
        metavar="N",
        help="Threads for BLAS and decoding [default: the cores this job may use, "
        "respecting SLURM_CPUS_PER_TASK].",
    )(func)


def command_line(ctx: click.Context) -> str:
    """The normalised command line: subcommand and the options that were set, in order."""
    parts = [ctx.command_path]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if value is None or value is False or value == ():
            continue
        source = ctx.get_parameter_source(param.name or "")
        if source is not None and source.name == "DEFAULT":
            continue
        flag = max(param.opts, key=len) if isinstance(param, click.Option) else None
        if flag is None:
            parts.append(str(value))
        elif value is True:
            parts.append(flag)
        elif isinstance(value, tuple | list):
            parts.extend(f"{flag} {v}" for v in value)
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


@contextlib.contextmanager
def run_logged(
    ctx: click.Context, log_path: Path | None, *, quiet: bool, verbose: bool
) -> Iterator[CliReporter]:
    """A reporter whose messages also go to ``log_path``; errors are logged on the way out."""
    reporter = CliReporter(verbosity=-1 if quiet else (1 if verbose else 0))
    command = command_line(ctx)
    if log_path is not None:
        reporter.open_log(log_path, command)
    reporter.command = command  # type: ignore[attr-defined]
    try:
        yield reporter
    except BaseException as exc:
        reporter.close_log(exc)
        raise
    reporter.close_log()


def log_path_for(out_prefix: str | Path) -> Path:
    """``OUT.log`` for an output prefix (``OUT.h5`` → ``OUT.log``)."""
    text = str(out_prefix)
    if text.endswith(".h5"):
        text = text[:-3]
    return Path(text + ".log")
