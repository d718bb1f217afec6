# shellcheck shell=bash
# The body the CIFAR and MNIST batch scripts share (sourced, not submitted): trains the job config
# jobs/$config into HPA_RUN_DIR, one seed group per seed (one task each), then runs the
# re-initialization grid over the same tasks. SIGUSR2 before the time limit (or SIGTERM on
# preemption) makes hpa-train checkpoint and the job requeue itself (slurm/requeue.sh); a requeued or
# resubmitted job continues both: hpa-train --resume from the checkpoint's step, the grid from
# RUN/reinit.h5.
#   HPA_DATA_DIR   the dataset's folder                             default: the job config's data-dir
#   HPA_RUN_DIR    the run directory                                default runs/<job>
#   HPA_DEVICE     cpu, or cuda (submit with --gpus-per-task=1)     default cpu
#   HPA_GRID_EPOCHS  the reset epochs of the grid                   default per job
#   HPA_GRID_RERANDOMIZE  re-draws from the init distribution per layer   default 3
#   HPA_EXTRA, HPA_GRID_EXTRA   more options for hpa-train and hpa-reinit-grid
#   HPA_BUILD_DIR  the build to run                                 default build/release
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-.}"
: "${job:?}" "${config:?}" "${grid_epochs:?}"  # set by the script that sources this one
[[ -f "jobs/$config" ]] || { echo "no job config jobs/$config" >&2; exit 2; }
build=${HPA_BUILD_DIR:-build/release}
run_dir=${HPA_RUN_DIR:-runs/$job}
mode=()
[[ -f "$run_dir/run.h5" ]] && mode=(--resume)
data=()
[[ -n "${HPA_DATA_DIR:-}" ]] && data=(--data-dir "$HPA_DATA_DIR")
echo "$job: config jobs/$config, run $run_dir, device ${HPA_DEVICE:-cpu}, $SLURM_NTASKS task(s) ${mode[*]}"
source slurm/requeue.sh
# shellcheck disable=SC2086
hpa_step training "$build/src/hpa-train" --config "jobs/$config" "${data[@]}" --device "${HPA_DEVICE:-cpu}" \
  --out "$run_dir" "${mode[@]}" ${HPA_EXTRA:-}
# shellcheck disable=SC2086
hpa_step "the grid" "$build/src/hpa-reinit-grid" "$run_dir" "${data[@]}" --device "${HPA_DEVICE:-cpu}" \
  --epochs "${HPA_GRID_EPOCHS:-$grid_epochs}" --rerandomize "${HPA_GRID_RERANDOMIZE:-3}" ${HPA_GRID_EXTRA:-}
