#!/usr/bin/env bash
# On a real 2-node Slurm cluster: one job of slurm/fashion_mnist_demo.sh (one seed group of 2 ranks,
# one per node, 2 CPUs each, training seeds 0 and 1 one after the other, then the grid) gets
# SIGUSR2 in its job step three times, as Slurm's --signal=USR2@LEAD delivers it before a time limit:
#   1. in the middle of seed 0's first epoch: hpa-train checkpoints at the step the ranks agree on;
#   2. at the last step of seed 1's last epoch: the seed completes and checkpoints, and the job
#      stops instead of starting the grid in the time left (before, this signal was ignored);
#   3. in the grid, after 3 work items: hpa-reinit-grid keeps every finished item and stops.
# Each time the program exits 75 and the batch script requeues the job, which continues where it
# stopped. The test arms pause points (HPA_TEST_PAUSE) so that each signal finds the job at a known
# step, whatever the machine's speed. The finished run is bit-identical to an uninterrupted run of the
# same configuration under mpirun, and the grid's correct counts equal those of an uninterrupted grid.
# usage: test_slurm_requeue.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
source_dir=$1 build_dir=$2 work=$3
cluster="$source_dir/tests/slurm/local_cluster.sh"
rm -rf "$work" && mkdir -p "$work/pause"
trap '"$cluster" stop >/dev/null 2>&1 || true' EXIT
"$cluster" start
export SLURM_CONF
SLURM_CONF=$("$cluster" conf)  # the private cluster's configuration, for sbatch, squeue, scontrol
on_cluster() { "$cluster" run "$@"; }
fail() { echo "FAIL: $*"; cat "$work"/job-*.out 2>/dev/null | tail -40; exit 1; }
cd "$source_dir"
# 1500 training images, 10% held out: 11 steps of 128 per epoch (steps 0..10).
extra="--train-subset 1500 --test-subset 500 --epochs 2 --ranks-per-seed 2"
grid_extra="--epochs 0,1,2 --rerandomize 1"
for point in train-0-1-4 train-1-2-10 grid-3; do touch "$work/pause/$point"; done
jid=$(HPA_BUILD_DIR="$build_dir" HPA_EXTRA="$extra --loss-log $work/loss.txt" HPA_GRID_EXTRA="$grid_extra" \
      on_cluster sbatch --parsable --nodes=2 --ntasks-per-node=1 --cpus-per-task=2 --output="$work/job-%j.out" \
      --export=ALL,HPA_TEST_PAUSE="$work/pause" slurm/fashion_mnist_demo.sh "$work/run")
out="$work/job-$jid.out"
signal_at() {  # POINT: wait until the job is paused there, then signal its job step's tasks
  local _
  for _ in $(seq 1 3000); do [[ -f "$work/pause/$1.reached" ]] && break; sleep 0.2; done
  [[ -f "$work/pause/$1.reached" ]] || fail "the job never reached $1"
  on_cluster scancel --signal=USR2 "$jid"
  echo "signalled the job at $1"
}
signal_at train-0-1-4
signal_at train-1-2-10
signal_at grid-3
"$cluster" wait "$jid" 900 || fail "the job did not complete"
cat "$out"
grep -q "seed 0: SIGUSR2: checkpointed epoch 1 at step 5/11, stopping" "$out" || fail "no checkpoint inside epoch 1"
grep -q "seed 0: resuming after epoch 0 at step 5/11 of epoch 1" "$out" || fail "no resume inside epoch 1"
grep -q "seed 1: SIGUSR2 after epoch 2 (the last): seed complete, checkpointed, stopping" "$out" ||
  fail "the signal at the last step of the last epoch did not stop the job"
grep -q "hpa: training checkpointed on a signal; requeueing job $jid (restart 2)" "$out" || fail "no second requeue"
# Rank 0 paused after its 3rd result; the other rank may have delivered one more before stopping.
grep -qE "stopped on SIGUSR2: [34] of [0-9]+ work items done" "$out" || fail "the grid did not stop on the signal"
grep -q "hpa: the grid checkpointed on a signal; requeueing job $jid (restart 3)" "$out" || fail "the grid did not requeue"
# The requeued grid does only what is left.
left=$(grep -oE "rank\(s\); [0-9]+ of [0-9]+ work items to do" "$out" | tail -1)
if ! [[ $left =~ ([0-9]+)\ of\ ([0-9]+) ]] || (( BASH_REMATCH[1] >= BASH_REMATCH[2] )); then
  fail "the grid started over: $left"
fi
restarts=$(on_cluster scontrol show job -o "$jid" | sed -nE 's/.* Restarts=([0-9]+) .*/\1/p')
[[ "$restarts" == 3 ]] || fail "expected 3 restarts, Slurm counts '$restarts'"
# Each rank ran on its own node with the 2 CPUs it asked for, in every phase and every restart.
for rank in 0 1; do
  line="rank $rank of 2 on hpa-node$((rank + 1)) (local rank 0 of 1): 2 compute thread(s) (SLURM_CPUS_PER_TASK=2) on 2 CPU(s)"
  count=$(grep -cF "$line" "$out")
  [[ $count == 6 ]] || fail "expected '$line' in all 6 program starts, found $count"
done
grep -q "^# resumed: seed 0 after epoch 0 at step 5 of epoch 1" "$work/loss.txt" || fail "the loss log was not continued"

# The uninterrupted reference: same options and threads, 2 ranks under mpirun, then the grid.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck disable=SC2086
mpirun -np 2 --oversubscribe --bind-to none "$build_dir/src/hpa-train" --config jobs/fashion_mnist_demo.cfg \
  --out "$work/reference" $extra --threads 2 > "$work/reference.out"
# shellcheck disable=SC2086
mpirun -np 2 --oversubscribe --bind-to none "$build_dir/src/hpa-reinit-grid" "$work/reference" $grid_extra \
  --threads 2 > "$work/reference_grid.out"
/usr/bin/python3 - "$work/run" "$work/reference" <<'PY'
import sys, h5py, numpy as np
with h5py.File(f"{sys.argv[1]}/run.h5") as a, h5py.File(f"{sys.argv[2]}/run.h5") as b:
    for name in a["params"]:
        x, y = a["params"][name][()], b["params"][name][()]
        assert x.shape[:2] == (2, 3) and not np.isnan(x).any(), f"{name}: run incomplete"
        assert np.array_equal(x, y), f"{name}: the requeued run differs from the uninterrupted one"
    for name in ("train_loss", "train_accuracy", "val_accuracy", "test_accuracy"):
        assert np.array_equal(a["metrics"][name][()], b["metrics"][name][()], equal_nan=True), name
    for name in ("correct", "baseline_correct"):
        x, y = a["reinit"][name][()], b["reinit"][name][()]
        assert (x >= 0).all(), f"grid incomplete after the requeues ({name})"
        assert np.array_equal(x, y), f"the requeued grid's {name} differs from the uninterrupted grid's"
    print(f"requeued run bit-identical to the uninterrupted one; grid of {a['reinit/correct'].size} cells identical")
PY
echo "1 passed, 0 failed"
