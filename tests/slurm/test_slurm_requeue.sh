#!/usr/bin/env bash
# On a real single-node Slurm cluster: a job of slurm/fashion_mnist_demo.sh (2 tasks = 2 seed groups)
# gets SIGUSR2 in its job step in the middle of an epoch, as Slurm's --signal=USR2@LEAD delivers it
# before a time limit. hpa-train checkpoints on every rank at an agreed step and exits 75, the batch
# script requeues the job, the requeued job continues with --resume at that step, and the finished
# run is bit-identical to an uninterrupted run of the same configuration under mpirun.
# usage: test_slurm_requeue.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
source_dir=$1 build_dir=$2 work=$3
cluster="$source_dir/tests/slurm/local_cluster.sh"
rm -rf "$work" && mkdir -p "$work"
trap '"$cluster" stop >/dev/null 2>&1 || true' EXIT
"$cluster" start
export SLURM_CONF
SLURM_CONF=$("$cluster" conf)  # the private cluster's configuration, for sbatch, squeue, scontrol
cd "$source_dir"
extra="--train-subset 6000 --test-subset 500 --epochs 2 --threads 1"
jid=$(HPA_BUILD_DIR="$build_dir" HPA_EXTRA="$extra --loss-log $work/loss.txt" \
      HPA_GRID_EXTRA="--epochs 0,2 --rerandomize 0" \
      sbatch --parsable --output="$work/job-%j.out" slurm/fashion_mnist_demo.sh "$work/run")
# Wait until the step log reaches epoch 1, step 15 (of 43), then signal the job step's tasks.
/usr/bin/python3 - "$work/loss.txt" <<'PY'
import os, sys, time
deadline = time.time() + 600
while time.time() < deadline:
    if os.path.exists(sys.argv[1]):
        rows = [line.split() for line in open(sys.argv[1])]
        if any(len(r) == 4 and r[1] == "1" and int(r[2]) >= 15 for r in rows):
            sys.exit(0)
    time.sleep(0.02)
sys.exit("the job never reached epoch 1 step 15")
PY
scancel --signal=USR2 "$jid"
"$cluster" wait "$jid" 900 || { cat "$work"/job-*.out; exit 1; }
out="$work/job-$jid.out"
cat "$out"
fail() { echo "FAIL: $*"; exit 1; }
grep -q "checkpointed epoch 1 at step" "$out" || fail "no checkpoint inside epoch 1 in the job's output"
grep -q "requeueing job $jid" "$out" || fail "the job did not requeue itself"
grep -q "resuming after epoch 0 at step" "$out" || fail "the requeued job did not resume inside epoch 1"
restarts=$(scontrol show job -o "$jid" | sed -nE 's/.* Restarts=([0-9]+) .*/\1/p')
[[ "$restarts" == 1 ]] || fail "expected 1 restart, Slurm counts '$restarts'"
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 2 --oversubscribe \
  "$build_dir/src/hpa-train" --config jobs/fashion_mnist_demo.cfg --out "$work/reference" $extra > "$work/reference.out"
/usr/bin/python3 - "$work/run" "$work/reference" <<'PY'
import sys, h5py, numpy as np
with h5py.File(f"{sys.argv[1]}/run.h5") as a, h5py.File(f"{sys.argv[2]}/run.h5") as b:
    for name in a["params"]:
        x, y = a["params"][name][()], b["params"][name][()]
        assert x.shape[:2] == (2, 3) and not np.isnan(x).any(), f"{name}: run incomplete"
        assert np.array_equal(x, y), f"{name}: the requeued run differs from the uninterrupted one"
    for name in ("train_loss", "train_accuracy", "val_accuracy"):
        assert np.array_equal(a["metrics"][name][()], b["metrics"][name][()], equal_nan=True), name
    assert (a["reinit/baseline_correct"][()] >= 0).all(), "grid incomplete after the requeue"
print("requeued run bit-identical to the uninterrupted one; grid complete")
PY
echo "1 passed, 0 failed"
