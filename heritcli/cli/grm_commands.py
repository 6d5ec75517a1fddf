"""``make-grm``, ``export-grm``, ``import-grm`` and ``inspect``: thin adapters over the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from heritcli.cli.common import log_path_for, run_logged, threads_option, verbosity_options


@click.command(
    "make-grm",
    help="""Build the standardized GRM of a PLINK fileset, streaming the .bed in SNP blocks.

\b
Writes OUT.h5 (the full n x n matrix, sample IDs, a per-SNP table of what was
used and why not, provenance) and OUT.log.  Entry (j,k) is sum_i z_ij z_ik / N_jk
with z = (x - 2p)/sqrt(2p(1-p)), missing z = 0, N_jk the SNPs non-missing in
both samples: what plink1.9 --make-grm-bin and GCTA --make-grm compute.
Monomorphic SNPs are dropped.

\b
Example:
  herit make-grm --bfile example_data/example --maf 0.01 --out mice
""",
)
@click.option("--bfile", required=True, metavar="PREFIX", help="PLINK .bed/.bim/.fam prefix.")
@click.option(
    "--out",
    metavar="OUT",
    default=None,
    help="Output prefix: writes OUT.h5 and OUT.log [default: the basename of PREFIX, here].",
)
@click.option(
    "--maf",
    type=float,
    default=0.0,
    show_default=True,
    help="Drop SNPs with minor allele frequency below X.",
)
@click.option(
    "--max-maf", type=float, default=0.5, show_default=True, help="Drop SNPs with MAF above X."
)
@click.option(
    "--geno",
    type=float,
    default=None,
    metavar="X",
    help="Drop SNPs with missing call rate above X.",
)
@click.option(
    "--keep", metavar="FILE", default=None, help="Keep only the samples listed (FID IID)."
)
@click.option("--remove", metavar="FILE", default=None, help="Remove the samples listed (FID IID).")
@click.option("--extract", metavar="FILE", default=None, help="Use only the SNP IDs listed.")
@click.option("--exclude", metavar="FILE", default=None, help="Do not use the SNP IDs listed.")
@click.option(
    "--chr", "chromosomes", metavar="LIST", default=None, help="Chromosomes to use, e.g. 1-5,7,X."
)
@click.option("--autosome", is_flag=True, help="Use chromosomes 1-22 only.")
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float64"]),
    default="float32",
    show_default=True,
    help="Precision of the stored GRM (sums are always accumulated in float64).",
)
@click.option(
    "--block-snps",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="SNPs per streamed block [default: about 96 MiB of genotypes].",
)
@threads_option
@verbosity_options
@click.pass_context
def make_grm_command(ctx: click.Context, **kw: Any) -> None:
    from heritcli import api
    from heritcli.grm_build import MakeGrmOptions, format_bytes, parse_chrom_list

    chromosomes = parse_chrom_list(kw["chromosomes"]) if kw["chromosomes"] else None
    options = MakeGrmOptions(
        bfile=kw["bfile"],
        out=kw["out"],
        maf=kw["maf"],
        max_maf=kw["max_maf"],
        geno=kw["geno"],
        keep=kw["keep"],
        remove=kw["remove"],
        extract=kw["extract"],
        exclude=kw["exclude"],
        chromosomes=chromosomes,
        autosome=kw["autosome"],
        dtype=kw["dtype"],
        block_snps=kw["block_snps"],
        threads=kw["threads"],
    )
    options.validate()
    target = options.output_path()
    with run_logged(ctx, log_path_for(target), quiet=kw["quiet"], verbose=kw["verbose"]) as rep:
        from heritcli.threads import describe_blas

        rep.detail(f"BLAS: {describe_blas()}")
        result = api.make_grm(
            options.bfile,
            out=str(target),
            reporter=rep,
            command=rep.command,  # type: ignore[attr-defined]
            **{k: v for k, v in vars(options).items() if k not in ("bfile", "out")},
        )
        dropped = ", ".join(f"{c} {why}" for why, c in result.snps_dropped.items()) or "none"
        rep.info(
            f"used {result.n_snps_used} of {result.n_snps_in_bim} variants (dropped: {dropped})"
        )
        rep.info(
            f"GRM of {result.n_samples} samples: mean diagonal {result.diag_mean:.6f}, "
            f"off-diagonal mean {result.offdiag_mean:.3g}, variance {result.offdiag_var:.3g}"
            + ("; pairwise SNP counts stored (missing genotypes)" if result.any_missing else "")
        )
        for step, seconds in result.timings.items():
            rep.detail(f"time {step}: {seconds:.2f} s")
        rep.info(
            f"wrote {result.path} in {result.seconds:.1f} s "
            f"(memory estimate {format_bytes(result.memory_estimate_bytes)})"
        )


@click.command(
    "export-grm",
    help="""Write an herit GRM as GCTA binary files P.grm.bin, P.grm.N.bin, P.grm.id.

\b
The files are read by GCTA (--grm P), plink and LDAK.
Example:
  herit export-grm mice.h5 --out mice
""",
)
@click.argument("grm", metavar="GRM.h5")
@click.option("--out", required=True, metavar="P", help="Output prefix of the GCTA files.")
@verbosity_options
@click.pass_context
def export_grm_command(ctx: click.Context, grm: str, out: str, quiet: bool, verbose: bool) -> None:
    from heritcli import api

    with run_logged(ctx, None, quiet=quiet, verbose=verbose) as rep:
        paths = api.export_grm(grm, out)
        rep.info("wrote " + ", ".join(str(p) for p in paths))


@click.command(
    "import-grm",
    help="""Convert a GCTA binary GRM (P.grm.bin/.grm.N.bin/.grm.id) into an herit GRM.

\b
Example:
  herit import-grm gcta_prefix --out mice
""",
)
@click.argument("prefix", metavar="P")
@click.option("--out", required=True, metavar="OUT", help="Writes OUT.h5.")
@click.option(
    "--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True
)
@verbosity_options
@click.pass_context
def import_grm_command(
    ctx: click.Context, prefix: str, out: str, dtype: str, quiet: bool, verbose: bool
) -> None:
    from heritcli import api

    with run_logged(ctx, None, quiet=quiet, verbose=verbose) as rep:
        path = api.import_grm(prefix, out, dtype=dtype, command=rep.command)  # type: ignore[attr-defined]
        rep.info(f"wrote {path}")


@click.command(
    "inspect",
    help="""Show what an herit artifact is: kind, size, summary, provenance.

\b
Example:
  herit inspect mice.h5
  herit inspect mice.h5 --json
""",
)
@click.argument("path", metavar="FILE.h5")
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
def inspect_command(path: str, as_json: bool) -> None:
    from heritcli import api

    info = api.inspect_artifact(path)
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True, default=str))
        return
    _print_info(info)


def _print_info(info: dict[str, Any]) -> None:
    from rich.table import Table

    from heritcli.cli.reporter import result_console

    table = Table(
        title=f"{Path(info['path']).name}: herit {info['kind']} artifact", show_header=False
    )
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in info.items():
        if key in ("path", "params", "inputs"):
            continue
        if isinstance(value, float):
            text = f"{value:.6g}"
        elif isinstance(value, dict):
            text = ", ".join(f"{k}: {v}" for k, v in value.items()) or "none"
        else:
            text = str(value)
        table.add_row(key, text)
    params = info.get("params") or {}
    table.add_row("params", ", ".join(f"{k}={v}" for k, v in params.items() if v is not None))
    for name, record in (info.get("inputs") or {}).items():
        table.add_row(f"input {name}", f"{record.get('path')} ({record.get('size')} bytes)")
    result_console().print(table)


COMMANDS = [make_grm_command, export_grm_command, import_grm_command, inspect_command]
