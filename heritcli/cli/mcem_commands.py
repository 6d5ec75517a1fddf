"""``mcem``: a thin adapter over :func:`heritcli.mcem_run.fit_mcem`."""

from __future__ import annotations

import json
from typing import Any

import click

from heritcli.cli.common import (
    bfile_option,
    covariate_options,
    log_path_for,
    out_option,
    phenotype_options,
    run_logged,
    sample_filter_options,
    snp_filter_options,
    threads_option,
    verbosity_options,
)
from heritcli.cli.help import HeritCommand
from heritcli.errors import EXIT_CODES

EPILOG = "\b\nExit codes:\n" + "\n".join(
    f"  {code:<4} {EXIT_CODES[code]}" for code in (0, 1, 2, 3, 4, 5, 7, 130)
)


@click.command(
    "mcem",
    cls=HeritCommand,
    help="""Estimate h2 and the causal fraction pi with a spike-and-slab model (SAEM).

\b
Model (Golan & Rosset 2011): y = Xb + Z beta + e, e ~ N(0, V(e) I),
beta_j ~ (1 - pi) delta_0 + pi N(0, V(G)/(M pi)), Z the standardized genotypes
of make-grm (M SNPs).  h2 = V(G)/(V(G) + V(e)) is REML's V(G)/Vp when every
SNP is in the slab; pi*M small says a few loci carry the heritability.

\b
Fitted by maximum likelihood with stochastic-approximation EM: one collapsed
Gibbs sweep over the SNPs per iteration, 4 chains started at pi = 0.001, 0.01,
0.1 and 0.5 and at the REML estimates of V(G) and V(e) on the GRM of the same
genotypes, an accelerated pi during the burn-in, chains compared by their
log-likelihood (path sampling).  Converged when the Gelman-Rubin R-hat of h2
and pi is below 1.1, or the chains agree in h2 and their log-likelihoods lie
within 1.92 of each other (pi then weakly identified); otherwise exit code 5.
Standard errors from the observed information (differences of Fisher's score).

\b
Writes P.mcem.json (estimates, SEs, realised h2, REML starting values, R-hat,
every chain), P.mcem.trace.tsv (every iteration of every chain),
P.mcem.pip.tsv (per SNP: inclusion probability PIP and posterior mean effect
BETA per standardized genotype, BETA_A1 per copy of A1), P.log, and
P.dropped.tsv when samples were left out.
""",
    short_help="Estimate h2 and the causal fraction pi with a spike-and-slab model.",
    examples=[
        (
            "CD8 in the HS mice (about 8 s on 2 cores)",
            "herit mcem --bfile example_data/example --pheno example_data/example.pheno \\\n"
            "    --mpheno 1 --out cd8",
        ),
        (
            "PCs as covariates, SNPs with MAF >= 1% only, a longer run",
            "herit mcem --bfile data --pheno y.txt --covar data.pcs.txt --maf 0.01 \\\n"
            "    --iterations 3000 --burn-in 400 --out y",
        ),
    ],
    epilog=EPILOG,
)
@bfile_option
@phenotype_options()
@covariate_options(qcovar=False)
@sample_filter_options
@snp_filter_options
@click.option(
    "--chains",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    metavar="C",
    help="Number of chains (dispersed starts of pi).",
)
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=1500,
    show_default=True,
    metavar="N",
    help="Iteration cap per chain, burn-in included (one sweep per iteration).",
)
@click.option(
    "--burn-in",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    metavar="N",
    help="Burn-in iterations per chain (step size 1, accelerated pi).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    metavar="S",
    help="Random seed: the same seed gives the same output whatever --threads.",
)
@click.option(
    "--pi-start",
    type=float,
    default=None,
    metavar="X",
    help="Start every chain at pi = X instead of the dispersed default starts.",
)
@click.option(
    "--allow-no-converge",
    is_flag=True,
    help="Write the results even when the chains did not converge (exit code 0).",
)
@out_option()
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@threads_option
@verbosity_options
@click.pass_context
def mcem_command(ctx: click.Context, **kw: Any) -> None:
    from heritcli.mcem_run import McemOptions, fit_mcem

    options = McemOptions(
        bfile=kw["bfile"],
        pheno=kw["pheno"],
        mpheno=kw["mpheno"],
        pheno_name=kw["pheno_name"],
        covar=kw["covar"],
        keep=kw["keep"],
        remove=kw["remove"],
        extract=kw["extract"],
        exclude=kw["exclude"],
        maf=kw["maf"],
        geno=kw["geno"],
        chains=kw["chains"],
        iterations=kw["iterations"],
        burn_in=kw["burn_in"],
        seed=kw["seed"],
        pi_start=kw["pi_start"],
        threads=kw["threads"],
        allow_no_converge=kw["allow_no_converge"],
    )
    options.validate()
    prefix = kw["out"]
    with run_logged(ctx, log_path_for(prefix), quiet=kw["quiet"], verbose=kw["verbose"]) as rep:
        report = fit_mcem(options, reporter=rep)
        paths = write_mcem_outputs(report, prefix, rep.command)  # type: ignore[attr-defined]
        by_reason: dict[str, list[str]] = {}
        for key, reason in report.not_estimable().items():
            by_reason.setdefault(reason, []).append(key)
        for reason, keys in by_reason.items():
            rep.warning(f"{report.phenotype}: not estimable: {', '.join(keys)}: {reason}")
        rep.info(f"wrote {', '.join(paths)} in {report.seconds:.1f} s")
        if kw["as_json"]:
            click.echo(json.dumps(report.to_dict(), indent=2))
        elif not kw["quiet"]:
            rep.result(result_table(report))


def write_mcem_outputs(report: Any, prefix: str, command: str) -> list[str]:
    """Write ``P.mcem.json``, ``P.mcem.trace.tsv``, ``P.mcem.pip.tsv`` (and dropped IDs).

    Every file goes through a temporary file, and nothing is renamed until all of them are
    complete and flushed (:func:`heritcli.io.atomic.atomic_files`), so a failure or an
    interrupt leaves the previous outputs or none.
    """
    from heritcli.io.atomic import write_texts_atomically
    from heritcli.mcem_run import format_trace

    document = report.to_dict()
    document["command"] = command
    texts = {
        f"{prefix}.mcem.json": json.dumps(document, indent=2) + "\n",
        f"{prefix}.mcem.trace.tsv": format_trace(report.fit),
        f"{prefix}.mcem.pip.tsv": "\n".join(report.pip_rows()) + "\n",
    }
    if report.dropped:
        texts[f"{prefix}.dropped.tsv"] = "#FID\tIID\treason\n" + "".join(
            f"{fid}\t{iid}\t{why}\n" for fid, iid, why in report.dropped
        )
    return write_texts_atomically(texts)


def result_table(report: Any) -> Any:
    """A rich table: the estimates next to the REML starting values."""
    import math

    from rich.table import Table

    fit = report.fit

    def num(value: float | None, digits: int = 3) -> str:
        if value is None or not math.isfinite(value):
            return "not estimable"
        return f"{value:.{digits}f}"

    status = "converged" if fit.converged else "NOT converged"
    table = Table(title=f"Spike-and-slab heritability (SAEM, {len(fit.chains)} chains, {status})")
    for column in (
        "phenotype",
        "n",
        "M",
        "h2 (SE)",
        "pi*M (SE)",
        "realised h2",
        "R-hat h2, pi",
        "REML h2 (SE)",
    ):
        table.add_column(column, justify="left" if column == "phenotype" else "right")
    m = report.n_snps
    pi_se = fit.pi_se * m if math.isfinite(fit.pi_se) else float("nan")
    table.add_row(
        report.phenotype,
        str(report.n_samples),
        str(m),
        f"{num(fit.params.h2)} ({num(fit.h2_se)})",
        f"{fit.params.pi * m:.3g} ({num(pi_se, 1)})",
        f"{num(fit.h2_realised)} ± {num(fit.h2_realised_sd)}",
        f"{num(fit.rhat_h2, 2)}, {num(fit.rhat_pi, 2)}",
        f"{num(report.reml.h2)} ({num(report.reml.h2_se)})",
    )
    return table


COMMANDS = [mcem_command]
