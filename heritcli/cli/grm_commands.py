"""``make-grm``, ``export-grm``, ``import-grm`` and ``inspect``: thin adapters over the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from heritcli.cli.common import log_path_for, run_logged, threads_option, verbosity_options
from heritcli.cli.help import HeritCommand


@click.command(
    "make-grm",
    cls=HeritCommand,
    short_help="Build the standardized GRM of a PLINK fileset (streamed .bed, HDF5 output).",
    help="""Build the standardized GRM of a PLINK fileset, streaming the .bed in SNP blocks.

\b
Writes OUT.h5 (the full n x n matrix, sample IDs, a per-SNP table of what was
used and why not, provenance) and OUT.log.  Entry (j,k) is sum_i z_ij z_ik / N_jk
with z = (x - 2p)/sqrt(2p(1-p)), missing z = 0, N_jk the SNPs non-missing in
both samples: what plink1.9 --make-grm-bin and GCTA --make-grm compute.
Monomorphic SNPs are dropped.
""",
    examples=[
        (
            "The example mice, SNPs with MAF >= 0.01",
            "herit make-grm --bfile example_data/example --maf 0.01 --out mice",
        ),
        (
            "Part 3 of 10 of a large GRM (an array job)",
            "herit make-grm --bfile data --part 3/10 --out grm",
        ),
    ],
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
    help="SNPs per streamed block [default: about 48 MiB of genotypes, whole BLAS calls].",
)
@click.option(
    "--part",
    metavar="I/N",
    default=None,
    help="Compute only part I of N (rows of the lower triangle, equal work per part) and "
    "write OUT.part_N_I.h5; merge the N parts with herit merge-grm. For array jobs: "
    "--part $SLURM_ARRAY_TASK_ID/N.",
)
@click.option(
    "--freq",
    metavar="FILE",
    type=click.Path(),
    default=None,
    help="Allele frequencies to standardize with: herit freq's .freq, plink1.9 .frq or "
    "plink2 .afreq [default: counted from the genotypes of the samples kept].",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Compute on the workers of a running dask.distributed scheduler: tcp://host:port "
    "or a scheduler file (needs pip install 'herit[cluster]'; see docs/cluster.md).",
)
@click.option(
    "--memory",
    metavar="GB",
    default=None,
    help="Memory budget in GiB (16, 16G, 16000M): the block size is chosen to fit, and a run "
    "that cannot fit is refused before reading genotypes, saying what would.",
)
@click.option(
    "--force", is_flag=True, help="With --part: recompute the part even if it is complete."
)
@threads_option
@verbosity_options
@click.pass_context
def make_grm_command(ctx: click.Context, **kw: Any) -> None:
    from heritcli import api
    from heritcli.grm_build import MakeGrmOptions, parse_chrom_list
    from heritcli.memory_budget import parse_memory

    chromosomes = parse_chrom_list(kw["chromosomes"]) if kw["chromosomes"] else None
    memory = parse_memory(kw["memory"]) if kw["memory"] is not None else None
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
        part=kw["part"],
        freq=kw["freq"],
        scheduler=kw["scheduler"],
        memory=memory,
        force=kw["force"],
    )
    options.validate()
    target = options.output_path()
    with run_logged(ctx, log_path_for(target), quiet=kw["quiet"], verbose=kw["verbose"]) as rep:
        result = api.make_grm(
            options.bfile,
            out=options.out,
            reporter=rep,
            command=rep.command,  # type: ignore[attr-defined]
            **{k: v for k, v in vars(options).items() if k not in ("bfile", "out")},
        )
        if options.part is not None:
            _report_part(rep, result)
            return
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
        rep.info(f"wrote {result.path} in {result.seconds:.1f} s")


def _report_part(rep: Any, result: Any) -> None:
    if result.skipped:
        return
    dropped = ", ".join(f"{c} {why}" for why, c in result.snps_dropped.items()) or "none"
    rep.info(f"used {result.n_snps_used} of {result.n_snps_in_bim} variants (dropped: {dropped})")
    for step, seconds in result.timings.items():
        rep.detail(f"time {step}: {seconds:.2f} s")
    rep.info(
        f"wrote part {result.part_index}/{result.part_count} (rows {result.row_start + 1}-"
        f"{result.row_stop}) to {result.path} in {result.seconds:.1f} s"
    )


@click.command(
    "merge-grm",
    cls=HeritCommand,
    short_help="Merge GRM parts, or GRMs of disjoint SNP sets, into one GRM.",
    help="""Merge the parts of a GRM, or GRMs built on disjoint SNP sets, into OUT.h5.

\b
Parts (make-grm --part I/N): all N must be given, made from the same
samples, SNPs, allele frequencies and options; the result equals the GRM
make-grm computes in one run.
Whole GRMs (e.g. one per chromosome, as GCTA --mgrm): the same samples,
disjoint SNPs; K = sum_c N_c K_c / sum_c N_c, N_c the pairwise SNP counts.
""",
    examples=[
        ("The parts of an array job", "herit merge-grm grm.part_10_*.h5 --out grm"),
        (
            "GRMs of disjoint SNP sets (per chromosome)",
            "herit merge-grm chr1.h5 chr2.h5 chr3.h5 --out genome",
        ),
        (
            "The same from a list file, as GCTA --mgrm",
            "herit merge-grm --mgrm grms.txt --out genome",
        ),
    ],
)
@click.argument("grms", metavar="GRM.h5...", nargs=-1, type=click.Path())
@click.option(
    "--mgrm",
    metavar="FILE",
    type=click.Path(),
    default=None,
    help="A file listing the GRMs to merge, one per line (as GCTA --mgrm).",
)
@click.option("--out", required=True, metavar="OUT", help="Writes OUT.h5 and OUT.log.")
@verbosity_options
@click.pass_context
def merge_grm_command(
    ctx: click.Context,
    grms: tuple[str, ...],
    mgrm: str | None,
    out: str,
    quiet: bool,
    verbose: bool,
) -> None:
    from heritcli import api
    from heritcli.errors import UsageError

    paths = list(grms)
    if mgrm is not None:
        from heritcli.grm_merge import read_grm_list

        paths += read_grm_list(mgrm)
    if not paths:
        raise UsageError("merge-grm needs GRM files (or --mgrm FILE)")
    target = out if out.endswith(".h5") else out + ".h5"
    with run_logged(ctx, log_path_for(target), quiet=quiet, verbose=verbose) as rep:
        result = api.merge_grm(paths, target, reporter=rep, command=rep.command)  # type: ignore[attr-defined]
        rep.info(
            f"wrote {result.path}: {result.n_samples} samples, {result.n_snps} SNPs, mean "
            f"diagonal {result.diag_mean:.6f}"
            + ("; pairwise SNP counts stored" if result.has_n_pairs else "")
            + f" ({result.seconds:.1f} s)"
        )


@click.command(
    "freq",
    cls=HeritCommand,
    short_help="Count allele frequencies once, for make-grm --freq.",
    help="""Count the alleles of a PLINK fileset once and write OUT.freq for make-grm --freq.

\b
Tab-separated: #CHROM ID A1 A2 A1_FREQ N_CALLED N_MISSING, frequencies of the
.bim's A1 among the non-missing calls of the samples kept, written so they
read back exactly.  Parts of one GRM given the same file standardize with
identical frequencies.
""",
    examples=[
        (
            "Count once; then make-grm --freq data.freq in every part",
            "herit freq --bfile data --out data",
        ),
        (
            "Among the unrelated samples only",
            "herit freq --bfile data --keep unrelated.txt --out unrel",
        ),
    ],
)
@click.option("--bfile", required=True, metavar="PREFIX", help="PLINK .bed/.bim/.fam prefix.")
@click.option("--out", required=True, metavar="OUT", help="Writes OUT.freq and OUT.log.")
@click.option("--keep", metavar="FILE", default=None, help="Count only the samples listed.")
@click.option("--remove", metavar="FILE", default=None, help="Do not count the samples listed.")
@click.option("--extract", metavar="FILE", default=None, help="Only the SNP IDs listed.")
@click.option("--exclude", metavar="FILE", default=None, help="Not the SNP IDs listed.")
@click.option("--chr", "chromosomes", metavar="LIST", default=None, help="Chromosomes, e.g. 1-5,X.")
@click.option("--autosome", is_flag=True, help="Chromosomes 1-22 only.")
@verbosity_options
@click.pass_context
def freq_command(ctx: click.Context, **kw: Any) -> None:
    from heritcli import api
    from heritcli.grm_build import parse_chrom_list

    chromosomes = parse_chrom_list(kw["chromosomes"]) if kw["chromosomes"] else None
    out = kw["out"][:-5] if kw["out"].endswith(".freq") else kw["out"]
    with run_logged(ctx, log_path_for(out), quiet=kw["quiet"], verbose=kw["verbose"]) as rep:
        result = api.allele_frequencies(
            kw["bfile"],
            out=out,
            reporter=rep,
            keep=kw["keep"],
            remove=kw["remove"],
            extract=kw["extract"],
            exclude=kw["exclude"],
            chromosomes=chromosomes,
            autosome=kw["autosome"],
        )
        rep.info(
            f"wrote {result.path}: {result.n_snps} variants, {result.n_samples} samples "
            f"({result.seconds:.1f} s)"
        )


@click.command(
    "export-grm",
    cls=HeritCommand,
    short_help="Write a GRM as GCTA binary files (.grm.bin, .grm.N.bin, .grm.id).",
    help="""Write an herit GRM as GCTA binary files P.grm.bin, P.grm.N.bin, P.grm.id.

\b
The files are read by GCTA (--grm P), plink and LDAK.
""",
    examples=[
        ("For GCTA, plink or LDAK", "herit export-grm mice.h5 --out mice"),
    ],
)
@click.argument("grm", metavar="GRM.h5", type=click.Path())
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
    cls=HeritCommand,
    short_help="Convert a GCTA binary GRM into an herit GRM.",
    help="""Convert a GCTA binary GRM (P.grm.bin/.grm.N.bin/.grm.id) into an herit GRM.
""",
    examples=[
        ("From GCTA's mice.grm.bin/.grm.N.bin/.grm.id", "herit import-grm mice --out mice"),
    ],
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
    cls=HeritCommand,
    short_help="Show what an herit artifact is: kind, size, summary, provenance.",
    help="""Show what an herit artifact is: kind, size, summary, provenance.
""",
    examples=[
        ("What the example GRM is", "herit inspect herit-example/mice.h5"),
        ("As JSON", "herit inspect mice.h5 --json"),
    ],
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


COMMANDS = [
    make_grm_command,
    merge_grm_command,
    freq_command,
    export_grm_command,
    import_grm_command,
    inspect_command,
]
