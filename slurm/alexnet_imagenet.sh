#!/usr/bin/env bash
# AlexNet on ImageNet (the paper's Figs 4, 5 and 18): 3 seeds trained at once, each by a seed group of
# 2 GPUs (6 tasks, one per GPU), then the re-initialization grid.
#   HPA_PACK_DIR=/scratch/imagenet_packs sbatch slurm/alexnet_imagenet.sh        (from the repository root)
# Variables: see slurm/imagenet_run.sh. Resubmit the same command to continue after a time limit.
# Without GPUs: HPA_DEVICE=cpu sbatch --gpus-per-task=0 [--nodes/--ntasks...] slurm/alexnet_imagenet.sh
#SBATCH --job-name=hpa-alexnet-imagenet
#SBATCH --nodes=3
#SBATCH --ntasks-per-node=2
#SBATCH --gpus-per-task=1
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --output=hpa-alexnet-imagenet-%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=USR2@600
job=alexnet_imagenet config=alexnet_imagenet.cfg grid_epochs=0,1,2,3,5,10,20,30,40,50,60,70,75
source "${SLURM_SUBMIT_DIR:-.}/slurm/imagenet_run.sh"
