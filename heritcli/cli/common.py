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


def _apply(func: F, decorators: list[Callable[[F], F]]) -> F:
    """Apply decorators so that the options appear in ``--help`` in the order listed."""
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def bfile_option(func: F) -> F:
    """``--bfile PREFIX`` (required): the PLINK fileset."""
    return click.option(
        "--bfile",
        required=True,
        type=click.Path(),
        metavar="PREFIX",
        help="PLINK .bed/.bim/.fam prefix.",
    )(func)


def phenotype_options(*, all_pheno: bool = False) -> Callable[[F], F]:
    """``--pheno`` (required), ``--mpheno``, ``--pheno-name`` and, optionally, ``--all-pheno``.

    The definitions of ``herit reml`` and ``herit mcem``; file options are click paths so
    that shells complete them (existence is checked by the library: exit code 3).
    """

    def decorate(func: F) -> F:
        decorators: list[Callable[[F], F]] = [
            click.option(
                "--pheno",
                required=True,
                type=click.Path(),
                metavar="FILE",
                help="Phenotypes: FID IID y1 y2 ... (header optional).",
            ),
            click.option(
                "--mpheno",
                type=click.IntRange(min=1),
                default=None,
                metavar="N",
                help="Analyse the N-th phenotype column [default: 1].",
            ),
            click.option(
                "--pheno-name", metavar="NAME", default=None, help="Analyse the column named NAME."
            ),
        ]
        if all_pheno:
            decorators.append(
                click.option("--all-pheno", is_flag=True, help="Analyse every phenotype column.")
            )
        return _apply(func, decorators)

    return decorate


def covariate_options(*, qcovar: bool = True) -> Callable[[F], F]:
    """``--covar`` and, optionally, ``--qcovar`` (GCTA's quantitative covariates)."""

    def decorate(func: F) -> F:
        decorators: list[Callable[[F], F]] = [
            click.option(
                "--covar",
                type=click.Path(),
                metavar="FILE",
                default=None,
                help="Covariates: numeric columns quantitative, text columns categorical (first "
                "level is the baseline). plink2/GCTA .eigenvec files work as they are.",
            )
        ]
        if qcovar:
            decorators.append(
                click.option(
                    "--qcovar",
                    type=click.Path(),
                    metavar="FILE",
                    default=None,
                    help="Quantitative covariates (GCTA's option).",
                )
            )
        return _apply(func, decorators)

    return decorate


def sample_filter_options(func: F) -> F:
    """``--keep`` and ``--remove`` (FID IID lists)."""
    return _apply(
        func,
        [
            click.option(
                "--keep",
                type=click.Path(),
                metavar="FILE",
                default=None,
                help="Analyse only these samples (FID IID).",
            ),
            click.option(
                "--remove",
                type=click.Path(),
                metavar="FILE",
                default=None,
                help="Leave out these samples (FID IID).",
            ),
        ],
    )


def snp_filter_options(func: F) -> F:
    """``--extract``, ``--exclude``, ``--maf`` and ``--geno`` with make-grm's meaning."""
    return _apply(
        func,
        [
            click.option(
                "--extract",
                type=click.Path(),
                metavar="FILE",
                default=None,
                help="Use only these SNPs (IDs).",
            ),
            click.option(
                "--exclude",
                type=click.Path(),
                metavar="FILE",
                default=None,
                help="Do not use these SNPs (IDs).",
            ),
            click.option(
                "--maf",
                type=float,
                default=0.0,
                show_default=True,
                metavar="X",
                help="Drop SNPs with minor allele frequency below X.",
            ),
            click.option(
                "--geno",
                type=float,
                default=None,
                metavar="X",
                help="Drop SNPs with a missing call rate above X.",
            ),
        ],
    )


def out_option(default: str | None = "herit", help: str = "Output prefix.") -> Callable[[F], F]:
    """``--out P`` (a path prefix)."""
    return click.option(
        "--out",
        type=click.Path(),
        metavar="P",
        default=default,
        show_default=default is not None,
        help=help,
    )


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
