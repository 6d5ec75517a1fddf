#!/bin/bash
# Merge the parts written by examples/slurm_make_grm_parts.sh into OUT.h5.
#
#   sbatch --dependency=afterok:JOBID --export=ALL,N_PARTS=10 examples/slurm_merge_grm.sh
#
# merge-grm checks that all N parts are there and were made from the same samples,
# SNPs, allele frequencies and options; a missing part is named in the error.
#SBATCH --job-name=herit-grm-merge
#SBATCH --cpus-per-task=1
#SBATCH --mem=4G
#SBATCH --time=01:00:00
set -euo pipefail

OUT=${OUT:-grm}
N_PARTS=${N_PARTS:?set N_PARTS to the number of parts}

herit merge-grm "${OUT}".part_"${N_PARTS}"_*.h5 --out "$OUT"
