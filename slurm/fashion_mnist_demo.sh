#!/usr/bin/env bash
# The Fashion-MNIST demo as a Slurm job: 2 tasks, one seed group per seed (jobs/fashion_mnist_demo.cfg
# trains seeds 0 and 1), 1 CPU per task, then the re-initialization grid over the same 2 tasks.
#   sbatch slurm/fashion_mnist_demo.sh [RUN_DIR]          (from the repository root, after a build)
# HPA_EXTRA adds hpa-train options (e.g. --epochs 3); HPA_BUILD_DIR picks the build (build/release).
#SBATCH --job-name=hpa-fmnist-demo
#SBATCH --ntasks=2
#SBATCH --cpus-per-task=1
#SBATCH --time=01:00:00
#SBATCH --output=hpa-fmnist-demo-%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=USR2@120
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
build=${HPA_BUILD_DIR:-build/release}
run_dir=${1:-runs/fashion_mnist_demo_slurm}
mode=()
[[ -f "$run_dir/run.h5" ]] && mode=(--resume)  # a requeued or resubmitted job continues
source slurm/requeue.sh
# shellcheck disable=SC2086
hpa_step training "$build/src/hpa-train" --config jobs/fashion_mnist_demo.cfg --out "$run_dir" "${mode[@]}" ${HPA_EXTRA:-}
# shellcheck disable=SC2086
hpa_step "the grid" "$build/src/hpa-reinit-grid" "$run_dir" ${HPA_GRID_EXTRA:-}
