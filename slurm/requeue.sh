# shellcheck shell=bash
# Sourced by the batch scripts (not submitted): runs hpa-train as a job step and requeues the job
# when training checkpointed on a signal. The scripts ask Slurm for SIGUSR2 ahead of the time limit
# (#SBATCH --signal=USR2@LEAD, no "B:": the signal must reach the job step's tasks, not only this
# shell); hpa-train checkpoints at the step the ranks agree on and exits with status 75; the job
# then requeues itself and, started again, continues with --resume from that step. A rank that
# fails ends the step at once (--kill-on-bad-exit), instead of leaving the others waiting.
hpa_train_step() {
  local status=0
  srun --kill-on-bad-exit=1 --mpi=pmix "$@" || status=$?
  if [[ $status == 75 ]]; then
    echo "hpa: training checkpointed on a signal; requeueing job $SLURM_JOB_ID (restart $((${SLURM_RESTART_COUNT:-0} + 1)))"
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
  fi
  return "$status"
}
