#!/bin/bash
# One SLURM job that starts a dask scheduler and workers by hand and runs make-grm on them.
#
#   sbatch --nodes=4 --ntasks-per-node=1 --cpus-per-task=16 --mem=64G examples/slurm_dask_cluster.sh
#
# The scheduler runs on the first node, one worker per task (srun); the workers
# read the .bed from the shared file system.  Each worker runs one band at a
# time with all its cores for BLAS (--nthreads 1; herit bounds BLAS to the
# worker's cores).
#SBATCH --job-name=herit-grm-dask
#SBATCH --time=04:00:00
set -euo pipefail

BFILE=${BFILE:-data}
OUT=${OUT:-grm}
SCHEDULER_FILE=${SCHEDULER_FILE:-$PWD/dask-scheduler-$SLURM_JOB_ID.json}

dask scheduler --scheduler-file "$SCHEDULER_FILE" &
scheduler=$!
srun dask worker --scheduler-file "$SCHEDULER_FILE" --nthreads 1 \
    --memory-limit "${SLURM_MEM_PER_NODE}MiB" &
workers=$!

herit make-grm --bfile "$BFILE" --out "$OUT" --scheduler "$SCHEDULER_FILE"

kill "$workers" "$scheduler"
