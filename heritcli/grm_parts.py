"""A GRM in parts: ``make-grm --part I/N`` computes one row band of the lower triangle.

Part ``I`` of ``N`` computes rows ``r_{I−1}:r_I`` of the lower triangle, the
product ``Z[r0:r1] Z[:r1]ᵀ`` of the standardized genotypes of those samples
with those of every sample up to ``r1`` (:func:`heritcli.core.grm.part_bounds`
chooses ``r_i ≈ n·√(i/N)`` so that every part has about ``n²/(2N)`` entries, as
GCTA's ``--make-grm-part`` does).  Each part streams the whole ``.bed`` once, in
the same SNP blocks as the one-shot run (:func:`heritcli.grm_stream.stream_blocks`):
every block's allele frequencies, and with them the ``--maf``/``--geno`` filters,
come from all the kept samples, exactly as in the one-shot run, and only the
first ``r1`` samples are standardized and accumulated into the band
(:class:`heritcli.core.grm.GrmAccumulator` with ``rows``).  So the merged parts
equal the one-shot GRM (bit for bit where the BLAS rounds bands as it rounds
the whole matrix: :func:`heritcli.core.grm.bands_match_whole`).  ``--freq FILE``
replaces the frequencies in every part alike.

The part is written as ``P.part_N_I.h5`` (:func:`heritcli.io.grm_artifact.write_grm_part`)
only when complete; it records the samples, the SNPs used, a hash of their
frequencies and the options, which ``herit merge-grm`` compares.  Rerunning the
same command finds the complete part and skips it, unless ``--force``.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from heritcli.allele_freq import SnpCounts
from heritcli.errors import DataError, UsageError
from heritcli.grm_build import (
    MakeGrmOptions,
    _describe_blas,
    _reason_counts,
    _reason_counts_text,
    input_fingerprints,
    plan_block,
    prepare_inputs,
    snp_summary,
)
from heritcli.grm_stream import BedReader, SnpFilter
from heritcli.reporting import Reporter, SilentReporter

if TYPE_CHECKING:
    from heritcli.core.grm import GrmSums


@dataclass(frozen=True)
class BandPlan:
    """Everything a row band needs, small and picklable (sent to dask workers as is).

    Attributes
    ----------
    reader : BedReader
    sample_index : ndarray of int or None
        Kept samples in matrix order (None: every sample of the ``.fam``).
    n_samples : int
        Samples kept (matrix order ``n``).
    candidates : ndarray of int
        ``.bim`` indices streamed (the blocks are runs of ``block`` of them).
    block : int
    precision : {"float32", "float64"}
    snp_filter : SnpFilter
    counts : SnpCounts or None
        Frequencies (as used) and call counts fixed beforehand by a first pass (the
        dask engine, whose client needs them before it sends out the bands); None:
        each block's are computed from its genotypes as it is streamed.
    freq : ndarray of float64 or None
        ``--freq`` frequencies per ``.bim`` variant, replacing the computed ones (only
        when ``counts`` is None: fixed counts already hold them).
    any_missing : bool or None
        With ``counts``: whether any call of a used SNP is missing (then pair counts
        are stored).  Without, the stream tells.
    """

    reader: BedReader
    sample_index: np.ndarray | None
    n_samples: int
    candidates: np.ndarray
    block: int
    precision: str
    snp_filter: SnpFilter
    counts: SnpCounts | None = None
    freq: np.ndarray | None = None
    any_missing: bool | None = None


@dataclass
class GrmBand:
    """Rows ``row_start:row_stop`` of the lower triangle (columns ``0:row_stop``).

    ``values`` and ``counts`` are float64 (``counts`` None when no call is
    missing); entries above the diagonal are 0.  ``freq`` and ``reason`` give, for
    every candidate SNP of the plan, the frequency used and why it was dropped
    (``""``: used); :func:`compute_band` always fills them.
    """

    row_start: int
    row_stop: int
    values: np.ndarray
    counts: np.ndarray | None
    n_snps: int
    freq: np.ndarray | None = None
    reason: np.ndarray | None = None


@dataclass(frozen=True)
class GrmPartResult:
    """What ``make-grm --part I/N`` did."""

    path: str
    part_index: int
    part_count: int
    row_start: int
    row_stop: int
    n_samples: int
    n_snps_used: int
    n_snps_in_bim: int
    snps_dropped: dict[str, int]
    samples_dropped: dict[str, int]
    any_missing: bool
    fingerprint: str
    seconds: float
    memory_estimate_bytes: int
    block_snps: int
    threads: int
    skipped: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BandSums:
    """What streaming a band leaves: its sums, and per candidate SNP the frequency used and
    why it was dropped (``""``: used); ``any_missing`` tells whether the part stores pair
    counts (a used SNP has a missing call in some sample, in the band or after it)."""

    sums: GrmSums
    freq: np.ndarray
    reason: np.ndarray
    any_missing: bool
    precision: str

    @property
    def n_rows(self) -> int:
        return int(self.sums.zz.shape[0])

    @property
    def has_counts(self) -> bool:
        """Whether :meth:`rows` returns pair counts."""
        return self.any_missing or self.sums.ss is not None

    def rows(self, lo: int, hi: int, threads: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
        """Finished values and pair counts of band rows ``lo:hi`` (0-based within the band).

        Without a missing call in the band's own samples but with some elsewhere, the
        counts are stored all the same (``M`` on and below the diagonal), so that every
        part of one GRM has the same layout.
        """
        from heritcli.core.grm import finished_band

        values, counts = finished_band(self.sums, self.precision, threads=threads, rows=(lo, hi))
        if counts is None and self.any_missing:
            r0 = self.sums.row_start
            width = self.sums.zz.shape[1]
            lower = np.arange(width)[None, :] <= (r0 + np.arange(lo, hi))[:, None]
            counts = np.where(lower, float(self.sums.n_snps), 0.0)
        return values, counts


def accumulate_band(
    plan: BandPlan,
    rows: tuple[int, int],
    *,
    progress: Any = None,
) -> BandSums:
    """Accumulate rows ``rows`` of the lower triangle from the ``.bed`` (BLAS threads as set).

    Blocks are decoded and added as in the one-shot run
    (:func:`heritcli.grm_build.overlap_decoding`): one after the other with the
    compiled kernels, else the BLAS update of one block runs in a worker thread
    while this thread decodes and standardizes the next.
    """
    from heritcli.core.grm import GrmAccumulator
    from heritcli.grm_build import overlap_decoding
    from heritcli.grm_stream import stream_blocks
    from heritcli.threads import blas_threads

    r1 = rows[1]
    acc = GrmAccumulator(
        plan.n_samples, precision=plan.precision, max_snps=int(plan.candidates.size), rows=rows
    )
    z_dtype = np.float64 if plan.precision == "float64" else np.float32
    threads = blas_threads()
    overlap = overlap_decoding(threads)
    freq = np.full(plan.candidates.size, np.nan)
    reason = np.full(plan.candidates.size, "", dtype=object)
    missing_used = False
    done = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="herit-band") as pool:
        pending: Future[None] | None = None
        stream = stream_blocks(
            plan.reader,
            plan.sample_index,
            plan.candidates,
            plan.block,
            plan.snp_filter,
            dtype=z_dtype,
            width=r1,
            counts=plan.counts,
            freq=plan.freq,
            # A z buffer is reused once its block is added: two while decoding overlaps.
            buffers=2 if overlap else 1,
            threads=1 if overlap else threads,
        )
        for streamed in stream:
            k = int(streamed.snps.size)
            freq[done : done + k] = streamed.stats.freq
            reason[done : done + k] = streamed.reason
            done += k
            used = streamed.reason == ""
            missing_used = missing_used or bool(streamed.stats.n_missing[used].any())
            if pending is not None:
                pending.result()
            z = streamed.z
            if not overlap:
                if z.shape[0]:
                    acc.add(z, streamed.missing)
            else:
                pending = pool.submit(acc.add, z, streamed.missing) if z.shape[0] else None
            if progress is not None:
                progress.advance(k)
        if pending is not None:
            pending.result()
    any_missing = missing_used if plan.any_missing is None else plan.any_missing
    return BandSums(acc.finish(), freq, reason, any_missing, plan.precision)


def compute_band(
    plan: BandPlan,
    rows: tuple[int, int],
    *,
    progress: Any = None,
) -> GrmBand:
    """:func:`accumulate_band`, finished into the band's values and pair counts at once."""
    from heritcli.threads import blas_threads

    streamed = accumulate_band(plan, rows, progress=progress)
    values, counts = streamed.rows(0, streamed.n_rows, threads=blas_threads())
    return GrmBand(
        rows[0], rows[1], values, counts, streamed.sums.n_snps, streamed.freq, streamed.reason
    )


def fixed_frequencies(
    options: MakeGrmOptions,
    inputs: Any,
    block: int,
    reporter: Reporter,
) -> tuple[SnpCounts, np.ndarray]:
    """First pass over the ``.bed`` (and ``--freq``): counts and the reasons of every SNP.

    Returns
    -------
    counts : SnpCounts
        With the frequencies that will be used (``--freq`` ones if given).
    reason : ndarray of str
        Static and genotype-dependent reasons for every ``.bim`` variant.
    """
    from heritcli.allele_freq import count_alleles

    fileset = inputs.fileset
    t0 = time.perf_counter()
    with reporter.task("allele counts", total=int(inputs.candidates.size), unit="SNPs") as task:
        counts = count_alleles(
            fileset,
            fileset.n_samples,
            inputs.column_index,
            inputs.candidates,
            block,
            n_bim=fileset.n_snps,
            progress=task,
        )
    if inputs.freq is not None:
        counts = replace(counts, freq=inputs.freq, source=inputs.freq_source)
    reason = inputs.reason.copy()
    snp_filter = SnpFilter(options.maf, options.max_maf, options.geno)
    reason[inputs.candidates] = snp_filter(counts.block(inputs.candidates))
    reporter.detail(f"first pass (allele counts): {time.perf_counter() - t0:.2f} s")
    if not (reason == "").any():
        raise DataError("no variants passed the filters " + _reason_counts_text(reason))
    return counts, reason


def band_plan(
    options: MakeGrmOptions,
    inputs: Any,
    block: int,
    counts: SnpCounts | None = None,
    reason: np.ndarray | None = None,
) -> BandPlan:
    """The plan of a band: with the ``counts`` (and ``reason``) of a first pass, or, by
    default, frequencies computed block by block as the band is streamed."""
    fixed = counts is not None and reason is not None
    return BandPlan(
        reader=BedReader.of(inputs.fileset),
        sample_index=inputs.column_index,
        n_samples=inputs.n_samples,
        candidates=inputs.candidates,
        block=block,
        precision=options.dtype,
        snp_filter=SnpFilter(options.maf, options.max_maf, options.geno),
        counts=counts,
        freq=None if fixed else inputs.freq,
        any_missing=bool(counts.n_missing[reason == ""].any()) if fixed else None,
    )


def consistency_record(
    options: MakeGrmOptions, inputs: Any, freq: np.ndarray, source: str, reason: np.ndarray
) -> dict[str, Any]:
    """What every part of one GRM must share (compared by ``merge-grm``).

    ``freq`` (per ``.bim`` variant) are the frequencies used, from ``source``.
    """
    from heritcli.allele_freq import freq_hash, snp_list_hash
    from heritcli.io.artifact import hash_ids

    fam, bim = inputs.fileset.fam, inputs.fileset.bim
    used = reason == ""
    return {
        "sample_hash": hash_ids(fam.fid[inputs.sample_index], fam.iid[inputs.sample_index]),
        "snp_hash": snp_list_hash(bim.snp_id, used),
        "freq_hash": freq_hash(bim.snp_id, freq, used),
        "freq_source": source,
        "science_params": json.dumps(options.science_params(), sort_keys=True),
    }


def comparable_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Input fingerprints without their paths (a part may be rerun from another directory)."""
    return {
        name: {k: v for k, v in record.items() if k != "path"} for name, record in inputs.items()
    }


def existing_part_matches(
    target: Path, spec: tuple[int, int], options: MakeGrmOptions, inputs: dict[str, Any]
) -> str | None:
    """None when ``target`` is this part, complete, from the same inputs and options;
    otherwise the reason it is not."""
    from heritcli.errors import HeritError
    from heritcli.io.grm_artifact import read_grm_part

    try:
        part = read_grm_part(target)
    except HeritError as exc:
        return f"it is unreadable or not a part ({exc.message})"
    attrs = part.attrs
    if (part.part_index, part.part_count) != spec:
        return f"it is part {part.part_index}/{part.part_count}"
    params = json.dumps(options.science_params(), sort_keys=True)
    if attrs.get("science_params") != params:
        return "it was made with other options"
    recorded = comparable_inputs(json.loads(str(attrs.get("inputs", "{}"))))
    if recorded != comparable_inputs(inputs):
        changed = sorted(set(recorded) ^ set(inputs)) or [
            k for k in inputs if recorded.get(k) != comparable_inputs(inputs).get(k)
        ]
        return f"its input files changed ({', '.join(changed)})"
    return None


def build_grm_part(
    options: MakeGrmOptions,
    *,
    command: str = "",
    reporter: Reporter | None = None,
) -> GrmPartResult:
    """Compute part I of N of a GRM and write ``OUT.part_N_I.h5`` (see the module docstring)."""
    from heritcli.core.grm import part_bounds
    from heritcli.io.atomic import check_writable_dir
    from heritcli.io.grm_artifact import read_grm_part, write_grm_part
    from heritcli.threads import limit_threads

    reporter = reporter or SilentReporter()
    options.validate()
    spec = options.part_spec()
    assert spec is not None
    index, count = spec
    started = time.perf_counter()
    target = check_writable_dir(options.output_path())
    inputs = prepare_inputs(options, reporter)
    n = inputs.n_samples
    if count > n:
        raise UsageError(
            f"--part {index}/{count}: the GRM has only {n} samples, so at most {n} parts",
            hint=f"use --part I/N with N <= {n}",
        )
    bounds = part_bounds(n, count)
    r0, r1 = bounds[index - 1], bounds[index]
    fingerprints = input_fingerprints(options, inputs.fileset)
    if target.exists() and not options.force:
        why_not = existing_part_matches(target, spec, options, fingerprints)
        if why_not is None:
            part = read_grm_part(target)
            reporter.info(
                f"part {index}/{count} is already complete in {target} (same inputs and "
                "options): skipped; --force recomputes it"
            )
            return GrmPartResult(
                path=os.fspath(target),
                part_index=index,
                part_count=count,
                row_start=r0,
                row_stop=r1,
                n_samples=n,
                n_snps_used=part.n_snps,
                n_snps_in_bim=inputs.fileset.n_snps,
                snps_dropped={},
                samples_dropped=inputs.samples_dropped,
                any_missing=part.any_missing,
                fingerprint=part.fingerprint,
                seconds=time.perf_counter() - started,
                memory_estimate_bytes=0,
                block_snps=0,
                threads=0,
                skipped=True,
            )
        reporter.info(f"{target} exists but {why_not}: recomputing part {index}/{count}")
    block, estimate = plan_block(
        options, inputs, reporter, rows=(r0, r1), what=f"part {index}/{count}"
    )
    share = (r1 * (r1 + 1) - r0 * (r0 + 1)) / (n * (n + 1))
    reporter.info(
        f"part {index}/{count}: rows {r0 + 1}-{r1} of {n} "
        f"({100 * share:.1f}% of the lower triangle)"
    )
    timings: dict[str, float] = {}
    with limit_threads(options.threads) as n_threads:
        reporter.detail(f"threads: {n_threads}; BLAS: {_describe_blas()}")
        plan = band_plan(options, inputs, block)
        t1 = time.perf_counter()
        with reporter.task(
            f"make-grm part {index}/{count}", total=int(inputs.candidates.size), unit="SNPs"
        ) as progress:
            band = accumulate_band(plan, (r0, r1), progress=progress)
        timings["accumulate"] = time.perf_counter() - t1
    reason = inputs.reason.copy()
    reason[inputs.candidates] = band.reason
    n_snps = band.sums.n_snps
    if n_snps == 0:
        raise DataError("no variants passed the filters " + _reason_counts_text(reason))
    freq = np.full(inputs.fileset.n_snps, np.nan)
    freq[inputs.candidates] = band.freq
    t2 = time.perf_counter()
    fam = inputs.fileset.fam
    record = consistency_record(options, inputs, freq, inputs.freq_source, reason)
    fingerprint = write_grm_part(
        target,
        # Finished a tile of rows at a time as it is written: the band's values and counts
        # never exist whole next to its sums.
        rows=lambda lo, hi: band.rows(lo, hi, threads=n_threads),
        shape=(r1 - r0, r1),
        has_counts=band.has_counts,
        fid=fam.fid[inputs.sample_index],
        iid=fam.iid[inputs.sample_index],
        part_index=index,
        part_count=count,
        row_start=r0,
        n_snps=n_snps,
        dtype=options.dtype,
        snps=snp_summary(inputs.fileset.bim, freq, reason),
        command=command,
        params=asdict(options),
        inputs=fingerprints,
        extra={**record, "block_snps": block},
    )
    timings["write"] = time.perf_counter() - t2
    return GrmPartResult(
        path=os.fspath(target),
        part_index=index,
        part_count=count,
        row_start=r0,
        row_stop=r1,
        n_samples=n,
        n_snps_used=n_snps,
        n_snps_in_bim=inputs.fileset.n_snps,
        snps_dropped=_reason_counts(reason),
        samples_dropped=inputs.samples_dropped,
        any_missing=band.has_counts,
        fingerprint=fingerprint,
        seconds=time.perf_counter() - started,
        memory_estimate_bytes=estimate.total,
        block_snps=block,
        threads=n_threads,
        timings=timings,
    )


__all__ = [
    "BandPlan",
    "BandSums",
    "GrmBand",
    "GrmPartResult",
    "accumulate_band",
    "build_grm_part",
    "compute_band",
]
