"""``simulate``: a thin adapter over :func:`heritcli.simulate_run.simulate`."""

from __future__ import annotations

import json
from typing import Any

import click

from heritcli.cli.common import (
    bfile_option,
    log_path_for,
    out_option,
    run_logged,
    sample_filter_options,
    snp_filter_options,
    verbosity_options,
)
from heritcli.cli.help import HeritCommand

EFFECT_DISTRIBUTIONS = ("normal", "laplace", "equal")  # heritcli.core.simulate, kept import-free


@click.command(
    "simulate",
    cls=HeritCommand,
    help="""Simulate phenotypes with a known SNP-heritability from real genotypes.

\b
GCTA's --simu-qt / --simu-cc model with make-grm's standardization:
y = g + e, g_i = sum_j z_ij b_j over the causal SNPs, z = (x - 2p)/sqrt(2p(1-p))
(missing z = 0), effects scaled so that var(g) = h2 in the sample,
e ~ N(0, var(g)(1 - h2)/h2).  With --prevalence K, a case-control trait:
1 (case) when g + e > Phi^-1(1 - K), else 0 (control).  Only the genotypes of
the causal SNPs are read.

\b
Causal SNPs: --causal K per replicate (uniform among the SNPs that pass the
filters), --pi X (each SNP with probability X), or --causal-list FILE;
by default every SNP that passes the filters (the model reml fits).  Each
replicate draws new causal SNPs, effects and residuals (--same-causal keeps
those of the first, as GCTA does).

\b
Writes P.pheno (FID IID y1 ... yR, with a header), P.truth.json (causal SNPs,
effects per standardized genotype and per copy of A1, realised h2 of each
replicate) and P.log.
""",
    short_help="Simulate phenotypes with a known h2 from real genotypes.",
    option_groups={"seed": "Simulation", "prevalence": "Simulation"},
    examples=[
        (
            "10 replicates with h2 = 0.5 and 500 causal SNPs, then estimate them",
            "herit simulate --bfile example_data/example --h2 0.5 --causal 500 \\\n"
            "    --n-reps 10 --seed 1 --out sim\n"
            "herit reml --grm mice.h5 --pheno sim.pheno --all-pheno --out sim",
        ),
        (
            "A disease with prevalence 5% and a sparse architecture",
            "herit simulate --bfile data --h2 0.3 --pi 0.001 --prevalence 0.05 --out cc",
        ),
        (
            "GCTA-style: effects given in a file, 100 replicates differing by their residuals",
            "herit simulate --bfile data --h2 0.2 --causal-list causal.snplist \\\n"
            "    --n-reps 100 --same-causal --out power",
        ),
    ],
)
@bfile_option
@click.option(
    "--h2",
    required=True,
    type=click.FloatRange(0.0, 1.0),
    metavar="X",
    help="Target heritability: var(g) = X in the sample.",
)
@click.option(
    "--causal",
    type=click.IntRange(min=1),
    default=None,
    metavar="K",
    help="Number of causal SNPs per replicate [default: every SNP].",
)
@click.option(
    "--pi",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=None,
    metavar="X",
    help="Instead of --causal: each SNP is causal with probability X.",
)
@click.option(
    "--causal-list",
    type=click.Path(),
    default=None,
    metavar="FILE",
    help="Instead of --causal: SNP IDs, optionally with an effect column (GCTA's "
    "--simu-causal-loci); effects are relative, scaled together to the target h2.",
)
@click.option(
    "--effect-dist",
    type=click.Choice(EFFECT_DISTRIBUTIONS),
    default="normal",
    show_default=True,
    metavar="DIST",
    help="Distribution of the raw effects: normal (as GCTA), laplace (heavier tails) or "
    "equal (same size, random sign).",
)
@click.option(
    "--prevalence",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=None,
    metavar="K",
    help="Simulate a 0/1 case-control trait (1 = case) by a liability threshold at prevalence K.",
)
@click.option(
    "--n-reps",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="R",
    help="Number of replicates (columns y1 ... yR).",
)
@click.option(
    "--same-causal",
    is_flag=True,
    help="Use the causal SNPs and effects of the first replicate for all (GCTA's --simu-rep).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    metavar="S",
    help="Random seed: the same seed gives the same phenotypes.",
)
@sample_filter_options
@snp_filter_options
@click.option(
    "--chr", "chromosomes", metavar="LIST", default=None, help="Chromosomes to use, e.g. 1-5,7,X."
)
@click.option("--autosome", is_flag=True, help="Use chromosomes 1-22 only.")
@out_option("herit", "Output prefix: P.pheno, P.truth.json, P.log.")
@click.option("--json", "as_json", is_flag=True, help="Print P.truth.json on stdout too.")
@verbosity_options
@click.pass_context
def simulate_command(ctx: click.Context, **kw: Any) -> None:
    from heritcli.grm_build import parse_chrom_list
    from heritcli.simulate_run import SimulateOptions, run_simulation

    options = SimulateOptions(
        bfile=kw["bfile"],
        h2=kw["h2"],
        causal=kw["causal"],
        pi=kw["pi"],
        causal_list=kw["causal_list"],
        effect_dist=kw["effect_dist"],
        prevalence=kw["prevalence"],
        n_reps=kw["n_reps"],
        seed=kw["seed"],
        same_causal=kw["same_causal"],
        keep=kw["keep"],
        remove=kw["remove"],
        extract=kw["extract"],
        exclude=kw["exclude"],
        maf=kw["maf"],
        geno=kw["geno"],
        chromosomes=parse_chrom_list(kw["chromosomes"]) if kw["chromosomes"] else None,
        autosome=kw["autosome"],
    )
    options.validate()
    prefix = kw["out"]
    with run_logged(ctx, log_path_for(prefix), quiet=kw["quiet"], verbose=kw["verbose"]) as rep:
        result = run_simulation(
            options,
            out=prefix,
            reporter=rep,
            command=rep.command,  # type: ignore[attr-defined]
        )
        rep.info(f"wrote {', '.join(result.paths)} in {result.seconds:.1f} s")
        if kw["as_json"]:
            click.echo(json.dumps(result.to_dict(), indent=1))


COMMANDS = [simulate_command]
