#!/usr/bin/env bash
# VGG19 on ImageNet (the paper's Figs 8, 19 and 22 bottom): 3 seeds trained at once, each by a seed
# group of 4 GPUs (12 tasks, one per GPU), then the re-initialization grid.
#   HPA_PACK_DIR=/scratch/imagenet_packs sbatch slurm/vgg19_imagenet.sh          (from the repository root)
#   HPA_PACK_DIR=... sbatch slurm/vgg19_imagenet.sh orig    VGG19 with the N(0, 0.01) init, 10 epochs (Fig. 15)
#   HPA_PACK_DIR=... sbatch slurm/vgg19_imagenet.sh exp     smooth schedule, pixels in [-1, 1] (Figs 21, 22)
# Variables: see slurm/imagenet_run.sh. Resubmit the same command to continue after a time limit.
# Without GPUs: HPA_DEVICE=cpu sbatch --gpus-per-task=0 [--nodes/--ntasks...] slurm/vgg19_imagenet.sh
#SBATCH --job-name=hpa-vgg19-imagenet
#SBATCH --nodes=3
#SBATCH --ntasks-per-node=4
#SBATCH --gpus-per-task=1
#SBATCH --cpus-per-task=8
#SBATCH --time=48:00:00
#SBATCH --output=hpa-vgg19-imagenet-%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=USR2@600
if [[ "${1:-}" == orig ]]; then
  job=vgg19_orig_imagenet config=vgg19_orig_imagenet.cfg grid_epochs=0,1,2,3,5,10
elif [[ "${1:-}" == exp ]]; then
  job=vgg19_imagenet_exp config=vgg19_imagenet_exp.cfg grid_epochs=0,1,2,3,5,10,20,30,40,50,60,70,75
else
  job=vgg19_imagenet config=vgg19_imagenet.cfg grid_epochs=0,1,2,3,5,10,20,30,40,50,60,70,75
fi
source "${SLURM_SUBMIT_DIR:-.}/slurm/imagenet_run.sh"
