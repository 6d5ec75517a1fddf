"""``eigen`` and ``reml``: thin adapters over the eigen and REML runners."""

from __future__ import annotations

import json
from typing import Any

import click

from heritcli.cli.common import (
    covariate_options,
    log_path_for,
    out_option,
    phenotype_options,
    run_logged,
    sample_filter_options,
    threads_option,
    verbosity_options,
)
from heritcli.cli.help import HeritCommand


@click.command(
    "eigen",
    cls=HeritCommand,
    help="""Eigendecompose a GRM once and cache U and S for reml (and write PCs).

\b
Writes P.eigen.h5 (eigenvalues and eigenvectors in float64, the GRM's
fingerprint and a hash of the sample order) and P.log; with --pcs K also
P.pcs.txt (#FID IID PC1 ... PCK, usable as --covar) and P.eigenval.
""",
    short_help="Eigendecompose a GRM once for reml (and write PCs).",
    examples=[("10 PCs", "herit eigen --grm mice.h5 --pcs 10")],
)
@click.option("--grm", required=True, metavar="GRM.h5", help="GRM artifact from make-grm.")
@out_option(None, "Output prefix [default: the GRM path without .h5].")
@click.option(
    "--pcs",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="K",
    help="Also write the K leading principal components.",
)
@threads_option
@verbosity_options
@click.pass_context
def eigen_command(ctx: click.Context, **kw: Any) -> None:
    from heritcli.eigen_run import decompose, grm_prefix

    prefix = kw["out"] or grm_prefix(kw["grm"])
    with run_logged(
        ctx, log_path_for(prefix + ".eigen"), quiet=kw["quiet"], verbose=kw["verbose"]
    ) as rep:
        result = decompose(
            kw["grm"],
            out=prefix,
            pcs=kw["pcs"],
            threads=kw["threads"],
            command=rep.command,  # type: ignore[attr-defined]
            reporter=rep,
        )
        top = ", ".join(f"{v:.4g}" for v in result.leading_eigenvalues[:5])
        rep.info(f"leading eigenvalues: {top}")
        written = [result.path, result.pcs_path, result.eigenval_path]
        rep.info("wrote " + ", ".join(p for p in written if p))


@click.command(
    "reml",
    cls=HeritCommand,
    help="""Estimate SNP-heritability by REML (or ML) from a GRM and phenotypes.

\b
Model: y = Xb + g + e, g ~ N(0, V(G) K), e ~ N(0, V(e) I); reports V(G), V(e),
Vp, V(G)/Vp with standard errors, logL, logL0, the LRT against V(G) = 0,
fixed effects, and a 95% profile-likelihood interval for h2.  Uses the GRM's
cached decomposition (herit eigen) when it matches the analysed samples;
otherwise decomposes the sub-GRM once and caches it.

\b
Writes P.hsq (GCTA layout; P.<trait>.hsq with --all-pheno), P.json, P.log,
and P.dropped.tsv when samples were left out; prints a table.
""",
    short_help="Estimate SNP-heritability by REML (or ML) from a GRM.",
    examples=[
        (
            "CD8 of the example mice",
            "herit reml --grm mice.h5 --pheno example_data/example.pheno --mpheno 1 --out cd8",
        ),
        (
            "Every trait, PCs as covariates",
            "herit reml --grm mice.h5 --pheno y.txt --covar mice.pcs.txt --all-pheno --out all",
        ),
    ],
)
@click.option("--grm", required=True, metavar="GRM.h5", help="GRM artifact from make-grm.")
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
    "--no-constrain",
    is_flag=True,
    help="Let V(G) or V(e) go negative, like GCTA's --reml-no-constrain.",
)
@click.option(
    "--prevalence",
    type=float,
    default=None,
    metavar="K",
    help="Population prevalence of a 0/1 trait: also report h2 on the liability scale.",
)
@click.option(
    "--eigen",
    metavar="FILE",
    default=None,
    help="Use this decomposition (an error if it does not match) [default: find or make one].",
)
@click.option("--no-cache", is_flag=True, help="Do not save sub-GRM decompositions for reuse.")
@out_option()
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@threads_option
@verbosity_options
@click.pass_context
def reml_command(ctx: click.Context, **kw: Any) -> None:
    from heritcli.reml_run import fit_reml

    options = reml_options(
        kw,
        prevalence=kw["prevalence"],
        eigen=kw["eigen"],
        cache_eigen=not kw["no_cache"],
        threads=kw["threads"],
    )
    prefix = kw["out"]
    with run_logged(ctx, log_path_for(prefix), quiet=kw["quiet"], verbose=kw["verbose"]) as rep:
        report = fit_reml(options, reporter=rep)
        paths = write_reml_outputs(report, prefix, rep.command)  # type: ignore[attr-defined]
        for fit in report.phenotypes:
            if fit.se_not_estimable:
                rep.warning(f"{fit.name}: standard errors not estimable: {fit.se_not_estimable}")
            elif fit.fit.boundary:
                rep.warning(
                    f"{fit.name}: the estimate is at the {fit.fit.boundary} boundary of the "
                    f"parameter space (h2 = {fit.fit.h2:.4g}); its SE is not a reliable "
                    "measure of uncertainty, use the profile interval"
                )
        rep.info(f"wrote {', '.join(paths)} in {report.seconds:.2f} s")
        if kw["as_json"]:
            from heritcli.reml_run import to_plain

            click.echo(json.dumps(to_plain(report), indent=2))
        elif not kw["quiet"]:
            rep.result(result_table(report))


def reml_options(kw: dict[str, Any], **extra: Any) -> Any:
    """Validated :class:`~heritcli.reml_run.RemlOptions` from the model options of ``reml``.

    ``kw`` holds the parsed GRM, phenotype, covariate, sample and model options (as
    ``reml`` and ``plot profile`` declare them); ``extra`` sets the remaining fields.
    """
    from heritcli.reml_run import RemlOptions

    options = RemlOptions(
        grm=kw["grm"],
        pheno=kw["pheno"],
        mpheno=kw["mpheno"],
        pheno_name=kw["pheno_name"],
        all_pheno=kw["all_pheno"],
        covar=kw["covar"],
        qcovar=kw["qcovar"],
        keep=kw["keep"],
        remove=kw["remove"],
        method=kw["method"],
        constrain=not kw["no_constrain"],
        **extra,
    )
    options.validate()
    return options


def write_reml_outputs(report: Any, prefix: str, command: str) -> list[str]:
    """Write ``P.hsq`` (or one per trait), ``P.json`` and ``P.dropped.tsv``, all or none.

    Every file is written to a temporary file first; they are renamed together only when all
    are complete (see :func:`heritcli.io.atomic.atomic_files`), so a full disk or an interrupt
    never leaves ``P.hsq`` without ``P.json``.
    """
    from heritcli.io.atomic import write_texts_atomically
    from heritcli.reml_run import format_hsq, to_plain, trait_file_names

    texts: dict[str, str] = {}
    several = len(report.phenotypes) > 1
    names = trait_file_names([fit.name for fit in report.phenotypes])
    for fit, name in zip(report.phenotypes, names, strict=True):
        path = f"{prefix}.{name}.hsq" if several else f"{prefix}.hsq"
        texts[path] = format_hsq(fit)
    document = to_plain(report)
    document["command"] = command
    texts[f"{prefix}.json"] = json.dumps(document, indent=2) + "\n"
    if report.dropped:
        texts[f"{prefix}.dropped.tsv"] = "FID\tIID\tphenotype\treason\n" + "".join(
            f"{fid}\t{iid}\t{name}\t{why}\n" for fid, iid, name, why in report.dropped
        )
    return write_texts_atomically(texts)


def result_table(report: Any) -> Any:
    """A rich table: one row per phenotype."""
    from rich.table import Table

    table = Table(title=f"SNP-heritability ({report.method.upper()})")
    for column in ("phenotype", "n", "V(G)/Vp", "SE", "95% CI", "V(G)", "V(e)", "LRT", "P"):
        table.add_column(column, justify="left" if column == "phenotype" else "right")
    for fit in report.phenotypes:
        f = fit.fit
        flag = f" ({f.boundary} boundary)" if f.boundary else ""
        se = "not estimable" if f.h2_se is None else f"{f.h2_se:.4f}"
        table.add_row(
            fit.name + flag,
            str(fit.n_samples),
            f"{f.h2:.4f}",
            se,
            f"[{f.h2_ci[0]:.3f}, {f.h2_ci[1]:.3f}]",
            f"{f.vg:.4g}",
            f"{f.ve:.4g}",
            f"{f.lrt:.2f}",
            f"{f.pval:.3g}",
        )
    return table


COMMANDS = [eigen_command, reml_command]
