#!/bin/bash
# A GRM in parts as a SLURM array job: one part per array task, then one merge job.
#
#   sbatch --array=1-10 examples/slurm_make_grm_parts.sh            # the parts
#   sbatch --dependency=afterok:JOBID examples/slurm_merge_grm.sh    # the merge
#
# Each task runs `herit make-grm --part I/N` with I = SLURM_ARRAY_TASK_ID and
# N = SLURM_ARRAY_TASK_COUNT, bounded to the cores (--threads) and memory
# (--memory) SLURM gave it.  A task killed at walltime leaves no part file;
# resubmitting the same array redoes only the parts that are missing.
#
# Settings (environment variables, with defaults):
#   BFILE  PLINK prefix of the genotypes        (data)
#   OUT    output prefix: OUT.part_N_I.h5       (grm)
#   FREQ   optional shared frequency file from `herit freq` (none)
#SBATCH --job-name=herit-grm
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --output=herit-grm-%A_%a.out
set -euo pipefail

BFILE=${BFILE:-data}
OUT=${OUT:-grm}
N_PARTS=${SLURM_ARRAY_TASK_COUNT:?run this script as an array job (sbatch --array=1-N)}
PART=${SLURM_ARRAY_TASK_ID:?run this script as an array job (sbatch --array=1-N)}
# SLURM_MEM_PER_NODE is in MiB; leave a little room for the shell and the log.
MEMORY=$(( ${SLURM_MEM_PER_NODE:-8192} * 9 / 10 ))M

extra=()
if [[ -n "${FREQ:-}" ]]; then
    extra+=(--freq "$FREQ")
fi

herit make-grm --bfile "$BFILE" --out "$OUT" \
    --part "${PART}/${N_PARTS}" \
    --threads "${SLURM_CPUS_PER_TASK:-1}" \
    --memory "$MEMORY" \
    "${extra[@]}"
