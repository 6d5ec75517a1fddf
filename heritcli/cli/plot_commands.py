"""``plot profile``, ``plot grm``, ``plot mcem``: thin adapters over :mod:`heritcli.plot`.

matplotlib is imported only when a figure is drawn (``herit[plot]`` extra); without it the
command stops with one line naming the extra to install (exit code 2).
"""

from __future__ import annotations

from typing import Any

import click

from heritcli.cli.common import (
    covariate_options,
    phenotype_options,
    run_logged,
    sample_filter_options,
    verbosity_options,
)
from heritcli.cli.help import HeritCommand, HeritGroup


def _out_option(func: Any) -> Any:
    return click.option(
        "--out",
        required=True,
        type=click.Path(),
        metavar="FILE",
        help="The figure: FILE.png, FILE.svg or FILE.pdf (the extension sets the format).",
    )(func)


def _dpi_option(func: Any) -> Any:
    return click.option(
        "--dpi",
        type=click.IntRange(min=20, max=1200),
        default=150,
        show_default=True,
        metavar="N",
        help="Resolution of a PNG.",
    )(func)


@click.group(
    "plot",
    cls=HeritGroup,
    help="""Draw figures from herit's artifacts and results (needs the herit[plot] extra).

\b
Figures are PNG, SVG or PDF, chosen by the extension of --out.  Without
matplotlib: exit code 2 and the line to install it (pip install 'herit[plot]').
""",
    short_help="Draw the profile likelihood, GRM/PCs or MCEM traces (PNG/SVG).",
    examples=[
        (
            "The profile likelihood of CD8 after the README's main job",
            "herit plot profile --grm herit-example/mice.h5 --pheno example_data/example.pheno \\\n"
            "    --mpheno 1 --covar herit-example/mice.pcs.txt --out cd8_profile.png",
        ),
    ],
)
def plot_group() -> None:
    pass


@plot_group.command(
    "profile",
    cls=HeritCommand,
    help="""Draw the profile log-likelihood of h2 with the estimate and its 95% interval.

\b
Fits REML exactly as 'herit reml' does with the same options (same samples,
covariates and cached decompositions), then evaluates the log-likelihood
with beta and Vp profiled out on a grid of h2.  The 95% interval is where the
curve lies within chi2_1(0.95)/2 = 1.92 of its maximum; one panel per
phenotype.
""",
    short_help="Profile log-likelihood of h2 with its 95% interval.",
    examples=[
        (
            "CD8 and MCH of the example, PCs as covariates",
            "herit plot profile --grm mice.h5 --pheno example_data/example.pheno --all-pheno \\\n"
            "    --covar mice.pcs.txt --out profile.png",
        ),
    ],
)
@click.option(
    "--grm", required=True, type=click.Path(), metavar="GRM.h5", help="GRM artifact (make-grm)."
)
@phenotype_options(all_pheno=True)
@covariate_options()
@sample_filter_options
@click.option(
    "--method",
    type=click.Choice(["reml", "ml"]),
    default="reml",
    show_default=True,
    help="Restricted or full maximum likelihood.",
)
@click.option(
    "--no-constrain", is_flag=True, help="Let h2 leave [0, 1], like GCTA's --reml-no-constrain."
)
@click.option(
    "--points",
    type=click.IntRange(min=3, max=100_000),
    default=201,
    show_default=True,
    metavar="N",
    help="Grid points of the curve.",
)
@_out_option
@_dpi_option
@verbosity_options
@click.pass_context
def plot_profile_command(ctx: click.Context, **kw: Any) -> None:
    from heritcli.cli.reml_commands import reml_options
    from heritcli.plot import plot_profile

    options = reml_options(kw)
    with run_logged(ctx, None, quiet=kw["quiet"], verbose=kw["verbose"]) as rep:
        result = plot_profile(options, kw["out"], points=kw["points"], dpi=kw["dpi"], reporter=rep)
        for name, numbers in result.summary.items():
            lo, hi = numbers["h2_ci"]
            rep.info(f"{name}: h2 = {numbers['h2']:.4f}, 95% CI [{lo:.4f}, {hi:.4f}]")
        rep.info(f"wrote {result.path}")


@plot_group.command(
    "grm",
    cls=HeritCommand,
    help="""Draw a GRM's off-diagonal histogram and, with --pcs, its first principal components.

\b
The histogram (log counts) shows the relatedness in the sample: a bulk near
zero, and a tail of relatives or a spread from population structure.  With
--pcs (P.pcs.txt of 'herit eigen --pcs K'), PC1 against PC2 and PC3 against
PC4, coloured by --labels (FID IID ... LABEL; a FID header names the columns).
""",
    short_help="GRM off-diagonal histogram and PCs coloured by labels.",
    examples=[
        (
            "HapMap 3 populations",
            "herit make-grm --bfile hm3 --out hm3 && herit eigen --grm hm3.h5 --pcs 4\n"
            "herit plot grm --grm hm3.h5 --pcs hm3.pcs.txt --labels populations.txt \\\n"
            "    --label-column population --out hm3_pcs.png",
        ),
    ],
)
@click.option(
    "--grm", required=True, type=click.Path(), metavar="GRM.h5", help="GRM artifact (make-grm)."
)
@click.option(
    "--pcs",
    "pcs_file",
    type=click.Path(),
    default=None,
    metavar="FILE",
    help="Principal components: FID IID PC1 PC2 ... (herit eigen --pcs).",
)
@click.option(
    "--labels",
    type=click.Path(),
    default=None,
    metavar="FILE",
    help="Labels colouring the PCs: FID IID ... LABEL (header optional).",
)
@click.option(
    "--label-column",
    default=None,
    metavar="NAME",
    help="Column of --labels to use: a header name or a number after IID [default: the last].",
)
@click.option(
    "--bins",
    type=click.IntRange(min=2, max=10_000),
    default=120,
    show_default=True,
    metavar="N",
    help="Histogram bins.",
)
@_out_option
@_dpi_option
@verbosity_options
@click.pass_context
def plot_grm_command(ctx: click.Context, **kw: Any) -> None:
    from heritcli.plot import plot_grm

    with run_logged(ctx, None, quiet=kw["quiet"], verbose=kw["verbose"]) as rep:
        result = plot_grm(
            kw["grm"],
            kw["out"],
            pcs=kw["pcs_file"],
            labels=kw["labels"],
            label_column=kw["label_column"],
            bins=kw["bins"],
            dpi=kw["dpi"],
            reporter=rep,
        )
        rep.info(f"wrote {result.path} ({', '.join(result.panels)})")


@plot_group.command(
    "mcem",
    cls=HeritCommand,
    help="""Draw the trace of h2 and pi*M of every chain of 'herit mcem'.

\b
Reads P.mcem.trace.tsv; when P.mcem.json is beside it, the final estimates
and the REML starting value are drawn as horizontal lines.  The burn-in is
shaded.  Chains that end on the same line have converged to the same answer.
""",
    short_help="Trace of h2 and pi*M per MCEM chain.",
    examples=[
        (
            "After herit mcem ... --out cd8",
            "herit plot mcem --trace cd8.mcem.trace.tsv --out cd8_trace.svg",
        ),
    ],
)
@click.option(
    "--trace",
    required=True,
    type=click.Path(),
    metavar="FILE",
    help="P.mcem.trace.tsv written by herit mcem.",
)
@_out_option
@_dpi_option
@verbosity_options
@click.pass_context
def plot_mcem_command(ctx: click.Context, **kw: Any) -> None:
    from heritcli.plot import plot_mcem

    with run_logged(ctx, None, quiet=kw["quiet"], verbose=kw["verbose"]) as rep:
        result = plot_mcem(kw["trace"], kw["out"], dpi=kw["dpi"], reporter=rep)
        rep.info(f"wrote {result.path}")


COMMANDS = [plot_group]
