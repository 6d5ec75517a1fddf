"""Building a GRM from a PLINK fileset: sample and SNP selection, streaming, writing.

This module glues :mod:`heritcli.io.plink` (decoding), :mod:`heritcli.core`
(standardization and accumulation) and :mod:`heritcli.io.grm_artifact`
(the on-disk result).  The public entry point is :func:`heritcli.api.make_grm`.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from heritcli.errors import DataError, UsageError
from heritcli.reporting import Reporter, SilentReporter

#: Bytes of working memory per block aimed at by the automatic block size.
BLOCK_BYTES_TARGET = 48 * 2**20
AUTOSOMES = tuple(str(c) for c in range(1, 23))
_CHROM_ALIASES = {"23": "X", "24": "Y", "25": "XY", "26": "MT", "M": "MT"}


@dataclass(frozen=True)
class MakeGrmOptions:
    """Options of ``herit make-grm`` (see :func:`heritcli.api.make_grm`)."""

    bfile: str
    out: str | None = None
    maf: float = 0.0
    max_maf: float = 0.5
    geno: float | None = None
    keep: str | None = None
    remove: str | None = None
    extract: str | None = None
    exclude: str | None = None
    chromosomes: tuple[str, ...] | None = None
    autosome: bool = False
    dtype: str = "float32"
    block_snps: int | None = None
    threads: int | None = None

    def validate(self) -> None:
        """Raise :class:`UsageError` for out-of-range or conflicting values."""
        if not 0.0 <= self.maf <= 0.5:
            raise UsageError(f"--maf must be between 0 and 0.5, got {self.maf}")
        if not 0.0 <= self.max_maf <= 0.5:
            raise UsageError(f"--max-maf must be between 0 and 0.5, got {self.max_maf}")
        if self.max_maf < self.maf:
            raise UsageError(f"--max-maf {self.max_maf} is below --maf {self.maf}")
        if self.geno is not None and not 0.0 <= self.geno <= 1.0:
            raise UsageError(f"--geno must be between 0 and 1, got {self.geno}")
        if self.dtype not in ("float32", "float64"):
            raise UsageError(f"--dtype must be float32 or float64, got {self.dtype}")
        if self.block_snps is not None and self.block_snps < 1:
            raise UsageError(f"--block-snps must be a positive integer, got {self.block_snps}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"--threads must be a positive integer, got {self.threads}")
        if self.chromosomes is not None and self.autosome:
            raise UsageError("--chr and --autosome cannot be used together")

    def output_path(self) -> Path:
        """``OUT.h5``; by default the basename of the fileset prefix, in the working directory."""
        if self.out is not None:
            out = self.out
            return Path(out if out.endswith(".h5") else out + ".h5")
        from heritcli.io.plink import bfile_paths

        return Path(bfile_paths(self.bfile)[0].with_suffix(".h5").name)


@dataclass(frozen=True)
class MakeGrmResult:
    """What :func:`heritcli.api.make_grm` built."""

    path: str
    n_samples: int
    n_samples_in_fam: int
    n_snps_used: int
    n_snps_in_bim: int
    snps_dropped: dict[str, int]
    samples_dropped: dict[str, int]
    any_missing: bool
    diag_mean: float
    offdiag_mean: float
    offdiag_var: float
    fingerprint: str
    seconds: float
    memory_estimate_bytes: int
    block_snps: int
    threads: int
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize_chrom(code: str) -> str:
    """PLINK chromosome code in canonical form: ``chr1`` → ``1``, ``23`` → ``X``."""
    text = code.strip()
    if text.lower().startswith("chr"):
        text = text[3:]
    text = text.upper()
    if text.isdigit():
        text = str(int(text))
    return _CHROM_ALIASES.get(text, text)


def parse_chrom_list(text: str) -> tuple[str, ...]:
    """Parse ``--chr`` values like ``1-5,7,X`` (ranges of numbered chromosomes allowed)."""
    codes: list[str] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            lo, _, hi = part.partition("-")
            if not (lo.isdigit() and hi.isdigit()) or int(lo) > int(hi):
                raise UsageError(f"--chr: cannot read the range '{part}'")
            codes.extend(str(c) for c in range(int(lo), int(hi) + 1))
        else:
            codes.append(normalize_chrom(part))
    if not codes:
        raise UsageError("--chr needs at least one chromosome")
    return tuple(dict.fromkeys(normalize_chrom(c) for c in codes))


def auto_block_snps(n_samples: int) -> int:
    """Block size giving about :data:`BLOCK_BYTES_TARGET` of float32 genotypes."""
    size = BLOCK_BYTES_TARGET // (4 * max(n_samples, 1))
    return int(min(max(size, 256), 16384) // 64 * 64)


def memory_estimate(n_samples: int, block_snps: int, any_missing: bool) -> int:
    """Peak bytes of the accumulation: O(n² + n·block).

    float64 sums of Z Zᵀ (8n²), float32 partial sums (4n²), the float32 S Sᵀ
    sums when calls are missing (4n²), and per-block genotypes (about 10 bytes
    per sample and SNP: packed, int8, float32 and the missing mask).
    """
    n2 = n_samples * n_samples
    total = 8 * n2 + 4 * n2 + (4 * n2 if any_missing else 0)
    total += 10 * n_samples * block_snps
    return int(total)


def format_bytes(n_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n_bytes) < 1024 or unit == "TiB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.1f} TiB"


def select_samples(
    fam: Any, options: MakeGrmOptions, reporter: Reporter
) -> tuple[np.ndarray, dict[str, int]]:
    """Indices of the samples kept by ``--keep``/``--remove``, in ``.fam`` order."""
    from heritcli.io.tables import read_id_list

    n = fam.n_samples
    keep_mask = np.ones(n, dtype=bool)
    dropped: dict[str, int] = {}
    ids = list(zip(fam.fid.tolist(), fam.iid.tolist(), strict=True))
    if options.keep is not None:
        wanted = set(read_id_list(options.keep, what="keep"))
        in_keep = np.array([pair in wanted for pair in ids], dtype=bool)
        dropped["not in --keep"] = int((~in_keep).sum())
        unmatched = len(wanted) - int(in_keep.sum())
        if unmatched:
            reporter.warning(f"{unmatched} IDs of --keep {options.keep} are not in the .fam")
        keep_mask &= in_keep
    if options.remove is not None:
        unwanted = set(read_id_list(options.remove, what="remove"))
        in_remove = np.array([pair in unwanted for pair in ids], dtype=bool)
        dropped["in --remove"] = int((in_remove & keep_mask).sum())
        keep_mask &= ~in_remove
    index = np.flatnonzero(keep_mask)
    if index.size == 0:
        raise DataError(
            f"no samples left: the .fam has {n}"
            + "".join(f", {count} {why}" for why, count in dropped.items())
        )
    if index.size < 2:
        raise DataError(f"only {index.size} sample left after --keep/--remove; a GRM needs two")
    return index, dropped


def static_snp_filter(bim: Any, options: MakeGrmOptions, reporter: Reporter) -> np.ndarray:
    """Reasons (``""`` = still in) from filters known before reading genotypes."""
    from heritcli.io.tables import read_snp_list

    m = bim.n_snps
    reason = np.full(m, "", dtype=object)
    if options.chromosomes is not None or options.autosome:
        wanted = set(AUTOSOMES if options.autosome else options.chromosomes or ())
        chrom = np.array([normalize_chrom(c) for c in bim.chrom.tolist()], dtype=object)
        reason[~np.isin(chrom, list(wanted))] = "chr"
    ids = bim.snp_id
    if options.extract is not None:
        wanted_ids = read_snp_list(options.extract)
        found = np.isin(ids, wanted_ids)
        unmatched = len(set(wanted_ids)) - len(set(ids[found].tolist()))
        if unmatched:
            reporter.warning(f"{unmatched} IDs of --extract {options.extract} are not in the .bim")
        reason[(reason == "") & ~found] = "extract"
    if options.exclude is not None:
        unwanted = read_snp_list(options.exclude)
        reason[(reason == "") & np.isin(ids, unwanted)] = "exclude"
    if np.unique(ids).size != m:
        reporter.warning("the .bim has duplicate variant IDs; --extract/--exclude match all copies")
    return reason


def dynamic_snp_filter(stats: Any, options: MakeGrmOptions) -> np.ndarray:
    """Reasons (``""`` = used) from filters that need the genotypes: call rate, MAF.

    Follows plink1.9's order: ``--geno`` before ``--maf``/``--max-maf``.  A small
    relative tolerance keeps ties (MAF exactly at the threshold) as plink does.
    """
    reason = np.full(stats.freq.shape[0], "", dtype=object)
    maf = stats.maf
    all_missing = stats.n_called == 0
    reason[all_missing] = "all-missing"
    free = reason == ""
    if options.geno is not None:
        bad = free & (stats.missing_rate > options.geno * (1 + 1e-9))
        reason[bad] = "geno"
        free &= ~bad
    mono = free & (maf <= 0.0)
    reason[mono] = "monomorphic"
    free &= ~mono
    if options.maf > 0:
        low = free & (maf < options.maf * (1 - 1e-9))
        reason[low] = "maf"
        free &= ~low
    if options.max_maf < 0.5:
        high = free & (maf > options.max_maf * (1 + 1e-9))
        reason[high] = "max-maf"
    return reason


def _runs(indices: np.ndarray, block: int) -> list[np.ndarray]:
    """Split sorted SNP indices into blocks of at most ``block``."""
    return [indices[i : i + block] for i in range(0, indices.size, block)]


def build_grm(
    options: MakeGrmOptions,
    *,
    command: str = "",
    reporter: Reporter | None = None,
) -> MakeGrmResult:
    """Stream the ``.bed`` once and write the GRM artifact (see :func:`heritcli.api.make_grm`)."""
    from heritcli.core.grm import GrmAccumulator, grm_rows, symmetrize_lower
    from heritcli.core.packed import code_counts, frequencies_from_codes, standardize_packed
    from heritcli.core.standardize import BlockStats, block_stats, standardize
    from heritcli.io.artifact import file_fingerprint
    from heritcli.io.atomic import check_writable_dir
    from heritcli.io.grm_artifact import SnpSummary, write_grm_artifact
    from heritcli.io.plink import decode_packed, missing_positions, open_bfile
    from heritcli.threads import limit_threads

    reporter = reporter or SilentReporter()
    options.validate()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    target = check_writable_dir(options.output_path())
    fileset = open_bfile(options.bfile)
    reporter.info(
        f"{fileset.bed}: {fileset.n_samples} samples (.fam), {fileset.n_snps} variants (.bim)"
    )
    sample_index, samples_dropped = select_samples(fileset.fam, options, reporter)
    n = sample_index.size
    all_samples = n == fileset.n_samples
    reason = static_snp_filter(fileset.bim, options, reporter)
    candidates = np.flatnonzero(reason == "")
    if candidates.size == 0:
        raise DataError(f"no variants left in {fileset.bim_path} after --chr/--extract/--exclude")
    block = options.block_snps or auto_block_snps(n)
    estimate = memory_estimate(n, block, any_missing=True)
    reporter.info(
        f"{n} samples and {candidates.size} candidate variants; block of {block} SNPs; "
        f"memory needed about {format_bytes(memory_estimate(n, block, False))} "
        f"({format_bytes(estimate)} if genotypes are missing)"
    )
    freq = np.full(fileset.n_snps, np.nan)
    precision = options.dtype
    acc = GrmAccumulator(n, precision=precision, max_snps=int(candidates.size))
    z_dtype = np.float64 if precision == "float64" else np.float32
    t0 = time.perf_counter()
    index = None if all_samples else sample_index
    with (
        limit_threads(options.threads) as n_threads,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="herit-syrk") as pool,
        reporter.task("make-grm", total=int(candidates.size), unit="SNPs") as progress,
    ):
        reporter.detail(f"threads: {n_threads}")
        # The BLAS update of one block runs in a worker thread (it releases the GIL)
        # while this thread decodes and standardizes the next block.
        pending: Future[None] | None = None
        for snps in _runs(candidates, block):
            if snps[-1] - snps[0] + 1 == snps.size:
                packed = fileset.read_packed(int(snps[0]), int(snps[-1]) + 1)
            else:
                packed = fileset.read_packed_rows(snps)
            if index is None:
                # Every sample: frequencies and z straight from the packed bytes.
                stats = BlockStats(*frequencies_from_codes(code_counts(packed, n)))
                if stats.n_missing.any():
                    miss_rows, miss_cols = missing_positions(packed, n)
                else:
                    miss_rows = miss_cols = np.empty(0, dtype=np.int64)
            else:
                counts = decode_packed(packed, fileset.n_samples)[:, index]
                miss_rows, miss_cols = missing_positions(packed, fileset.n_samples, index)
                n_missing = np.bincount(miss_rows, minlength=snps.size)
                stats = block_stats(counts, n_missing=n_missing)
            freq[snps] = stats.freq
            why = dynamic_snp_filter(stats, options)
            reason[snps] = why
            used = why == ""
            if not used.all():
                kept = used[miss_rows]
                miss_rows = (np.cumsum(used) - 1)[miss_rows[kept]]
                miss_cols = miss_cols[kept]
            missing = (miss_rows, miss_cols) if miss_rows.size else None
            if index is None:
                rows = packed if used.all() else packed[used]
                z = standardize_packed(rows, n, stats.freq[used], dtype=z_dtype)
            else:
                z = standardize(counts[used], stats.freq[used], dtype=z_dtype, missing=missing)
            if pending is not None:
                pending.result()
            pending = pool.submit(acc.add, z, missing) if z.shape[0] else None
            progress.advance(int(snps.size))
        if pending is not None:
            pending.result()
        timings["accumulate"] = time.perf_counter() - t0
    sums = acc.finish()
    if sums.n_snps == 0:
        raise DataError("no variants passed the filters " + _reason_counts_text(reason))
    t1 = time.perf_counter()
    symmetrize_lower(sums.zz)
    if sums.ss is not None:
        symmetrize_lower(sums.ss)
    used_mask = reason == ""
    bim = fileset.bim
    snp_summary = SnpSummary(
        snp_id=bim.snp_id,
        chrom=bim.chrom,
        pos=bim.pos,
        a1=bim.a1,
        a2=bim.a2,
        freq=freq,
        used=used_mask,
        reason=np.array([str(r) for r in reason], dtype=str),
    )
    inputs = {
        "bed": file_fingerprint(fileset.bed, full_hash=False),
        "bim": file_fingerprint(fileset.bim_path),
        "fam": file_fingerprint(fileset.fam_path),
    }
    for key in ("keep", "remove", "extract", "exclude"):
        value = getattr(options, key)
        if value is not None:
            inputs[key] = file_fingerprint(value)
    fid = fileset.fam.fid[sample_index]
    iid = fileset.fam.iid[sample_index]
    fingerprint = write_grm_artifact(
        target,
        n_samples=n,
        rows=lambda start, stop: grm_rows(sums, start, stop),
        has_n_pairs=sums.ss is not None,
        fid=fid,
        iid=iid,
        n_snps=sums.n_snps,
        dtype=options.dtype,
        snps=snp_summary,
        command=command,
        params=asdict(options),
        inputs=inputs,
        grm_attrs={"maf_min": options.maf, "max_maf": options.max_maf},
    )
    timings["write"] = time.perf_counter() - t1
    from heritcli.io.grm_artifact import read_grm_artifact

    written = read_grm_artifact(target)
    dropped_snps = _reason_counts(reason)
    return MakeGrmResult(
        path=os.fspath(target),
        n_samples=n,
        n_samples_in_fam=fileset.n_samples,
        n_snps_used=sums.n_snps,
        n_snps_in_bim=fileset.n_snps,
        snps_dropped=dropped_snps,
        samples_dropped=samples_dropped,
        any_missing=sums.ss is not None,
        diag_mean=float(written.grm_attrs["diag_mean"]),
        offdiag_mean=float(written.grm_attrs["offdiag_mean"]),
        offdiag_var=float(written.grm_attrs["offdiag_var"]),
        fingerprint=fingerprint,
        seconds=time.perf_counter() - started,
        memory_estimate_bytes=memory_estimate(n, block, sums.ss is not None),
        block_snps=block,
        threads=n_threads,
        timings=timings,
    )


def _reason_counts(reason: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(np.asarray([str(r) for r in reason]), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts, strict=True) if v}


def _reason_counts_text(reason: np.ndarray) -> str:
    counts = _reason_counts(reason)
    return "(" + ", ".join(f"{c} {why}" for why, c in counts.items()) + ")"


def flops(n_samples: int, n_snps: int) -> float:
    """Floating-point operations of the GRM product (a multiply-add counts two)."""
    return float(n_samples) * n_samples * n_snps


__all__ = [
    "MakeGrmOptions",
    "MakeGrmResult",
    "build_grm",
    "flops",
    "format_bytes",
    "memory_estimate",
    "parse_chrom_list",
]
