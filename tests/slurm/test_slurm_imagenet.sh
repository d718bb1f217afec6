#!/usr/bin/env bash
# sbatch slurm/vgg19_imagenet.sh, unchanged, on a real 2-node Slurm cluster started by the test
# (tests/slurm/local_cluster.sh), with the documented CPU override (sbatch --gpus-per-task=0,
# HPA_DEVICE=cpu) and a small VGG19 (width 1/16, 32-pixel crops) on the ImageNet-format test packs:
# 2 tasks, one per node, train seeds 0 and 1, each reading the packs from the shared file system.
# The first job's grid is given an epoch the run does not have, so the job fails after training; the
# resubmitted job resumes the finished training (nothing retrained) and completes the grid on the
# device the job trained on.
# usage: test_slurm_imagenet.sh SOURCE_DIR BUILD_DIR FIXTURE_DIR WORK_DIR
set -euo pipefail
source_dir=$1 build_dir=$2 fixture=$3 work=$4
cluster="$source_dir/tests/slurm/local_cluster.sh"
rm -rf "$work" && mkdir -p "$work"
trap '"$cluster" stop >/dev/null 2>&1 || true' EXIT
"$cluster" start
export SLURM_CONF
SLURM_CONF=$("$cluster" conf)  # the private cluster's configuration, for sbatch, squeue, scontrol
on_cluster() { "$cluster" run "$@"; }
cd "$source_dir"
submit() {  # GRID_EPOCHS
  HPA_BUILD_DIR="$build_dir" HPA_PACK_DIR="$fixture/packs" HPA_RUN_DIR="$work/run" HPA_DEVICE=cpu \
  HPA_EXTRA="--width 0.0625 --image-size 32 --eval-resize 36 --epochs 2 --batch-size 16 --eval-batch-size 32 --seeds 0,1" \
  HPA_GRID_EPOCHS=$1 HPA_GRID_RERANDOMIZE=1 \
  on_cluster sbatch --parsable --gpus-per-task=0 --nodes=2 --ntasks-per-node=1 --cpus-per-task=1 --output="$work/job-%j.out" \
    slurm/vgg19_imagenet.sh
}
jid=$(submit 0,9)
if "$cluster" wait "$jid" 900; then echo "FAIL: the job with a bad grid epoch succeeded"; cat "$work/job-$jid.out"; exit 1; fi
cat "$work/job-$jid.out"
grep -q "2 rank(s) in 2 seed group(s)" "$work/job-$jid.out" || { echo "FAIL: expected 2 ranks in 2 seed groups"; exit 1; }
grep -q "epoch 9 is beyond the run's 2" "$work/job-$jid.out" || { echo "FAIL: the grid did not refuse epoch 9"; exit 1; }
jid=$(submit 0,2)
"$cluster" wait "$jid" 900 || { cat "$work/job-$jid.out"; exit 1; }
cat "$work/job-$jid.out"
grep -q "resuming after epoch 2" "$work/job-$jid.out" || { echo "FAIL: the resubmitted job did not resume"; exit 1; }
for rank in 0 1; do  # one task per node, in both phases
  grep -qF "rank $rank of 2 on hpa-node$((rank + 1)) (local rank 0 of 1): 1 compute thread(s) (SLURM_CPUS_PER_TASK=1) on 1 CPU(s)" \
    "$work/job-$jid.out" || { echo "FAIL: rank $rank not on hpa-node$((rank + 1)) with its 1 CPU"; exit 1; }
done
grep -q "fused evaluation on cpu" "$work/job-$jid.out" || { echo "FAIL: the grid did not run on the job's device"; exit 1; }
if grep -q "epoch 1/2" "$work/job-$jid.out"; then echo "FAIL: the resubmitted job trained again"; exit 1; fi
/usr/bin/python3 - "$work/run" <<'PY'
import sys, h5py, numpy as np
run = sys.argv[1]
with h5py.File(f"{run}/run.h5") as f:
    assert f.attrs["dataset"] == "imagenet" and f.attrs["arch"] == "vgg19", "not the VGG19 ImageNet job"
    w = f["params/features.0.weight"][()]
    assert w.shape[:2] == (2, 3) and not np.isnan(w).any(), "run.h5 incomplete"
    assert (f["reinit/baseline_correct"][()] >= 0).all() and (f["reinit/correct"][()] >= 0).all(), "grid incomplete"
print("run directory and grid complete")
PY
echo "1 passed, 0 failed"
