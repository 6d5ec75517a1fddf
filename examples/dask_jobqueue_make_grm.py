#!/usr/bin/env python3
"""make-grm on a dask cluster started by dask-jobqueue (SLURM here; PBSCluster etc. alike).

Run it on a login node or in a small job that lives as long as the computation:

    python examples/dask_jobqueue_make_grm.py --bfile data --out grm --jobs 4 \\
        --cores 16 --memory 64GB --walltime 04:00:00

dask-jobqueue submits ``--jobs`` SLURM jobs, each running one dask worker with
``--cores`` cores; herit connects to their scheduler and spreads the GRM's row
bands over them.  ``--local N`` starts N workers on this machine instead (no
SLURM, no dask-jobqueue needed; what the test suite runs).

Requires ``pip install 'herit[cluster]' dask-jobqueue``.
"""

from __future__ import annotations

import argparse
import contextlib

from heritcli import api


def cluster_for(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    if args.local:
        from distributed import LocalCluster

        return LocalCluster(
            n_workers=args.local, threads_per_worker=1, processes=False, dashboard_address=":0"
        )
    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster(
        cores=args.cores,
        processes=1,  # one worker per job: each band uses all the job's cores for BLAS
        memory=args.memory,
        walltime=args.walltime,
        job_extra_directives=[f"--cpus-per-task={args.cores}"],
    )
    cluster.scale(jobs=args.jobs)
    return cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bfile", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", type=int, default=4, help="SLURM jobs (one worker each)")
    parser.add_argument("--cores", type=int, default=16)
    parser.add_argument("--memory", default="64GB")
    parser.add_argument("--walltime", default="04:00:00")
    parser.add_argument("--local", type=int, default=0, help="N local workers instead")
    args = parser.parse_args()
    with cluster_for(args) as cluster:
        if not args.local:
            from distributed import Client

            with Client(cluster) as client:
                client.wait_for_workers(args.jobs)
        address = cluster.scheduler_address
        result = api.make_grm(args.bfile, out=args.out, scheduler=address)
    print(f"wrote {result.path}: {result.n_samples} samples, {result.n_snps_used} SNPs")


if __name__ == "__main__":
    main()
