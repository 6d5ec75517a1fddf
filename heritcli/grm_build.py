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
    part: str | None = None
    freq: str | None = None
    scheduler: str | None = None
    memory: float | None = None
    force: bool = False

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
        if self.memory is not None and not self.memory > 0:
            raise UsageError(f"--memory must be positive, got {self.memory}")
        if self.part is not None and self.scheduler is not None:
            raise UsageError(
                "--part and --scheduler cannot be used together",
                hint="--part is for scheduler array jobs; --scheduler spreads one run over dask",
            )
        self.part_spec()

    def part_spec(self) -> tuple[int, int] | None:
        """``(I, N)`` of ``--part I/N``, or None."""
        if self.part is None:
            return None
        index, slash, count = str(self.part).partition("/")
        if not (slash and index.strip().isdigit() and count.strip().isdigit()):
            raise UsageError(f"--part must look like I/N (e.g. 3/10), got '{self.part}'")
        i, n = int(index), int(count)
        if n < 1 or not 1 <= i <= n:
            raise UsageError(f"--part {self.part}: I must be between 1 and N")
        return i, n

    def output_path(self) -> Path:
        """``OUT.h5`` (``OUT.part_N_I.h5`` for ``--part I/N``); by default OUT is the
        basename of the fileset prefix, in the working directory."""
        if self.out is not None:
            out = self.out
            prefix = out[:-3] if out.endswith(".h5") else out
        else:
            from heritcli.io.plink import bfile_paths

            prefix = bfile_paths(self.bfile)[0].with_suffix("").name
        spec = self.part_spec()
        if spec is not None:
            return Path(part_file_name(prefix, *spec))
        return Path(prefix + ".h5")

    def science_params(self) -> dict[str, Any]:
        """The options that change the GRM's values (parts must agree on these).

        Output names, threads, memory, block size (the accumulation is the same
        for any block size), engine and ``--force`` are left out.
        """
        skip = {"out", "threads", "part", "scheduler", "memory", "force", "block_snps"}
        params = {k: v for k, v in asdict(self).items() if k not in skip}
        params["chromosomes"] = None if self.chromosomes is None else list(self.chromosomes)
        params["bfile"] = os.path.abspath(self.bfile)
        for key in ("keep", "remove", "extract", "exclude", "freq"):
            if params[key] is not None:
                params[key] = os.path.abspath(params[key])
        return params


def part_file_name(prefix: str, index: int, count: int) -> str:
    """``P.part_N_I.h5``, the file of part I of N (GCTA names its parts ``P.part_N_I``)."""
    return f"{prefix}.part_{count}_{index}.h5"


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
    """Block size giving about :data:`BLOCK_BYTES_TARGET` of float32 genotypes.

    Rounded to a multiple of the SNPs per BLAS call
    (:func:`heritcli.core.grm.blas_chunk_snps`; at least one call), so that the
    accumulator multiplies each block where it lies instead of copying its
    leftover rows into the next call's buffer.
    """
    from heritcli.core.grm import blas_chunk_snps

    size = BLOCK_BYTES_TARGET // (4 * max(n_samples, 1))
    size = int(min(max(size, 256), 16384) // 64 * 64)
    chunk = blas_chunk_snps(n_samples)
    return max(chunk, size // chunk * chunk)


def memory_estimate(
    n_samples: int, block_snps: int, any_missing: bool, precision: str = "float32"
) -> int:
    """Peak bytes of the whole-matrix accumulation: O(n² + n·block).

    See :func:`heritcli.memory_budget.grm_memory` for the terms (float64 sums
    8n², float32 partial sums 4n², pair counts 4n² when calls are missing, the
    blocks in flight, the interpreter).
    """
    from heritcli.memory_budget import grm_memory

    return grm_memory(n_samples, block_snps, any_missing=any_missing, precision=precision).total


def format_bytes(n_bytes: float) -> str:
    from heritcli.memory_budget import format_bytes as _format

    return _format(n_bytes)


def select_samples(
    fam: Any, options: MakeGrmOptions, reporter: Reporter
) -> tuple[np.ndarray, dict[str, int]]:
    """Indices of the samples kept by ``--keep``/``--remove``, in ``.fam`` order."""
    n = fam.n_samples
    keep_mask = np.ones(n, dtype=bool)
    dropped: dict[str, int] = {}
    if options.keep is None and options.remove is None and n >= 2:
        return np.arange(n), dropped
    from heritcli.io.tables import read_id_list  # only when a list is given (a slow import)

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
    m = bim.n_snps
    reason = np.full(m, "", dtype=object)
    if options.chromosomes is not None or options.autosome:
        wanted = set(AUTOSOMES if options.autosome else options.chromosomes or ())
        chrom = np.array([normalize_chrom(c) for c in bim.chrom.tolist()], dtype=object)
        reason[~np.isin(chrom, list(wanted))] = "chr"
    ids = bim.snp_id
    if options.extract is not None or options.exclude is not None:
        from heritcli.io.tables import read_snp_list  # only when a list is given
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
    if len(set(ids.tolist())) != m:
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


@dataclass
class GrmInputs:
    """What a make-grm run reads before any genotype: samples, candidate SNPs, frequencies."""

    fileset: Any
    sample_index: np.ndarray
    samples_dropped: dict[str, int]
    reason: np.ndarray
    candidates: np.ndarray
    freq: np.ndarray | None
    freq_source: str

    @property
    def n_samples(self) -> int:
        return int(self.sample_index.size)

    @property
    def all_samples(self) -> bool:
        return self.n_samples == self.fileset.n_samples

    @property
    def column_index(self) -> np.ndarray | None:
        """The kept samples for the streaming loop (None: all, read from the bytes)."""
        return None if self.all_samples else self.sample_index


def prepare_inputs(options: MakeGrmOptions, reporter: Reporter) -> GrmInputs:
    """Open the fileset, select samples and candidate SNPs, read ``--freq``."""
    from heritcli.allele_freq import read_freq_file
    from heritcli.io.plink import open_bfile

    fileset = open_bfile(options.bfile)
    reporter.info(
        f"{fileset.bed}: {fileset.n_samples} samples (.fam), {fileset.n_snps} variants (.bim)"
    )
    sample_index, samples_dropped = select_samples(fileset.fam, options, reporter)
    reason = static_snp_filter(fileset.bim, options, reporter)
    candidates = np.flatnonzero(reason == "")
    if candidates.size == 0:
        raise DataError(f"no variants left in {fileset.bim_path} after --chr/--extract/--exclude")
    freq = None
    source = "computed from the genotypes of the samples kept"
    if options.freq is not None:
        freq = read_freq_file(options.freq, fileset.bim, candidates)
        source = f"read from --freq {options.freq}"
        reporter.info(f"allele frequencies {source}")
    return GrmInputs(fileset, sample_index, samples_dropped, reason, candidates, freq, source)


def input_fingerprints(options: MakeGrmOptions, fileset: Any) -> dict[str, Any]:
    """Fingerprints of the files a GRM is built from (a full hash of the small ones)."""
    from heritcli.io.artifact import file_fingerprint

    inputs = {
        "bed": file_fingerprint(fileset.bed, full_hash=False),
        "bim": file_fingerprint(fileset.bim_path),
        "fam": file_fingerprint(fileset.fam_path),
    }
    for key in ("keep", "remove", "extract", "exclude", "freq"):
        value = getattr(options, key)
        if value is not None:
            inputs[key] = file_fingerprint(value)
    return inputs


def snp_summary(bim: Any, freq: np.ndarray, reason: np.ndarray) -> Any:
    """The per-SNP table of the artifact (what was used, and why not)."""
    from heritcli.io.grm_artifact import SnpSummary

    return SnpSummary(
        snp_id=bim.snp_id,
        chrom=bim.chrom,
        pos=bim.pos,
        a1=bim.a1,
        a2=bim.a2,
        freq=freq,
        used=reason == "",
        reason=np.array([str(r) for r in reason], dtype=str),
    )


def plan_block(
    options: MakeGrmOptions,
    inputs: GrmInputs,
    reporter: Reporter,
    *,
    rows: tuple[int, int] | None = None,
    any_missing: bool = True,
    what: str = "make-grm",
) -> tuple[int, Any]:
    """Block size from ``--block-snps`` or the ``--memory`` budget; refuse what cannot fit.

    Prints the memory estimate (every run does).  Raises :class:`UsageError`
    before any genotype is read when the estimate exceeds ``--memory``.
    """
    from heritcli.memory_budget import block_for_budget, check_budget, grm_memory

    n = inputs.n_samples
    shape = {
        "any_missing": any_missing,
        "precision": options.dtype,
        "n_variants": int(inputs.fileset.n_snps),
        "subset": not inputs.all_samples,
    }
    block = options.block_snps or block_for_budget(
        options.memory, auto_block_snps(n), n, rows=rows, **shape
    )
    estimate = grm_memory(n, block, rows=rows, **shape)
    budget = "" if options.memory is None else f" (--memory {options.memory:g} GiB)"
    reporter.info(
        f"{n} samples and {inputs.candidates.size} candidate variants; block of {block} SNPs; "
        f"memory needed about {estimate.describe()}{budget}"
        + ("" if any_missing is False else "; pair counts included in case genotypes are missing")
    )
    check_budget(options.memory, estimate, n_samples=n, block_snps=block, what=what, **shape)
    return block, estimate


def overlap_decoding(n_threads: int) -> bool:
    """Whether to decode the next block while BLAS adds this one (in a worker thread).

    Only with numpy decoding on two or more threads.  The compiled kernels decode
    a block in a few percent of the time its BLAS update takes; run alongside,
    they would time-share the cores with the BLAS threads and slow both (measured
    on 2 cores: the products took 20-30 % longer and decoding four times as long),
    so blocks are then decoded and added one after the other.  numpy decoding
    costs about a third of the products and holds the GIL, which the ctypes BLAS
    call releases, so overlapping it pays.  On one thread there is nothing to
    overlap with.
    """
    from heritcli.core.bedkernels import kernels_available

    return n_threads > 1 and not kernels_available()


def build_grm(
    options: MakeGrmOptions,
    *,
    command: str = "",
    reporter: Reporter | None = None,
) -> Any:
    """Build a GRM: in one process, one part of it (``part``), or on a dask cluster.

    Returns
    -------
    MakeGrmResult, or GrmPartResult for ``--part``
    """
    reporter = reporter or SilentReporter()
    options.validate()
    if options.part is not None:
        from heritcli.grm_parts import build_grm_part

        return build_grm_part(options, command=command, reporter=reporter)
    if options.scheduler is not None:
        from heritcli.grm_dask import build_grm_distributed

        return build_grm_distributed(options, command=command, reporter=reporter)
    return build_whole_grm(options, command=command, reporter=reporter)


def build_whole_grm(
    options: MakeGrmOptions,
    *,
    command: str = "",
    reporter: Reporter | None = None,
) -> MakeGrmResult:
    """Stream the ``.bed`` once and write the GRM artifact (see :func:`heritcli.api.make_grm`)."""
    from heritcli.core.grm import GrmAccumulator, row_source
    from heritcli.grm_stream import SnpFilter, stream_blocks
    from heritcli.io.atomic import check_writable_dir
    from heritcli.io.grm_artifact import write_grm_artifact
    from heritcli.threads import limit_threads

    reporter = reporter or SilentReporter()
    options.validate()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    target = check_writable_dir(options.output_path())
    inputs = prepare_inputs(options, reporter)
    fileset, candidates, reason = inputs.fileset, inputs.candidates, inputs.reason
    n = inputs.n_samples
    block, _ = plan_block(options, inputs, reporter)
    freq = np.full(fileset.n_snps, np.nan)
    precision = options.dtype
    acc = GrmAccumulator(n, precision=precision, max_snps=int(candidates.size))
    z_dtype = np.float64 if precision == "float64" else np.float32
    snp_filter = SnpFilter(options.maf, options.max_maf, options.geno)
    t0 = time.perf_counter()
    with (
        limit_threads(options.threads) as n_threads,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="herit-syrk") as pool,
        reporter.task("make-grm", total=int(candidates.size), unit="SNPs") as progress,
    ):
        reporter.detail(f"threads: {n_threads}; BLAS: {_describe_blas()}")
        overlap = overlap_decoding(n_threads)
        pending: Future[None] | None = None
        stream = stream_blocks(
            fileset,
            inputs.column_index,
            candidates,
            block,
            snp_filter,
            dtype=z_dtype,
            freq=inputs.freq,
            # A z buffer is reused once its block is added: two while decoding overlaps.
            buffers=2 if overlap else 1,
            threads=1 if overlap else n_threads,
        )
        for streamed in stream:
            freq[streamed.snps] = streamed.stats.freq
            reason[streamed.snps] = streamed.reason
            if pending is not None:
                pending.result()
            z = streamed.z
            if not overlap:
                if z.shape[0]:
                    acc.add(z, streamed.missing)
            else:
                pending = pool.submit(acc.add, z, streamed.missing) if z.shape[0] else None
            progress.advance(int(streamed.snps.size))
        if pending is not None:
            pending.result()
        timings["accumulate"] = time.perf_counter() - t0
    sums = acc.finish()
    if sums.n_snps == 0:
        raise DataError("no variants passed the filters " + _reason_counts_text(reason))
    t1 = time.perf_counter()
    fid = fileset.fam.fid[inputs.sample_index]
    iid = fileset.fam.iid[inputs.sample_index]
    written = write_grm_artifact(
        target,
        n_samples=n,
        rows=row_source(sums, options.dtype, n_threads),
        has_n_pairs=sums.ss is not None,
        fid=fid,
        iid=iid,
        n_snps=sums.n_snps,
        dtype=options.dtype,
        snps=snp_summary(fileset.bim, freq, reason),
        command=command,
        params=asdict(options),
        inputs=input_fingerprints(options, fileset),
        grm_attrs={"maf_min": options.maf, "max_maf": options.max_maf},
    )
    timings["write"] = time.perf_counter() - t1
    return finished_result(
        target,
        inputs=inputs,
        reason=reason,
        n_snps=sums.n_snps,
        any_missing=sums.ss is not None,
        written=written,
        seconds=time.perf_counter() - started,
        memory_bytes=memory_estimate(n, block, sums.ss is not None, precision),
        block=block,
        threads=n_threads,
        timings=timings,
    )


def finished_result(
    target: Path,
    *,
    inputs: GrmInputs,
    reason: np.ndarray,
    n_snps: int,
    any_missing: bool,
    written: Any,
    seconds: float,
    memory_bytes: int,
    block: int,
    threads: int,
    timings: dict[str, float],
) -> MakeGrmResult:
    """The :class:`MakeGrmResult` of a GRM just written to ``target``
    (``written``: what :func:`heritcli.io.grm_artifact.write_grm_artifact` returned)."""
    return MakeGrmResult(
        path=os.fspath(target),
        n_samples=inputs.n_samples,
        n_samples_in_fam=inputs.fileset.n_samples,
        n_snps_used=n_snps,
        n_snps_in_bim=inputs.fileset.n_snps,
        snps_dropped=_reason_counts(reason),
        samples_dropped=inputs.samples_dropped,
        any_missing=any_missing,
        diag_mean=float(written.summary["diag_mean"]),
        offdiag_mean=float(written.summary["offdiag_mean"]),
        offdiag_var=float(written.summary["offdiag_var"]),
        fingerprint=written.fingerprint,
        seconds=seconds,
        memory_estimate_bytes=memory_bytes,
        block_snps=block,
        threads=threads,
        timings=timings,
    )


def _describe_blas() -> str:
    """The BLAS libraries in use and the genotype decoder, for the log."""
    from heritcli.core.bedkernels import describe_kernels
    from heritcli.core.blas import uses_ctypes_blas
    from heritcli.threads import describe_blas

    if not uses_ctypes_blas():
        # syrk_lower will go through scipy.linalg.blas: load it now so that it is reported
        # (when scipy's OpenBLAS was opened directly, importing scipy.linalg would only
        # cost start-up time).
        import scipy.linalg.blas  # noqa: F401

    return f"{describe_blas()}; genotypes: {describe_kernels()}"


def _reason_counts(reason: np.ndarray) -> dict[str, int]:
    from collections import Counter

    # Most SNPs are used (reason ""): count only the others.
    counts = Counter(str(r) for r in reason[reason != ""].tolist())
    return {why: counts[why] for why in sorted(counts)}


def _reason_counts_text(reason: np.ndarray) -> str:
    counts = _reason_counts(reason)
    return "(" + ", ".join(f"{c} {why}" for why, c in counts.items()) + ")"


def flops(n_samples: int, n_snps: int) -> float:
    """Floating-point operations of the GRM product (a multiply-add counts two)."""
    return float(n_samples) * n_samples * n_snps


__all__ = [
    "GrmInputs",
    "MakeGrmOptions",
    "MakeGrmResult",
    "build_grm",
    "flops",
    "format_bytes",
    "memory_estimate",
    "parse_chrom_list",
    "part_file_name",
    "prepare_inputs",
]
