#!/usr/bin/env bash
# VGG19 on CIFAR-100 with the smooth schedule (the paper's appendix A.5, Figs 16 and 17): 10 seeds
# trained at once (one task per seed), then the re-initialization grid over the same tasks.
#   sbatch slurm/vgg19_cifar100.sh                     (from the repository root, after a build)
# Variables (HPA_DATA_DIR, HPA_RUN_DIR, HPA_DEVICE, ...): see slurm/small_image_run.sh.
#SBATCH --job-name=hpa-vgg19-cifar100
#SBATCH --ntasks=10
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --output=hpa-vgg19-cifar100-%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=USR2@300
job=vgg19_cifar100_exp config=vgg19_cifar100_exp.cfg
grid_epochs=0,1,2,3,5,10,20,30,40,50,60,70,75
source "${SLURM_SUBMIT_DIR:-.}/slurm/small_image_run.sh"
