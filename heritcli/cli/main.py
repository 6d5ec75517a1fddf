"""The ``herit`` command: click group, version, and the single last-resort error handler.

Every failure reaches the user as one line ``herit: error: …`` and a documented
exit code (see :mod:`heritcli.errors`); a Python traceback is shown only with
``--debug`` (it is always written to ``OUT.log``).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from heritcli.threads import calm_idle_blas_threads

calm_idle_blas_threads()  # before anything loads numpy, and with it OpenBLAS

import click  # noqa: E402

from heritcli._version import __version__  # noqa: E402
from heritcli.errors import EXIT_CODES, HeritError, Interrupted  # noqa: E402

CHAIN = """\b
The chain:
  herit make-grm --bfile data            PLINK .bed  ->  data.h5 (GRM)
  herit eigen    --grm data.h5 --pcs 10  GRM  ->  data.eigen.h5 + data.pcs.txt
  herit reml     --grm data.h5 --pheno y.txt --covar data.pcs.txt --out out
                                         ->  out.hsq, out.json, a table
  herit mcem     --bfile data --pheno y.txt --covar data.pcs.txt --out out
                                         ->  h2 and pi (spike-and-slab), out.mcem.*

\b
Around it:
  herit simulate --bfile data --h2 0.5 --causal 500 --n-reps 10 --out sim
                                         ->  sim.pheno + sim.truth.json (known h2)
  herit plot profile|grm|mcem ... --out fig.png
                                         ->  likelihood, GRM/PCs, MCEM traces

Every command's --help groups its options and ends with worked examples.
"""

EPILOG = "\b\nExit codes:\n" + "\n".join(
    f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items()
)


def version_text() -> str:
    """herit's version and those of the libraries it computes with, plus the BLAS."""
    import platform

    lines = [f"herit {__version__}", f"Python {platform.python_version()}"]
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("numpy", "scipy", "h5py", "pandas-plink", "click", "rich"):
        try:
            lines.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            lines.append(f"{dist} not installed")
    from heritcli.threads import describe_blas

    lines.append(f"BLAS: {describe_blas()}")
    return "\n".join(lines)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(version_text())
    ctx.exit(0)


@click.group(
    help="SNP-heritability with linear mixed models, in the style of GCTA and PLINK.\n\n" + CHAIN,
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show herit's version, its libraries' versions and the BLAS in use, then exit.",
)
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors (for bug reports).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register_commands() -> None:
    from heritcli.cli import (
        grm_commands,
        mcem_commands,
        plot_commands,
        reml_commands,
        simulate_commands,
    )

    for command in [
        *grm_commands.COMMANDS,
        *reml_commands.COMMANDS,
        *mcem_commands.COMMANDS,
        *simulate_commands.COMMANDS,
        *plot_commands.COMMANDS,
    ]:
        cli.add_command(command)


_register_commands()


def _raise_interrupted(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and map every failure to an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        code = run(args, debug=debug)
    finally:
        signal.signal(signal.SIGTERM, previous)
    sys.exit(code)


def run(args: list[str], *, debug: bool = False) -> int:
    """Run the CLI with ``args``; return the exit code instead of exiting."""
    try:
        cli.main(args=args, prog_name="herit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        _error("interrupted")
        return Interrupted.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        # ``herit`` (or ``herit plot``) alone asks for the help page, not an error line.
        click.echo(exc.ctx.get_help())
        return 0
    except click.UsageError as exc:
        hint = ""
        if exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        _error(f"{exc.format_message()}{hint}")
        return 2
    except click.ClickException as exc:
        _error(exc.format_message())
        return exc.exit_code
    except HeritError as exc:
        if debug:
            raise
        _error(exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted; no output was left half-written")
        return Interrupted.exit_code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:
        from heritcli.io.atomic import describe_os_error, is_full_disk

        if not debug and isinstance(exc, OSError) and is_full_disk(exc):
            # A full disk while printing to a redirected stdout is an output error, not a bug.
            error = describe_os_error(exc, exc.filename or "the output")
            _error(error.message, error.hint)
            return error.exit_code
        if debug:
            raise
        _error(
            f"internal error: {type(exc).__name__}: {exc}",
            "this is a bug in herit; the traceback is in OUT.log (or rerun with --debug)",
        )
        return 1
    return 0


def _error(message: str, hint: str | None = None) -> None:
    text = " ".join(str(message).split("\n"))
    click.echo(f"herit: error: {text}", err=True)
    if hint:
        click.echo(f"herit: hint: {hint}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
