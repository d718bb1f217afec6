#!/usr/bin/env bash
# The GPU check, run once on a GPU machine without network (docs/gpu.md). From the repository root,
# with the bundle of env/offline-bundle.sh in .deps/offline-bundle:
#   bash tests/device/device_check.sh [OUT_DIR]          (default: device-out)
# It builds hpa with CUDA and NCCL against python3's PyTorch (env/build-offline.sh --cuda), runs the
# dependency probe on the GPU, the unit tests, hpa-device-check --device cuda (CPU-vs-GPU training
# equivalence, the NCCL reducer on one rank, VGG19 throughput, the snapshot's share, grid cells/s)
# and the PyTorch eager baseline, and writes OUT_DIR/summary.txt plus one log per step. Each step
# has its own time limit (about 8 minutes in all); a failed step is reported and the next one runs.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
out=${1:-device-out}
mkdir -p "$out"
summary=$out/summary.txt
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
step() {  # step NAME LIMIT_S COMMAND...: runs with a time limit, logs to OUT/NAME.log
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s)
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  rc=$?
  note "step $name: exit $rc in $(($(date +%s) - start)) s$( ((rc == 124)) && echo " (time limit $limit s)")"
  return $rc
}

note "date: $(date -u +%FT%TZ)"
note "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
note "cpu: $(nproc) cores; $(python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1)"
export HDF5_USE_FILE_LOCKING=FALSE
# One rank, no mpirun: Open MPI's shared-memory and self transports only (no UCX or fabric probing).
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_osc=^ucx
# NCCL from the nvidia-nccl Python package next to torch, unless NCCL_ROOT says otherwise.
if [[ -z ${NCCL_ROOT:-} ]]; then
  site=$(python3 -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' 2>/dev/null)
  header=$(find "$site/nvidia" -name nccl.h 2>/dev/null | head -1)
  [[ -n $header ]] && export NCCL_ROOT=${header%/include/nccl.h}
fi
note "nccl: ${NCCL_ROOT:-not found}"

built=0
if step build 330 env/build-offline.sh --cuda --build build/device hpa-deps-probe hpa-device-check hpa_unit_tests; then
  built=1
else
  note "$(grep -m3 -E 'error|Error|FATAL' "$out/build.log")"
fi
if ((built)); then
  # shellcheck source=/dev/null
  source .deps/offline-prefix/env.sh
  step probe 60 build/device/src/hpa-deps-probe --device cuda --dir /tmp
  grep '^probe:' "$out/probe.log" | tee -a "$summary"
  step unit 150 build/device/tests/hpa_unit_tests --gtest_brief=1
  note "unit: $(grep -E '^\[  (PASSED|FAILED)  \]' "$out/unit.log" | tr '\n' ' ')"
  step check 200 build/device/src/hpa-device-check --device cuda --dir /tmp
  grep '^check:' "$out/check.log" | tee -a "$summary"
  grep 'hpa-device-check:' "$out/check.log" | tee -a "$summary"
fi
step eager 120 python3 tests/device/torch_eager_vgg19.py
grep '^check:' "$out/eager.log" | tee -a "$summary"
hpa=$(sed -n 's/^check: throughput.images_per_s = //p' "$summary")
eager=$(sed -n 's/^check: eager.images_per_s = //p' "$summary")
if [[ -n $hpa && -n $eager ]]; then
  note "ratio hpa / eager (fp32, TF32 convolutions): $(python3 -c "print(round($hpa / $eager, 3))")"
fi
