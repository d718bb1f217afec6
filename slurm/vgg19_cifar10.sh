#!/usr/bin/env bash
# The paper's main experiment on a cluster: VGG19 on CIFAR-10, 10 seeds trained at once, one seed
# group of 1 rank per seed (10 tasks), then the re-initialization grid farmed over the same tasks.
#   sbatch slurm/vgg19_cifar10.sh [step|exp] [RUN_DIR]      (from the repository root, after a build)
# A resubmitted job continues the run (--resume) and the grid (reinit.h5).
#SBATCH --job-name=hpa-vgg19-cifar10
#SBATCH --ntasks=10
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --output=hpa-vgg19-cifar10-%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=USR2@300
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
schedule=${1:-step}
build=${HPA_BUILD_DIR:-build/release}
run_dir=${2:-runs/vgg19_cifar10_$schedule}
mode=()
[[ -f "$run_dir/run.h5" ]] && mode=(--resume)
source slurm/requeue.sh
hpa_train_step "$build/src/hpa-train" --config "jobs/vgg19_cifar10_$schedule.cfg" --out "$run_dir" "${mode[@]}"
srun --kill-on-bad-exit=1 --mpi=pmix "$build/src/hpa-reinit-grid" "$run_dir" --epochs 0,1,2,3,5,10,20,30,40,50,60,70,75 --rerandomize 3
