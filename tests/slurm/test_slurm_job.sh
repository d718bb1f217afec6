#!/usr/bin/env bash
# End to end on a real 2-node Slurm cluster (tests/slurm/local_cluster.sh: each node its own network
# and UTS namespace, tasks bound to CPUs): sbatch --nodes=2 --ntasks-per-node=2 slurm/fashion_mnist_demo.sh
# (--ntasks=4) trains one seed group of 4 ranks across both nodes (gradients over Open MPI's TCP transport
# between them, the epoch files written collectively by all 4), then runs the grid over the same
# tasks. Every rank reports its host, its node-local rank and the CPUs it runs on: 2 ranks per
# node, local ranks 0 and 1 on each, 1 CPU and 1 compute thread each, as asked. Also: the nodes
# really are apart (shared memory alone cannot connect them), a launch whose world size disagrees
# with SLURM_NTASKS is refused, the cluster refuses to start beside a Slurm it did not start, and
# nothing under /etc changes.
# usage: test_slurm_job.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
source_dir=$1 build_dir=$2 work=$3
cluster="$source_dir/tests/slurm/local_cluster.sh"
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
# The host's own Slurm and munge configuration, and its host names, are left alone.
etc_files() { find /etc/slurm /etc/munge /etc/hosts -type f -exec sha256sum {} + 2>/dev/null | sort; }
etc_before=$(etc_files)
# A Slurm controller it did not start: the script refuses to start a second cluster beside it.
cp "$(command -v sleep)" "$work/slurmctld"
"$work/slurmctld" 60 &
foreign=$!
if "$cluster" start 2>"$work/refused.txt"; then fail "started beside a running slurmctld"; fi
grep -q "a slurmctld not started by this script is running (pid $foreign" "$work/refused.txt" ||
  fail "refusal message: $(cat "$work/refused.txt")"
"$cluster" stop >/dev/null  # stops only its own daemons: the foreign one lives on
kill -0 "$foreign" || fail "stop killed a daemon it had not started"
kill "$foreign"; wait "$foreign" 2>/dev/null || true
trap '"$cluster" stop >/dev/null 2>&1 || true' EXIT
"$cluster" start
export SLURM_CONF
SLURM_CONF=$("$cluster" conf)  # the private cluster's configuration, for sbatch, squeue, scontrol
on_cluster() { "$cluster" run "$@"; }
cd "$source_dir"
[[ $(on_cluster sinfo -h -N -o %N | sort -u | paste -sd ' ') == "hpa-node1 hpa-node2" ]] || fail "not 2 nodes"

jid=$(HPA_BUILD_DIR="$build_dir" \
      HPA_EXTRA="--train-subset 600 --test-subset 300 --epochs 2 --augment false --ranks-per-seed 4" \
      HPA_GRID_EXTRA="--epochs 0,2 --rerandomize 0" \
      on_cluster sbatch --parsable --nodes=2 --ntasks=4 --ntasks-per-node=2 --cpus-per-task=1 --output="$work/job-%j.out" \
      slurm/fashion_mnist_demo.sh "$work/run")
"$cluster" wait "$jid" 900 || { cat "$work"/job-*.out; exit 1; }
out="$work/job-$jid.out"
cat "$out"
grep -q "4 rank(s) in 1 seed group(s)" "$out" || fail "expected 4 ranks in one seed group"
# Each rank, as hpa-train and then the grid report it: host, node-local rank, CPUs, threads.
for rank in 0 1 2 3; do
  node=$((rank / 2 + 1)) local=$((rank % 2))
  line="rank $rank of 4 on hpa-node$node (local rank $local of 2): 1 compute thread(s) (SLURM_CPUS_PER_TASK=1) on 1 CPU(s)"
  count=$(grep -cF "$line" "$out")
  [[ $count == 2 ]] || fail "expected '$line' from training and the grid, found $count"
done
/usr/bin/python3 - "$work/run" <<'PY'
import sys, h5py, numpy as np
run = sys.argv[1]
with h5py.File(f"{run}/run.h5") as f:
    w = f["params/features.0.weight"][()]
    assert w.shape[:2] == (2, 3) and not np.isnan(w).any(), "run.h5 incomplete"
    assert (f["reinit/baseline_correct"][()] >= 0).all(), "grid incomplete"
print("run directory complete")
PY

# The nodes are apart: with shared memory as the only transport, ranks of different nodes cannot talk.
jid=$(on_cluster sbatch --parsable --nodes=2 --ntasks-per-node=1 --output="$work/no-tcp-%j.out" \
      --export=ALL,OMPI_MCA_btl=self,vader --wrap \
      "srun --mpi=pmix $build_dir/src/hpa-train --out $work/no_tcp --train-subset 200 --epochs 1 --ranks-per-seed 2")
if "$cluster" wait "$jid" 300; then fail "ranks on two nodes talked without a network transport"; fi
grep -qiE "unreachable|unable to reach|no.*path" "$work/no-tcp-$jid.out" ||
  fail "no 'unreachable' report from Open MPI: $(head -c 2000 "$work/no-tcp-$jid.out")"
echo "without TCP, Open MPI cannot connect the nodes: they share no memory transport"

# A launch whose world disagrees with the allocation (here mpirun -np 1 inside --ntasks=2) is refused.
jid=$(on_cluster sbatch --parsable --ntasks=2 --output="$work/singletons-%j.out" --wrap \
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 1 $build_dir/src/hpa-train --out $work/singletons --data-dir /usr/share/datasets/fashion-mnist --train-subset 200 --epochs 1")
if "$cluster" wait "$jid" 300; then fail "a launch of 1 rank in a 2-task allocation was not refused"; fi
grep -q "SLURM_NTASKS=2" "$work/singletons-$jid.out" || fail "no SLURM_NTASKS message: $(cat "$work/singletons-$jid.out")"
"$cluster" stop
[[ $(etc_files) == "$etc_before" ]] || { echo "FAIL: files under /etc changed"; diff <(echo "$etc_before") <(etc_files); exit 1; }
[[ -z $(pgrep -x slurmd; pgrep -x slurmctld) ]] || fail "Slurm daemons left running after stop"
echo "1 passed, 0 failed"
