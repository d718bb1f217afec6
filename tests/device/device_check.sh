#!/usr/bin/env bash
# The GPU check (docs/gpu.md): two calls (--stages) on a GPU machine without network, each at most
# 9 minutes, the first with the build. From the repository root, with .deps/offline-bundle
# (env/offline-bundle.sh) and .deps/device-data (tests/device/make_data.sh) copied along:
#   bash tests/device/device_check.sh [options] [OUT_DIR]           (default OUT_DIR: device-out)
#     --rehearse       everything on the CPU with small sizes (CI runs this: env.offline_build)
#     --budget S       seconds for the whole check (default 525; --rehearse 1800)
#     --data DIR       the packs of make_data.sh (default .deps/device-data)
#     --build DIR      build folder (default build/device)
#     --prefix DIR     where the bundle is unpacked (default .deps/offline-prefix)
#     --stages LIST    only these stages, comma-separated (default: all); e.g. a first call
#                      build,probe,train,resume,ranks,grid and a second build,speed,eager on the same
#                      machine (the build is then a no-op), each call with its own --budget
# Stages, each with its own time limit, each run even when an earlier one failed (a stage that needs
# a failed one's output is reported as skipped): build, probe, train, resume, ranks, grid, speed,
# eager. A stage's limit is what the budget leaves after reserving the nominal limits of the stages
# after it, so the whole check ends within the budget. OUT_DIR/summary.txt gathers every stage's
# result and `check:` lines; OUT_DIR/STAGE.log holds its output. Exit status: 0 when every stage
# passed, else the sum of the failed stages' bits: build 1, probe 2, train 4, resume 8, ranks 16,
# grid 32, speed 64, eager 128.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 255

stages_all=(build probe train resume ranks grid speed eager)
stages_run=("${stages_all[@]}")
declare -A nominal=([build]=0 [probe]=15 [train]=60 [resume]=45 [ranks]=40 [grid]=50 [speed]=110 [eager]=120)
declare -A bit=([build]=1 [probe]=2 [train]=4 [resume]=8 [ranks]=16 [grid]=32 [speed]=64 [eager]=128)

# ---- one stage, in its own process (tests/device/device_check.sh --stage NAME), settings from the
# environment the driver below exports.
check() { echo "check: $1 = $2"; }
fail() { echo "FAILED: $*"; exit 1; }
mpirun_() { mpirun --oversubscribe --bind-to none -np "$@"; }
train() { "$BIN/hpa-train" "${TRAIN_ARGS[@]}" "$@"; }
if [[ ${1:-} == --stage ]]; then
  read -r -a TRAIN_ARGS <<<"$HPA_CHECK_TRAIN"
  W=$HPA_CHECK_WORK BIN=$HPA_CHECK_BIN DEV=$HPA_CHECK_DEVICE T=$HPA_CHECK_THREADS
  [[ $HPA_CHECK_MODE == gpu ]] && gpu=1 || gpu=0
  case $2 in
    probe)
      mpirun_ 2 "$BIN/hpa-deps-probe" --device "$DEV" --dir "$W" || fail "hpa-deps-probe on 2 ranks"
      ;;
    train)  # the same 20 steps on the CPU with 1 and 2 threads and on the device (TF32 off)
      rm -rf "$W"/{cpu1,cpu2,dev}*
      train --device cpu --threads 1 --out "$W/cpu1" --loss-log "$W/cpu1.loss" || fail "cpu, 1 thread"
      train --device cpu --threads 2 --out "$W/cpu2" --loss-log "$W/cpu2.loss" || fail "cpu, 2 threads"
      train --device "$DEV" --tf32 false --threads "$T" --out "$W/dev" --loss-log "$W/dev.loss" || fail "$DEV"
      "$BIN/hpa-device-check" --compare train "$W/dev" "$W/cpu1" "$W/cpu2" || fail "device against cpu"
      # bf16 autocast + channels-last on the device against its fp32 run: the bound of e2e.precision
      train --device "$DEV" --tf32 false --threads "$T" --precision bf16 --memory-format channels-last \
        --out "$W/dev-bf16" --loss-log "$W/dev-bf16.loss" || fail "$DEV, bf16 + channels-last"
      "$BIN/hpa-device-check" --compare precision "$W/dev-bf16" "$W/dev" --tolerance 0.01 || fail "bf16 against fp32"
      ;;
    resume)  # SIGUSR2 in the middle of epoch 2 -> exit 75 -> --resume: the same bits as no stop
      rm -rf "$W"/{full,stopped,pause}*
      det=(--device "$DEV" --tf32 false --deterministic --threads "$T")
      train "${det[@]}" --out "$W/full" || fail "uninterrupted run"
      mkdir -p "$W/pause" && touch "$W/pause/train-0-2-4"
      # the program itself in the background (a function would run in a subshell the signal would end)
      HPA_TEST_PAUSE=$W/pause "$BIN/hpa-train" "${TRAIN_ARGS[@]}" "${det[@]}" --out "$W/stopped" &
      pid=$!
      for _ in $(seq 600); do [[ -e $W/pause/train-0-2-4.reached ]] && break; sleep 0.05; done
      [[ -e $W/pause/train-0-2-4.reached ]] || { kill "$pid"; fail "the run never reached epoch 2, step 4"; }
      kill -USR2 "$pid"
      wait "$pid"
      rc=$?
      check resume.stop_exit "$rc"
      ((rc == 75)) || fail "SIGUSR2 mid-epoch: exit $rc, not 75"
      train "${det[@]}" --out "$W/stopped" --resume || fail "--resume"
      "$BIN/hpa-device-check" --compare params "$W/full" "$W/stopped" --tolerance 0 || fail "resumed != uninterrupted"
      ;;
    ranks)  # 2 ranks on this machine's device(s): one seed each; one seed on both; the reducer alone
      rm -rf "$W"/{seeds2,group2}*
      [[ -d $W/full ]] || fail "needs the resume stage's uninterrupted run"
      mpirun_ 2 "$BIN/hpa-train" "${TRAIN_ARGS[@]}" --device "$DEV" --tf32 false --deterministic --threads "$T" \
        --seeds 0,1 --ranks-per-seed 1 --out "$W/seeds2" || fail "2 ranks, one seed each"
      "$BIN/hpa-device-check" --compare params "$W/full" "$W/seeds2" --tolerance 0 || fail "seed 0 on 2 ranks != alone"
      gpus=$( ((gpu)) && nvidia-smi -L | grep -c '^GPU' || echo 0)
      mpirun_ 2 "$BIN/hpa-train" "${TRAIN_ARGS[@]}" --device "$DEV" --tf32 false --threads "$T" --seeds 0 \
        --ranks-per-seed 2 --out "$W/group2" >"$W/group2.out" 2>&1
      rc=$?
      cat "$W/group2.out"
      if ((gpu && gpus < 2)); then
        ((rc != 0)) || fail "2 ranks of one seed group on one GPU were not refused"
        grep -q "NCCL needs one GPU per rank" "$W/group2.out" || fail "the refusal does not say why"
        check ranks.one_gpu_group_of_2 "refused: $(grep -m1 -o 'share GPU [0-9]* of their node' "$W/group2.out")"
      else
        ((rc == 0)) || fail "one seed on 2 ranks"
        "$BIN/hpa-device-check" --compare params "$W/cpu1" "$W/group2" --tolerance 1e-3 ||
          fail "one seed on 2 ranks against 1 rank"
      fi
      "$BIN/hpa-device-check" --device "$DEV" --section nccl || fail "the reducer in a group of one"
      ;;
    grid)  # the re-initialization grid of the train stage's device run, on the device and on the CPU
      rm -rf "$W"/grid-*
      [[ -f $W/dev/seed_0/epoch_0002.h5 ]] || fail "needs the train stage's device run"
      cp -a "$W/dev" "$W/grid-dev" && cp -a "$W/dev" "$W/grid-cpu"
      "$BIN/hpa-reinit-grid" "$W/grid-dev" --device "$DEV" --tf32 false --rerandomize 1 --threads "$T" ||
        fail "grid on $DEV"
      "$BIN/hpa-reinit-grid" "$W/grid-cpu" --device cpu --rerandomize 1 --threads "$T" || fail "grid on cpu"
      "$BIN/hpa-device-check" --compare grids "$W/grid-cpu" "$W/grid-dev" --tolerance "$((gpu))" ||
        fail "counts differ"
      # bf16 evaluation: counts may differ by near ties; at most 2 % of the test images
      cp -a "$W/dev" "$W/grid-bf16"
      "$BIN/hpa-reinit-grid" "$W/grid-bf16" --device "$DEV" --precision bf16 --rerandomize 1 --threads "$T" ||
        fail "bf16 grid on $DEV"
            "$BIN/hpa-device-check" --compare grids "$W/grid-dev" "$W/grid-bf16" --tolerance-fraction 0.02 ||
        fail "bf16 counts differ by more than 2 % of the test images"
      ;;
    speed)  # hpa's step: fp32 (TF32 convolutions), bf16 autocast, bf16 + channels-last; batch 64 and 256
      sizes=(--configs fp32 bf16 bf16-cl --batch 64 256 --timed-steps 8)
      ((gpu)) || sizes=(--configs fp32 bf16-cl --batch 2 --image 64 --timed-steps 2 --grid-images 100 --grid-variants 2)
      "$BIN/hpa-device-check" --device "$DEV" --dir "$W" --section throughput snapshot grid "${sizes[@]}" ||
        fail "hpa-device-check"
      ;;
    eager)  # torchvision's VGG19, the same settings; torch.compile of the last one if it compiles in 60 s
      sizes=(--configs fp32 bf16 bf16-cl --batch 64 256 --timed-steps 8 --compile 60)
      ((gpu)) || sizes=(--configs fp32 bf16-cl --batch 2 --image 64 --timed-steps 2)
      "$HPA_CHECK_PYTHON" tests/device/torch_eager_vgg19.py --device "$DEV" "${sizes[@]}" || fail "the PyTorch loop"
      ;;
    *) fail "unknown stage $2" ;;
  esac
  exit 0
fi

# ---- the driver
mode=gpu budget="" data=.deps/device-data build=build/device prefix=.deps/offline-prefix out=device-out stages=all
while (($#)); do
  case $1 in
    --rehearse) mode=rehearse; shift ;;
    --budget | --data | --build | --prefix | --stages)
      (($# >= 2)) || { echo "device_check.sh: $1 needs a value" >&2; exit 255; }
      declare "${1#--}=$2"
      shift 2
      ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "device_check.sh: unknown option $1 (see --help)" >&2; exit 255 ;;
    *) out=$1; shift ;;
  esac
done
if [[ $stages != all ]]; then
  IFS=, read -r -a chosen <<<"$stages"
  for name in "${chosen[@]}"; do
    [[ -v "bit[$name]" ]] || { echo "device_check.sh: --stages: unknown stage '$name'" >&2; exit 255; }
  done
  kept=()
  for name in "${stages_all[@]}"; do [[ ",$stages," == *",$name,"* ]] && kept+=("$name"); done
  stages_run=("${kept[@]}")
fi
[[ -n $budget ]] || budget=$([[ $mode == gpu ]] && echo 525 || echo 1800)
[[ -f $data/train.h5 && -f $data/val.h5 ]] || {
  echo "device_check.sh: --data $data: no train.h5 and val.h5 (make them with tests/device/make_data.sh)" >&2
  exit 255
}
start=$(date +%s)
mkdir -p "$out"
out=$(realpath "$out")
summary=$out/summary.txt
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
note "device check ($mode), $(date -u +%FT%TZ), budget $budget s"
if [[ $mode == gpu ]]; then
  note "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
fi
export HPA_CHECK_PYTHON=${PYTHON:-python3}
note "cpu: $(nproc) cores; $("$HPA_CHECK_PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1)"
export HDF5_USE_FILE_LOCKING=FALSE OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Shared memory and TCP on one machine: no UCX or fabric probing.
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_osc=^ucx
build_args=(--build "$build" --prefix "$prefix")
if [[ $mode == gpu ]]; then
  build_args+=(--cuda)
  # NCCL from the nvidia-nccl Python package next to torch, unless NCCL_ROOT says otherwise.
  if [[ -z ${NCCL_ROOT:-} ]]; then
    site=$(python3 -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' 2>/dev/null)
    header=$(find "$site/nvidia" -name nccl.h 2>/dev/null | head -1)
    [[ -n $header ]] && export NCCL_ROOT=${header%/include/nccl.h}
  fi
  note "nccl: ${NCCL_ROOT:-not found}"
fi
HPA_CHECK_BIN=$(realpath -m "$build")/src
if [[ $mode == gpu ]]; then HPA_CHECK_DEVICE=cuda HPA_CHECK_THREADS=4; else HPA_CHECK_DEVICE=cpu HPA_CHECK_THREADS=2; fi
export HPA_CHECK_MODE=$mode HPA_CHECK_WORK=$out/work HPA_CHECK_BIN HPA_CHECK_DEVICE HPA_CHECK_THREADS
# 20 SGD steps (2 epochs of 10 batches of 16) of VGG11 at width 1/4 on 64x64 crops of real photographs,
# through the ImageNet loader (pinned memory on CUDA); dropout off, since its masks come from the device's RNG.
train_args=(--dataset imagenet --data-dir "$(realpath "$data")" --arch vgg11 --width 0.25 --image-size 64
  --eval-resize 73 --batch-size 16 --dropout 0 --val-fraction 0 --train-subset 160 --epochs 2 --lr 0.01)
export HPA_CHECK_TRAIN="${train_args[*]}"  # one line: the stage reads it back as words
rm -rf "$HPA_CHECK_WORK" && mkdir -p "$HPA_CHECK_WORK"

status=0
for i in "${!stages_run[@]}"; do
  name=${stages_run[$i]}
  reserve=0
  for later in "${stages_run[@]:$((i + 1))}"; do reserve=$((reserve + nominal[$later])); done
  limit=$((budget - ($(date +%s) - start) - reserve))
  if [[ $name != build && $name != eager && ! -x $HPA_CHECK_BIN/hpa-train ]]; then
    note "stage $name: skipped (nothing built)"
    status=$((status | bit[$name]))
    continue
  fi
  if ((limit < 5)); then
    note "stage $name: skipped (no time left in the budget)"
    status=$((status | bit[$name]))
    continue
  fi
  t0=$(date +%s)
  if [[ $name == build ]]; then
    timeout -k 5 "$limit" env/build-offline.sh "${build_args[@]}" hpa-train hpa-reinit-grid hpa-device-check \
      hpa-deps-probe >"$out/build.log" 2>&1
  else
    timeout -k 5 "$limit" bash "$0" --stage "$name" >"$out/$name.log" 2>&1
  fi
  rc=$?
  if [[ $name == build && $rc == 0 ]]; then
    # shellcheck source=/dev/null
    source "$prefix/env.sh"  # the bundle's Open MPI, HDF5, ... for every later stage
  fi
  result="passed"
  ((rc == 124 || rc == 137)) && result="TIME LIMIT ($limit s)"
  ((rc != 0 && rc != 124 && rc != 137)) && result="FAILED (exit $rc)"
  note "stage $name: $result in $(($(date +%s) - t0)) s"
  grep -h -E '^(check: |probe: |FAILED: )' "$out/$name.log" | sed 's/^/  /' | tee -a "$summary"
  ((rc != 0)) && { grep -m3 -E 'error|Error|FATAL' "$out/$name.log" | sed 's/^/  /' | tee -a "$summary"; }
  ((rc != 0)) && status=$((status | bit[$name]))
done
# hpa against eager PyTorch for every configuration both measured, and model FLOP utilisation: the
# training FLOPs per image (3x the forward's) times images/s, over the bf16 peak of this run's
# matrix products and over the issue's bound (790 TFLOP/s, H200 bf16).
python3 - "$summary" <<'PY' | tee -a "$summary"
import re, sys
values = dict(re.findall(r"^  check: (\S+) = (.+)$", open(sys.argv[1]).read(), re.M))
gflop = float(values.get("throughput.train_gflop_per_image", "nan"))
peak = float(values.get("eager.peak_bf16_tflops", "nan"))
for key, value in sorted(values.items()):
    m = re.match(r"throughput\.(\S+)\.b(\d+)\.images_per_s$", key)
    if not m:
        continue
    hpa = float(value)
    eager = float(values.get(f"eager.{m[1]}.b{m[2]}.images_per_s", "nan"))
    compiled = values.get(f"eager_compiled.{m[1]}.b{m[2]}.images_per_s")
    line = (f"{m[1]} batch {m[2]}: hpa {hpa:.1f} images/s, eager {eager:.1f}, ratio {hpa / eager:.3f}; "
            f"MFU {100 * hpa * gflop / 1e3 / peak:.1f} % of the measured bf16 peak ({peak:.0f} TFLOP/s), "
            f"{100 * hpa * gflop / 1e3 / 790:.1f} % of 790")
    if compiled:
        line += f"; torch.compile {float(compiled):.1f} images/s"
    print("result: " + line)
PY
note "device check: exit status $status in $(($(date +%s) - start)) s (bits: build 1, probe 2, train 4, resume 8, ranks 16, grid 32, speed 64, eager 128)"
exit "$status"
