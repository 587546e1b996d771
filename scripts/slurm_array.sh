#!/usr/bin/env bash
# Run one jaxneuron sweep as a SLURM job array: array task I of N runs chunks I, I+N, I+2N, ...
# (`jaxneuron sweep --shard I/N`). All tasks write into the same database; whichever starts
# first creates it, the others join it (the spec must be the same: the tasks refuse otherwise).
#
#   sbatch --array=0-63 scripts/slurm_array.sh sweeps/prinz2003.toml /scratch/$USER/prinz2003.zarr
#   jaxneuron info /scratch/$USER/prinz2003.zarr          # progress and class fractions, any time
#
# Interrupted, timed out or failed tasks: submit the same array again. Chunks already done are
# skipped and a chunk whose task was killed mid-write is redone, so the finished database is the
# same as one uninterrupted run. Keep N (the array size) the same when resubmitting, or resubmit
# a single task with `jaxneuron sweep SPEC --out DB --resume` to finish everything left.
#
# Without SLURM, the same on one machine with 4 processes:
#   for i in 0 1 2 3; do jaxneuron sweep SPEC --out DB --shard $i/4 --no-progress & done; wait
#
#SBATCH --job-name=jaxneuron-sweep
#SBATCH --cpus-per-task=4
#SBATCH --mem=16G
#SBATCH --time=24:00:00
#SBATCH --output=jaxneuron-sweep-%A_%a.log
# On GPU nodes add:  #SBATCH --gres=gpu:1   (and install jax with CUDA support)
set -euo pipefail

spec=${1:?usage: sbatch --array=0-N scripts/slurm_array.sh SPEC.toml OUT.zarr}
out=${2:?usage: sbatch --array=0-N scripts/slurm_array.sh SPEC.toml OUT.zarr}
index=$(( ${SLURM_ARRAY_TASK_ID:-0} - ${SLURM_ARRAY_TASK_MIN:-0} ))
count=${SLURM_ARRAY_TASK_COUNT:-1}

# Compiled chunk programs are cached here and reused by every task on a shared filesystem.
export JAXNEURON_COMPILATION_CACHE=${JAXNEURON_COMPILATION_CACHE:-$HOME/.cache/jaxneuron/jax}

echo "task $index of $count on $(hostname): $spec -> $out"
exec jaxneuron sweep "$spec" --out "$out" --shard "$index/$count" --no-progress
