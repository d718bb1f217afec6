#!/usr/bin/env bash
# VGG19 on CIFAR-10, every seed of the job trained at once (one task per seed), then the
# re-initialization grid farmed over the same tasks (docs/experiments.md maps figures to jobs).
#   sbatch [--ntasks=3] slurm/vgg19_cifar10.sh EXPERIMENT        (from the repository root, after a build)
# EXPERIMENT (jobs/vgg19_cifar10_EXPERIMENT.cfg):
#   step            step schedule, 10 seeds              Figs 2, 7, 22 top left, 23
#   exp             smooth schedule, 10 seeds            Figs 21, 22 top right, 24
#   random_labels   every training label wrong, 3 seeds  Fig. 6     (submit with --ntasks=3)
#   pixel_shuffle   shuffled training pixels, 3 seeds    Fig. 20    (submit with --ntasks=3)
#   clean_mult      pixel_shuffle's schedule on clean pixels, 3 seeds: its control (--ntasks=3)
#   unit_pixels     pixels in [0, 1], 3 seeds            Fig. 21 "CIFAR10/+" (submit with --ntasks=3)
# Variables (HPA_DATA_DIR, HPA_RUN_DIR, HPA_DEVICE, ...): see slurm/small_image_run.sh. Resubmit the
# same command to continue after a time limit.
#SBATCH --job-name=hpa-vgg19-cifar10
#SBATCH --ntasks=10
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --output=hpa-vgg19-cifar10-%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=USR2@300
experiment=${1:-step}
job=vgg19_cifar10_$experiment config=vgg19_cifar10_$experiment.cfg
grid_epochs=0,1,2,3,5,10,20,30,40,50,60,70,75
# Compatibility: the second argument used to be the run directory.
[[ -n "${2:-}" ]] && HPA_RUN_DIR=$2
source "${SLURM_SUBMIT_DIR:-.}/slurm/small_image_run.sh"
