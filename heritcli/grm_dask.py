"""``make-grm --scheduler ADDRESS``: the GRM's row bands computed by the workers of a dask cluster.

herit does not start or manage a cluster: it connects to a running
``dask.distributed`` scheduler (started by ``dask-jobqueue`` on SLURM/PBS, by
``dask scheduler`` / ``dask worker`` in a job script, or a ``LocalCluster``),
given as ``tcp://host:port`` or as the path of a scheduler file
(``dask scheduler --scheduler-file FILE``).

The client (this process) reads the ``.fam``/``.bim``, counts alleles once
(:func:`heritcli.grm_parts.fixed_frequencies`) and sends each worker a
:class:`~heritcli.grm_parts.BandPlan` (a few arrays, broadcast once) and a row
range; a task reads the ``.bed`` itself — workers must see the same file
system — and returns its band (:func:`heritcli.grm_parts.compute_band`).  The
row ranges are those of ``make-grm --part I/N`` with N = the worker threads, so
each task does about the same work; the bands are assembled into the artifact
as ``merge-grm`` does.  The result therefore equals the local run as merged
parts equal the one-shot GRM (:func:`heritcli.core.grm.bands_match_whole`).

Memory: the client holds the bands, about ``8·n²/2`` bytes (twice that when
genotypes are missing); a worker needs what a part of the same rows needs.
``distributed`` is imported only here (``pip install 'herit[cluster]'``).
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from heritcli.errors import InputError, UsageError
from heritcli.grm_build import (
    MakeGrmOptions,
    MakeGrmResult,
    finished_result,
    input_fingerprints,
    plan_block,
    prepare_inputs,
    snp_summary,
)
from heritcli.reporting import Reporter, SilentReporter

#: Seconds to wait for the scheduler to answer (environment variable ``HERIT_DASK_TIMEOUT``).
CONNECT_TIMEOUT = 30


def connect(address: str) -> Any:
    """A ``distributed.Client`` for a scheduler address or scheduler file.

    Raises
    ------
    UsageError
        ``distributed`` is not installed.
    InputError
        The scheduler cannot be reached (the message names the address).
    """
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(
            "--scheduler needs the dask.distributed package",
            hint="install it with: pip install 'herit[cluster]'",
        ) from None
    text = os.environ.get("HERIT_DASK_TIMEOUT", "")
    timeout = float(text) if text.replace(".", "", 1).isdigit() else CONNECT_TIMEOUT
    try:
        if os.path.isfile(address):
            return Client(scheduler_file=address, timeout=timeout)
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(
            f"cannot connect to the dask scheduler at {address}: {exc}",
            hint="start one (see docs/cluster.md) and give its tcp:// address or scheduler file",
        ) from None


def worker_threads(client: Any) -> int:
    """Threads of all the workers connected to the scheduler."""
    return int(sum(client.nthreads().values()))


def band_task(plan: Any, rows: tuple[int, int], threads: int | None) -> Any:
    """Run on a worker: one band, its BLAS bounded to ``threads`` (default: its share of cores).

    A worker running ``t`` tasks at once on ``c`` cores gives each ``c // t``
    BLAS threads, so the tasks together never use more cores than the worker has.
    """
    from heritcli.grm_parts import compute_band
    from heritcli.threads import available_cores, limit_threads

    if threads is None:
        try:
            from distributed import get_worker

            concurrent = int(get_worker().state.nthreads)
        except (ImportError, ValueError, AttributeError):
            concurrent = 1
        threads = max(1, available_cores() // max(concurrent, 1))
    with limit_threads(threads):
        return compute_band(plan, rows)


def build_grm_distributed(
    options: MakeGrmOptions,
    *,
    command: str = "",
    reporter: Reporter | None = None,
) -> MakeGrmResult:
    """Build the GRM on the dask cluster at ``options.scheduler`` (see the module docstring)."""
    from heritcli.core.grm import part_bounds
    from heritcli.grm_merge import assemble_rows
    from heritcli.grm_parts import band_plan, fixed_frequencies
    from heritcli.io.atomic import check_writable_dir
    from heritcli.io.grm_artifact import write_grm_artifact
    from heritcli.memory_budget import format_bytes
    from heritcli.threads import limit_threads

    reporter = reporter or SilentReporter()
    options.validate()
    assert options.scheduler is not None
    started = time.perf_counter()
    timings: dict[str, float] = {}
    target = check_writable_dir(options.output_path())
    inputs = prepare_inputs(options, reporter)
    n = inputs.n_samples
    client = connect(options.scheduler)
    try:
        n_threads = worker_threads(client)
        if n_threads == 0:
            raise InputError(f"the dask scheduler at {options.scheduler} has no workers")
        n_tasks = max(1, min(n, n_threads))
        bounds = part_bounds(n, n_tasks)
        widest = max(itertools.pairwise(bounds), key=lambda r: (r[1] - r[0]) * r[1])
        reporter.info(
            f"dask scheduler {options.scheduler}: {len(client.nthreads())} workers, "
            f"{n_threads} threads; {n_tasks} row bands"
        )
        block, _ = plan_block(options, inputs, reporter, rows=widest, what="a worker's band")
        reporter.info(
            f"this process gathers the bands: about {format_bytes(8 * n * (n + 1))} "
            "(values and pair counts)"
        )
        t0 = time.perf_counter()
        with limit_threads(options.threads):
            counts, reason = fixed_frequencies(options, inputs, block, reporter)
        timings["allele counts"] = time.perf_counter() - t0
        plan = band_plan(options, inputs, block, counts, reason)
        t1 = time.perf_counter()
        bands = _run_bands(client, plan, bounds, options.threads, reporter)
        timings["accumulate"] = time.perf_counter() - t1
    finally:
        client.close()
    t2 = time.perf_counter()
    fam = inputs.fileset.fam
    with_counts = bool(plan.any_missing)
    n_used = int((reason == "").sum())
    written = write_grm_artifact(
        target,
        n_samples=n,
        rows=lambda a, b: assemble_rows(bands, n, a, b, with_counts=with_counts),
        has_n_pairs=with_counts,
        fid=fam.fid[inputs.sample_index],
        iid=fam.iid[inputs.sample_index],
        n_snps=n_used,
        dtype=options.dtype,
        snps=snp_summary(inputs.fileset.bim, counts.freq, reason),
        command=command,
        params=asdict(options),
        inputs=input_fingerprints(options, inputs.fileset),
        grm_attrs={"maf_min": options.maf, "max_maf": options.max_maf},
    )
    timings["write"] = time.perf_counter() - t2
    return finished_result(
        Path(target),
        inputs=inputs,
        reason=reason,
        n_snps=n_used,
        any_missing=with_counts,
        written=written,
        seconds=time.perf_counter() - started,
        memory_bytes=8 * n * (n + 1),
        block=block,
        threads=n_threads,
        timings=timings,
    )


def _run_bands(
    client: Any, plan: Any, bounds: list[int], threads: int | None, reporter: Reporter
) -> list[Any]:
    from distributed import as_completed

    [shared] = client.scatter([plan], broadcast=True)
    futures = [
        client.submit(band_task, shared, (a, b), threads, pure=False)
        for a, b in itertools.pairwise(bounds)
    ]
    bands = []
    try:
        with reporter.task("make-grm on dask", total=len(futures), unit="bands") as progress:
            for future in as_completed(futures):
                bands.append(future.result())
                future.release()
                progress.advance(1)
    except BaseException:
        client.cancel(futures)
        raise
    return sorted(bands, key=lambda band: band.row_start)


__all__ = ["band_task", "build_grm_distributed", "connect", "worker_threads"]
