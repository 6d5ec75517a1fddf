"""Help pages: a description and a worked example everywhere, grouped options, the chain."""

from __future__ import annotations

import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from heritcli.cli.common import (
    covariate_options,
    phenotype_options,
    sample_filter_options,
)
from heritcli.cli.help import GROUP_ORDER, OPTION_GROUPS, HeritCommand, HeritGroup
from heritcli.cli.main import cli


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


def test_help__herit_commands_use_the_grouping() -> None:
    mine = {"simulate", "plot"}
    listing = help_text().split("Commands:")[1]
    for name in mine:
        assert isinstance(cli.commands[name], HeritCommand | HeritGroup)
        # The summary in the top-level list is a whole sentence, not cut off with "...".
        line = next(x for x in listing.splitlines() if x.strip().startswith(name + " "))
        assert line.rstrip().endswith(")") or line.rstrip().endswith(".")
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
        "assert run(['plot', 'profile', '--help']) == 0\n"
        "heavy = [m for m in ('numpy', 'scipy', 'h5py', 'matplotlib') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_shared_options__match_reml_and_mcem() -> None:
    """The shared decorators define what reml and mcem define (ready to replace theirs)."""

    @click.command()
    @phenotype_options(all_pheno=True)
    @covariate_options()
    @sample_filter_options
    def shared(**kw: object) -> None:
        pass

    def describe(param: click.Parameter) -> tuple[object, ...]:
        assert isinstance(param, click.Option)
        kind = (
            "path"
            if isinstance(param.type, click.Path | click.types.StringParamType)
            else (type(param.type).__name__)
        )
        return (param.opts, param.required, param.metavar, param.is_flag, kind, param.default)

    ours = {p.name: describe(p) for p in shared.params}
    for command in (cli.commands["reml"], cli.commands["mcem"]):
        theirs = {p.name: describe(p) for p in command.params if p.name in ours}
        assert set(theirs) >= {"pheno", "mpheno", "pheno_name", "covar", "keep", "remove"}
        for name, description in theirs.items():
            assert description == ours[name], (command.name, name)
