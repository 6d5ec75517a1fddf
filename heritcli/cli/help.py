"""Help pages with grouped options and worked examples.

click lists every option under one "Options" heading.  :class:`HeritCommand` prints them under
headings instead (Input, Samples and SNPs, Model, Output, Performance, Other), taken from the
central :data:`OPTION_GROUPS` mapping of parameter names (a command can override entries with
``option_groups=``), and prints worked examples, given as ``examples=``, after the options.

Options named in :data:`PATH_OPTIONS` that were declared as plain text get a
:class:`click.Path` type, so that shell completion offers file names for them (the value is
passed on unchanged; existence is checked by the library, which reports a missing input with
exit code 3 rather than click's usage error).

Shell completion uses click's machinery (``_HERIT_COMPLETE=bash_source herit`` and so on; the
scripts are in ``completions/``).  For fish, herit registers its own :class:`FishCompletion`:
the fish script and response format of click 8.4.0 do not work together (the script's
``string split \\n`` is written with a real line break, and fish's command substitution splits
each three-line response apart), so herit uses a one-line ``type,value<TAB>help`` response
and a script that reads it, whatever the click version.

Examples
--------
>>> import click
>>> @click.command(cls=HeritCommand, examples=[("Fit CD8", "herit fit --pheno y.txt --seed 3")])
... @click.option("--pheno", metavar="FILE", help="Phenotype file.")
... @click.option("--seed", type=int, default=1, help="Random seed.")
... def fit(pheno, seed):
...     "Fit a model."
>>> print(fit.get_help(click.Context(fit, info_name="fit")))
Usage: fit [OPTIONS]
<BLANKLINE>
  Fit a model.
<BLANKLINE>
Input:
  --pheno FILE  Phenotype file.
<BLANKLINE>
Model:
  --seed INTEGER  Random seed.
<BLANKLINE>
Other:
  --help  Show this message and exit.
<BLANKLINE>
Examples:
  # Fit CD8
  herit fit --pheno y.txt --seed 3
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from click.shell_completion import CompletionItem, FishComplete, add_completion_class

#: Headings, in the order they are printed.
GROUP_ORDER: tuple[str, ...] = (
    "Input",
    "Samples and SNPs",
    "Model",
    "Simulation",
    "Plot",
    "Output",
    "Cluster and memory",
    "Performance",
    "Other",
)

#: Parameter name (as click stores it) -> heading.  Parameters not listed go under "Other".
OPTION_GROUPS: dict[str, str] = {
    # Input
    "bfile": "Input",
    "grm": "Input",
    "pheno": "Input",
    "mpheno": "Input",
    "pheno_name": "Input",
    "all_pheno": "Input",
    "covar": "Input",
    "qcovar": "Input",
    "eigen": "Input",
    "pcs_file": "Input",
    "labels": "Input",
    "label_column": "Input",
    "trace": "Input",
    # Samples and SNPs
    "keep": "Samples and SNPs",
    "remove": "Samples and SNPs",
    "extract": "Samples and SNPs",
    "exclude": "Samples and SNPs",
    "maf": "Samples and SNPs",
    "max_maf": "Samples and SNPs",
    "geno": "Samples and SNPs",
    "chromosomes": "Samples and SNPs",
    "autosome": "Samples and SNPs",
    # Model
    "method": "Model",
    "no_constrain": "Model",
    "prevalence": "Model",
    "chains": "Model",
    "iterations": "Model",
    "burn_in": "Model",
    "seed": "Model",
    "pi_start": "Model",
    "allow_no_converge": "Model",
    # Simulation
    "h2": "Simulation",
    "causal": "Simulation",
    "pi": "Simulation",
    "causal_list": "Simulation",
    "effect_dist": "Simulation",
    "n_reps": "Simulation",
    "same_causal": "Simulation",
    # Plot
    "points": "Plot",
    "bins": "Plot",
    "dpi": "Plot",
    # Output
    "out": "Output",
    "as_json": "Output",
    "json": "Output",
    "dtype": "Output",
    "pcs": "Output",
    "no_cache": "Output",
    # Cluster and memory (make-grm in parts, on dask, within a budget)
    "part": "Cluster and memory",
    "scheduler": "Cluster and memory",
    "memory": "Cluster and memory",
    "force": "Cluster and memory",
    "freq": "Samples and SNPs",
    "mgrm": "Input",
    # Performance
    "threads": "Performance",
    "block_snps": "Performance",
    # Other
    "quiet": "Other",
    "verbose": "Other",
    "help": "Other",
}

#: Options whose values are file paths or path prefixes (completed as paths by the shells).
PATH_OPTIONS: frozenset[str] = frozenset(
    {
        "bfile",
        "grm",
        "pheno",
        "covar",
        "qcovar",
        "keep",
        "remove",
        "extract",
        "exclude",
        "eigen",
        "out",
        "causal_list",
        "pcs_file",
        "labels",
        "trace",
    }
)


def use_path_types(params: Sequence[click.Parameter]) -> None:
    """Give the plain-text options of :data:`PATH_OPTIONS` a :class:`click.Path` type."""
    for param in params:
        if (
            isinstance(param, click.Option)
            and param.name in PATH_OPTIONS
            and isinstance(param.type, click.types.StringParamType)
        ):
            param.type = click.Path()


class HeritCommand(click.Command):
    """A click command whose help groups its options under headings and ends with examples.

    Parameters
    ----------
    examples : sequence of (description, command), optional
        Worked examples, printed after the options.
    option_groups : dict, optional
        Parameter name -> heading, overriding :data:`OPTION_GROUPS` for this command.
    **kwargs
        Passed to :class:`click.Command`.
    """

    def __init__(
        self,
        *args: Any,
        examples: Sequence[tuple[str, str]] = (),
        option_groups: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.examples = tuple(examples)
        self.option_groups = dict(option_groups or {})
        use_path_types(self.params)

    def group_of(self, param: click.Parameter) -> str:
        """The heading ``param`` is listed under."""
        name = param.name or ""
        return self.option_groups.get(name) or OPTION_GROUPS.get(name, "Other")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_grouped_options(self, ctx, formatter)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_examples(self.examples, formatter)
        super().format_epilog(ctx, formatter)


class HeritGroup(click.Group):
    """A click group with the same grouped options and examples as :class:`HeritCommand`."""

    def __init__(
        self,
        *args: Any,
        examples: Sequence[tuple[str, str]] = (),
        option_groups: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.examples = tuple(examples)
        self.option_groups = dict(option_groups or {})

    def group_of(self, param: click.Parameter) -> str:
        name = param.name or ""
        return self.option_groups.get(name) or OPTION_GROUPS.get(name, "Other")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_grouped_options(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        format_examples(self.examples, formatter)
        super().format_epilog(ctx, formatter)


def format_grouped_options(
    command: HeritCommand | HeritGroup, ctx: click.Context, formatter: click.HelpFormatter
) -> None:
    """Write the options of ``command`` under their headings, in :data:`GROUP_ORDER`."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        groups.setdefault(command.group_of(param), []).append(record)
    order = [g for g in GROUP_ORDER if g in groups] + sorted(set(groups) - set(GROUP_ORDER))
    for heading in order:
        with formatter.section(heading):
            formatter.write_dl(groups[heading])


def format_examples(examples: Sequence[tuple[str, str]], formatter: click.HelpFormatter) -> None:
    """Write worked examples verbatim (click would rewrap them): a comment, then the command."""
    if not examples:
        return
    with formatter.section("Examples"):
        indent = " " * formatter.current_indent
        for k, (description, command) in enumerate(examples):
            if k:
                formatter.write("\n")
            formatter.write(f"{indent}# {description}\n")
            for line in command.splitlines():
                formatter.write(f"{indent}{line}\n")


#: herit's fish script: one response line per candidate, ``type,value`` then a tab and the help.
FISH_SOURCE = """\
function %(complete_func)s;
    set -l lines (env %(complete_var)s=fish_complete COMP_WORDS=(commandline -cp) \
COMP_CWORD=(commandline -t) %(prog_name)s);
    for line in $lines;
        set -l parts (string split --max 1 ',' -- $line);
        switch $parts[1];
            case plain;
                printf '%%s\\n' $parts[2];
            case file;
                __fish_complete_path $parts[2];
            case dir;
                __fish_complete_directories $parts[2];
        end;
    end;
end;

complete --no-files --command %(prog_name)s --arguments "(%(complete_func)s)";
"""


class FishCompletion(FishComplete):
    """Fish completion with a one-line response per candidate (see the module docstring)."""

    name = "fish"
    source_template = FISH_SOURCE

    def format_completion(self, item: CompletionItem) -> str:
        value = " ".join(str(item.value).split("\n"))
        if item.type != "plain" or not item.help:
            return f"{item.type},{value}"
        summary = " ".join(str(item.help).split())
        return f"{item.type},{value}\t{summary}"


add_completion_class(FishCompletion)


__all__ = [
    "FISH_SOURCE",
    "GROUP_ORDER",
    "OPTION_GROUPS",
    "PATH_OPTIONS",
    "FishCompletion",
    "HeritCommand",
    "HeritGroup",
    "format_examples",
    "format_grouped_options",
    "use_path_types",
]
