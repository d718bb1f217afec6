#!/usr/bin/env bash
# The paper's LeNet variant on MNIST with the smooth schedule (Fig. 21, appendix A.7): 3 seeds
# trained at once (one task per seed), then the re-initialization grid over the same tasks.
#   HPA_DATA_DIR=/data/mnist sbatch slurm/lenet_mnist.sh     (from the repository root, after a build)
# Variables (HPA_DATA_DIR, HPA_RUN_DIR, HPA_DEVICE, ...): see slurm/small_image_run.sh.
#SBATCH --job-name=hpa-lenet-mnist
#SBATCH --ntasks=3
#SBATCH --cpus-per-task=4
#SBATCH --time=06:00:00
#SBATCH --output=hpa-lenet-mnist-%j.out
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=USR2@300
job=lenet_mnist_exp config=lenet_mnist_exp.cfg
grid_epochs=0,1,2,3,5,10,20,30,40,50,60,70,75
source "${SLURM_SUBMIT_DIR:-.}/slurm/small_image_run.sh"
