#!/usr/bin/env bash
# End to end on a real single-node Slurm cluster: sbatch slurm/fashion_mnist_demo.sh trains a small
# version of the demo with srun --mpi=pmix (2 tasks = 2 seed groups), runs the grid, and the run
# directory is complete; a launch whose world size disagrees with SLURM_NTASKS is refused.
# usage: test_slurm_job.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
source_dir=$1 build_dir=$2 work=$3
cluster="$source_dir/tests/slurm/local_cluster.sh"
rm -rf "$work" && mkdir -p "$work"
# The host's own Slurm and munge configuration, and its host names, are left alone.
etc_files() { find /etc/slurm /etc/munge /etc/hosts -type f -exec sha256sum {} + 2>/dev/null | sort; }
etc_before=$(etc_files)
# A Slurm controller it did not start: the script refuses to start a second cluster beside it.
cp "$(command -v sleep)" "$work/slurmctld"
"$work/slurmctld" 60 &
foreign=$!
if "$cluster" start 2>"$work/refused.txt"; then echo "FAIL: started beside a running slurmctld"; exit 1; fi
grep -q "a slurmctld not started by this script is running (pid $foreign" "$work/refused.txt" ||
  { echo "FAIL: refusal message: $(cat "$work/refused.txt")"; exit 1; }
"$cluster" stop >/dev/null  # stops only its own daemons: the foreign one lives on
kill -0 "$foreign" || { echo "FAIL: stop killed a daemon it had not started"; exit 1; }
kill "$foreign"; wait "$foreign" 2>/dev/null || true
trap '"$cluster" stop >/dev/null 2>&1 || true' EXIT
"$cluster" start
export SLURM_CONF
SLURM_CONF=$("$cluster" conf)  # the private cluster's configuration, for sbatch, squeue, scontrol
cd "$source_dir"
jid=$(HPA_BUILD_DIR="$build_dir" HPA_EXTRA="--train-subset 600 --test-subset 300 --epochs 2 --augment false" \
      HPA_GRID_EXTRA="--epochs 0,2 --rerandomize 0" \
      sbatch --parsable --output="$work/job-%j.out" slurm/fashion_mnist_demo.sh "$work/run")
"$cluster" wait "$jid" 900 || { cat "$work"/job-*.out; exit 1; }
cat "$work/job-$jid.out"
grep -q "2 rank(s) in 2 seed group(s)" "$work/job-$jid.out" || { echo "FAIL: expected 2 ranks in 2 seed groups"; exit 1; }
/usr/bin/python3 - "$work/run" <<'PY'
import sys, h5py, numpy as np
run = sys.argv[1]
with h5py.File(f"{run}/run.h5") as f:
    w = f["params/features.0.weight"][()]
    assert w.shape[:2] == (2, 3) and not np.isnan(w).any(), "run.h5 incomplete"
    assert (f["reinit/baseline_correct"][()] >= 0).all(), "grid incomplete"
print("run directory complete")
PY
# A launch whose world disagrees with the allocation (here mpirun -np 1 inside --ntasks=2) is refused.
jid=$(sbatch --parsable --ntasks=2 --output="$work/singletons-%j.out" --wrap \
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 1 $build_dir/src/hpa-train --out $work/singletons --data-dir /usr/share/datasets/fashion-mnist --train-subset 200 --epochs 1")
if "$cluster" wait "$jid" 300; then echo "FAIL: a launch of 1 rank in a 2-task allocation was not refused"; cat "$work"/singletons-*.out; exit 1; fi
grep -q "SLURM_NTASKS=2" "$work/singletons-$jid.out" || { echo "FAIL: no SLURM_NTASKS message"; cat "$work/singletons-$jid.out"; exit 1; }
"$cluster" stop
[[ $(etc_files) == "$etc_before" ]] || { echo "FAIL: files under /etc changed"; diff <(echo "$etc_before") <(etc_files); exit 1; }
echo "1 passed, 0 failed"
