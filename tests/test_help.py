"""Help pages: a description and a worked example everywhere, grouped options, the chain."""

from __future__ import annotations

import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from heritcli.cli.common import (
    bfile_option,
    covariate_options,
    out_option,
    phenotype_options,
    sample_filter_options,
    snp_filter_options,
)
from heritcli.cli.help import GROUP_ORDER, OPTION_GROUPS, HeritCommand, HeritGroup
from heritcli.cli.main import cli, run

#: Commands whose help is built by HeritCommand/HeritGroup (grouped options, worked examples).
GROUPED = (
    "make-grm",
    "merge-grm",
    "freq",
    "export-grm",
    "import-grm",
    "inspect",
    "eigen",
    "reml",
    "mcem",
    "simulate",
    "plot",
)


def all_commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*path, name))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, (*path, name)))
    return found


COMMANDS = all_commands(cli)


def help_text(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="herit")
    assert result.exit_code == 0, result.output
    return result.output


def command_of(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help__description_and_example(path: tuple[str, ...]) -> None:
    text = help_text(*path)
    description = text.split("\n\n")[1].strip()
    assert len(description) > 20, text
    assert re.search(r"^\s*Examples?:", text, flags=re.MULTILINE), f"no example in {path}"
    assert "herit " + " ".join(path) in text.split("Example", 1)[1]


@pytest.mark.parametrize(
    "path",
    [p for p in COMMANDS if isinstance(command_of(p), HeritCommand | HeritGroup)],
    ids=" ".join,
)
def test_help__options_grouped_under_headings(path: tuple[str, ...]) -> None:
    text = help_text(*path)
    headings = re.findall(r"^(\S[^:\n]*):$", text, flags=re.MULTILINE)
    assert "Options" not in headings
    grouped = [h for h in headings if h in GROUP_ORDER]
    assert grouped == sorted(grouped, key=GROUP_ORDER.index)
    assert "Other" in grouped
    if not isinstance(command_of(path), click.Group):
        assert len(grouped) >= 2
    assert headings[-1] == "Examples" or "Commands" in headings


def command_summaries(text: str) -> dict[str, str]:
    """The top-level command list: name -> summary, continuation lines joined."""
    summaries: dict[str, str] = {}
    name = ""
    for line in text.split("Commands:")[1].split("\n\n")[0].splitlines():
        match = re.match(r"^  (\S+)\s+(.*)$", line)
        if match:
            name = match.group(1)
            summaries[name] = match.group(2).strip()
        elif line.strip() and name:
            summaries[name] += " " + line.strip()
    return summaries


def test_help__herit_commands_use_the_grouping() -> None:
    summaries = command_summaries(help_text())
    for name in GROUPED:
        assert isinstance(cli.commands[name], HeritCommand | HeritGroup)
        # The summary in the top-level list is the whole short_help, not cut off with "...".
        assert summaries[name] == cli.commands[name].short_help, name
        assert summaries[name].endswith((")", "."))
    simulate = help_text("simulate")
    section = simulate.split("Simulation:")[1].split("\n\n")[0]
    for flag in ("--h2", "--causal", "--pi", "--causal-list", "--n-reps", "--seed"):
        assert flag in section
    assert "--keep" in simulate.split("Samples and SNPs:")[1].split("\n\n")[0]
    assert "--out" in simulate.split("Output:")[1].split("\n\n")[0]


def test_help__top_level_shows_the_chain() -> None:
    text = help_text()
    chain = text.split("The chain:")[1].split("Options:")[0]
    steps = [chain.index(f"herit {name} ") for name in ("make-grm", "eigen", "reml", "mcem")]
    assert steps == sorted(steps)
    assert "herit simulate" in chain and "herit plot" in chain
    listed = text.split("Commands:")[1]
    for name in cli.commands:
        assert re.search(rf"^\s+{re.escape(name)}\s", listed, flags=re.MULTILINE)


def test_heritcommand__groups_and_overrides() -> None:
    @click.command(
        cls=HeritCommand,
        option_groups={"seed": "Output"},
        examples=[("one", "herit x --seed 1\n    --maf 0.1")],
    )
    @click.option("--maf", type=float)
    @click.option("--seed", type=int)
    @click.option("--colour")
    def x(maf: float, seed: int, colour: str) -> None:
        """Do x."""

    text = x.get_help(click.Context(x, info_name="x"))
    assert OPTION_GROUPS["maf"] == "Samples and SNPs"
    assert text.index("Samples and SNPs:") < text.index("Output:") < text.index("Other:")
    assert "--seed" in text.split("Output:")[1].split("Other:")[0]
    assert "--colour" in text.split("Other:")[1]
    # Examples are printed verbatim, continuation lines included.
    assert text.endswith("  # one\n  herit x --seed 1\n      --maf 0.1")


def test_help__is_fast_to_load() -> None:
    """``herit --help`` imports neither numpy, scipy, h5py nor matplotlib."""
    code = (
        "import sys\n"
        "from heritcli.cli.main import run\n"
        "assert run(['--help']) == 0\n"
        "assert run(['simulate', '--help']) == 0\n"
        "assert run(['reml', '--help']) == 0 and run(['mcem', '--help']) == 0\n"
        "assert run([]) == 0\n"
        "assert run(['plot', 'profile', '--help']) == 0\n"
        "heavy = [m for m in ('numpy', 'scipy', 'h5py', 'matplotlib') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def describe_option(param: click.Parameter) -> tuple[object, ...]:
    """Everything that makes an option behave and read the same in --help."""
    assert isinstance(param, click.Option)
    return (
        param.opts,
        param.secondary_opts,
        param.required,
        param.metavar,
        param.is_flag,
        param.type.to_info_dict(),
        param.default,
        bool(param.show_default),
        param.help,
    )


def shared_definitions() -> dict[str, tuple[object, ...]]:
    """The options of every shared decorator, as :func:`describe_option` sees them."""

    @click.command(cls=HeritCommand)
    @bfile_option
    @phenotype_options(all_pheno=True)
    @covariate_options()
    @sample_filter_options
    @snp_filter_options
    @out_option()
    def shared(**kw: object) -> None:
        pass

    return {p.name or "": describe_option(p) for p in shared.params if p.name != "help"}


SHARED_USERS = [
    pytest.param(
        ("reml",),
        {"pheno", "mpheno", "pheno_name", "all_pheno", "covar", "qcovar", "keep", "remove", "out"},
        id="reml",
    ),
    pytest.param(
        ("mcem",),
        {"bfile", "pheno", "mpheno", "pheno_name", "covar", "keep", "remove"}
        | {"extract", "exclude", "maf", "geno", "out"},
        id="mcem",
    ),
    pytest.param(
        ("simulate",),
        {"bfile", "keep", "remove", "extract", "exclude", "maf", "geno"},
        id="simulate",
    ),
    pytest.param(
        ("plot", "profile"),
        {"pheno", "mpheno", "pheno_name", "all_pheno", "covar", "qcovar", "keep", "remove"},
        id="plot profile",
    ),
]


@pytest.mark.parametrize(("path", "expected"), SHARED_USERS)
def test_shared_options__same_definition_everywhere(
    path: tuple[str, ...], expected: set[str]
) -> None:
    """These commands take exactly the shared decorators' definitions of these options."""
    shared = shared_definitions()
    theirs = {p.name: describe_option(p) for p in command_of(path).params if p.name in expected}
    assert set(theirs) == expected
    for name, description in theirs.items():
        assert description == shared[name], (path, name)


@pytest.mark.parametrize("name", GROUPED)
def test_help__commands_are_herit_commands_with_examples(name: str) -> None:
    command = cli.commands[name]
    commands = [(f"herit {name}", command)]
    if isinstance(command, click.Group):
        assert isinstance(command, HeritGroup)
        commands.extend((f"herit {name} {sub}", c) for sub, c in command.commands.items())
    for invocation, item in commands:
        assert isinstance(item, HeritCommand | HeritGroup), invocation
        assert item.examples, invocation
        for description, example in item.examples:
            assert description.strip() and not description.startswith("#")
            assert f"{invocation} " in example, example
        # The examples are printed once, after the options, not also in the description.
        text = item.get_help(click.Context(item, info_name=item.name))
        assert text.count(item.examples[0][1].splitlines()[0]) == 1


def test_run__no_arguments_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Usage: herit [OPTIONS] COMMAND")
    assert "The chain:" in out and "Commands:" in out and "Exit codes:" in out
    assert err == ""
    # A group without a subcommand does the same; a real usage error is still one line.
    assert run(["plot"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Usage: herit plot [OPTIONS] COMMAND") and err == ""
    assert run(["reml", "--pheno", "y.txt"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("herit: error: Missing option '--grm'") and err.count("\n") == 1


def test_main__no_arguments_exit_code_zero() -> None:
    """The console script itself: help on stdout, exit code 0."""
    done = subprocess.run(
        [sys.executable, "-m", "heritcli.cli.main"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: herit") and done.stderr == ""
