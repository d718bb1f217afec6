# shellcheck shell=bash
# Sourced by the batch scripts (not submitted): runs each phase of a job (hpa-train, then
# hpa-reinit-grid) as a job step with the job's CPUs per task, and requeues the job when a phase
# checkpointed on a signal. The scripts ask Slurm for SIGUSR2 ahead of the time limit
# (#SBATCH --signal=USR2@LEAD, no "B:": the signal must reach the job step's tasks, not only this
# shell); either program then keeps what it has (hpa-train a checkpoint at the step the ranks agree
# on, hpa-reinit-grid every finished work item) and exits with status 75; the job requeues itself
# and, started again, continues where it stopped (hpa-train --resume, the grid from RUN/reinit.h5).
# A rank that fails ends the step at once (--kill-on-bad-exit), instead of leaving the others waiting.
#
# Since Slurm 22.05 srun no longer inherits --cpus-per-task from sbatch: without it a task may be
# bound to fewer CPUs than SLURM_CPUS_PER_TASK (which hpa reads) says. Every step gets it
# explicitly, and SRUN_CPUS_PER_TASK carries it to any other srun of the job.
if [[ -n "${SLURM_CPUS_PER_TASK:-}" ]]; then
  export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK
fi

# hpa_step PHASE COMMAND...: PHASE names it in the log ("training", "the grid").
hpa_step() {
  local phase=$1 status=0
  shift
  local cpus=()
  [[ -n "${SLURM_CPUS_PER_TASK:-}" ]] && cpus=(--cpus-per-task="$SLURM_CPUS_PER_TASK")
  srun --kill-on-bad-exit=1 --mpi=pmix "${cpus[@]}" "$@" || status=$?
  if [[ $status == 75 ]]; then
    echo "hpa: $phase checkpointed on a signal; requeueing job $SLURM_JOB_ID (restart $((${SLURM_RESTART_COUNT:-0} + 1)))"
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
  fi
  return "$status"
}
