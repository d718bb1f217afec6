# shellcheck shell=bash
# The body the ImageNet batch scripts share (sourced, not submitted): trains the job config
# $config into HPA_RUN_DIR from the packs in HPA_PACK_DIR, one rank per GPU, then runs the
# re-initialization grid over the same tasks. SIGUSR2 before the time limit (or SIGTERM on
# preemption) makes hpa-train checkpoint and the job requeue itself (slurm/requeue.sh); a requeued or
# resubmitted job continues both: hpa-train --resume from the checkpoint's step, the grid from
# RUN/reinit.h5.
#   HPA_PACK_DIR   folder with train.h5 and val.h5 (hpa-pack; docs/imagenet.md)     required
#   HPA_RUN_DIR    the run directory                                                 default runs/<job>
#   HPA_DEVICE     cuda, or cpu on a cluster without GPUs (then submit with --gpus-per-task=0)
#   HPA_GRID_EPOCHS  the reset epochs of the grid                                    default per job
#   HPA_GRID_RERANDOMIZE  re-draws from the init distribution per layer              default 3
#   HPA_EXTRA, HPA_GRID_EXTRA   more options for hpa-train and hpa-reinit-grid
#   HPA_BUILD_DIR  the build to run                                                  default build/release
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
: "${job:?}" "${config:?}" "${grid_epochs:?}"  # set by the script that sources this one
: "${HPA_PACK_DIR:?set HPA_PACK_DIR to the folder holding train.h5 and val.h5}"
build=${HPA_BUILD_DIR:-build/release}
run_dir=${HPA_RUN_DIR:-runs/$job}
mode=()
[[ -f "$run_dir/run.h5" ]] && mode=(--resume)
echo "$job: packs $HPA_PACK_DIR, run $run_dir, device ${HPA_DEVICE:-cuda}, $SLURM_NTASKS task(s) ${mode[*]}"
# Each task takes the GPU local_rank % the GPUs it sees (its own one under --gpus-per-task=1);
# compute and decoding threads = --cpus-per-task. Both phases run on the same device.
source slurm/requeue.sh
# shellcheck disable=SC2086
hpa_step training "$build/src/hpa-train" --config "jobs/$config" --data-dir "$HPA_PACK_DIR" \
  --device "${HPA_DEVICE:-cuda}" --out "$run_dir" "${mode[@]}" ${HPA_EXTRA:-}
# shellcheck disable=SC2086
hpa_step "the grid" "$build/src/hpa-reinit-grid" "$run_dir" --device "${HPA_DEVICE:-cuda}" \
  --epochs "${HPA_GRID_EPOCHS:-$grid_epochs}" --rerandomize "${HPA_GRID_RERANDOMIZE:-3}" ${HPA_GRID_EXTRA:-}
