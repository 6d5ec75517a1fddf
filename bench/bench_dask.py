#!/usr/bin/env python3
"""Benchmark ``make-grm --scheduler``: a two-worker dask cluster vs the local run, same machine.

Starts a ``distributed.LocalCluster`` of ``--workers`` worker processes with one
thread each, then times (fresh processes, round-robin, ``--repeat`` times)

* ``herit make-grm --bfile P --threads W`` (local, W = workers), and
* ``herit make-grm --bfile P --scheduler ADDRESS`` (each band's BLAS on one core),

checks that both GRMs agree (same fingerprint, or else the largest difference), and
prints a Markdown table with
the load average.  On one machine the cluster cannot be faster than the local
run; the ratio measures the engine's overhead (scheduling, shipping the bands
to the client, every band reading the ``.bed``).  ``--append`` adds the table to
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_parts import SCRATCH, agreement, dataset, herit_command, load, timed  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from distributed import LocalCluster

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5123)
    ap.add_argument("--m", type=int, default=50000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--append", action="store_true")
    args = ap.parse_args(argv)
    prefix = dataset(args.n, args.m)
    prefix.with_suffix(".bed").read_bytes()
    work = SCRATCH / "runs" / f"dask_n{args.n}_m{args.m}"
    work.mkdir(parents=True, exist_ok=True)
    herit = herit_command()
    load_before = load()
    local: list[float] = []
    remote: list[float] = []
    with LocalCluster(
        n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        for _ in range(args.repeat):
            local_run = [*herit, "make-grm", "--bfile", str(prefix), "--out",
                         str(work / "local"), "--threads", str(args.workers), "-q"]  # fmt: skip
            local.append(timed(local_run))
            remote.append(timed([*herit, "make-grm", "--bfile", str(prefix), "--out",
                                 str(work / "dask"), "--scheduler", cluster.scheduler_address,
                                 "-q"]))  # fmt: skip
    same = agreement(work / "dask.h5", work / "local.h5")
    lines = [
        f"## make-grm on a {args.workers}-worker dask cluster vs local ({dt.date.today()})",
        "",
        f"- Command: `python bench/bench_dask.py {shlex.join(argv or sys.argv[1:])}`",
        f"- LocalCluster: {args.workers} worker processes × 1 thread on this {os.cpu_count()}-core "
        f"machine; local run `--threads {args.workers}`; data `{prefix.name}`",
        f"- Load average (1/5/15 min): before {load_before}, after {load()}",
        f"- Best of {args.repeat} round-robin repetitions, fresh processes",
        "",
        "| run | wall (s) | vs local | same GRM |",
        "|---|---:|---:|---|",
        f"| local `make-grm --threads {args.workers}` | {min(local):.2f} | 1.00× | |",
        f"| `make-grm --scheduler` ({args.workers} workers) | {min(remote):.2f} | "
        f"{min(remote) / min(local):.2f}× | {same} |",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.append:
        with open(BENCH_DIR / "RESULTS.md", "a", encoding="utf-8") as handle:
            handle.write("\n" + report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
