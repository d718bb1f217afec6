#!/usr/bin/env bash
# The sanitizer build's executables on real work, the way users run them: hpa-pack on a tree of real
# photographs, 2-rank hpa-train on the packs and on Fashion-MNIST, 2-rank hpa-reinit-grid over that
# run, hpa-stats. AddressSanitizer, UndefinedBehaviorSanitizer (aborting) and LeakSanitizer are on,
# with tests/sanitizers/lsan.supp for Open MPI's own allocations. Fails when the executables are not
# instrumented (so the stage cannot pass without sanitizers), when any step fails, or when any
# sanitizer prints a report.
# usage: real_runs.sh BUILD_DIR/src WORK_DIR MPIRUN
set -euo pipefail
bin=$1 work=$2 mpirun=$3
here=$(cd "$(dirname "$0")" && pwd)
fashion=/usr/share/datasets/fashion-mnist

for exe in hpa-pack hpa-train hpa-reinit-grid hpa-stats; do
  # (grep -c reads all of nm's output: grep -q would end the pipe early, a SIGPIPE under pipefail)
  if [[ $(nm "$bin/$exe" 2>/dev/null | grep -c ' T __asan_init$') == 0 ]]; then
    echo "FAIL: $bin/$exe is not built with AddressSanitizer (configure with the asan preset)" >&2
    exit 1
  fi
done

rm -rf "$work" && mkdir -p "$work"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# Under mpirun fast_unwind_on_malloc=0: Open MPI's libraries have no frame pointers, and the
# suppressions match frames below its entry points, which only the slow unwinder reaches (it makes
# every allocation slower, so the single-process steps keep the fast one).
mpi2=(env "ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0" "$mpirun" -np 2 -x ASAN_OPTIONS -x LSAN_OPTIONS
      -x UBSAN_OPTIONS)

step=0
run() {  # run NAME COMMAND...: the command must exit 0 and no sanitizer may have spoken
  local name=$1; shift
  step=$((step + 1))
  local log="$work/$step-$name.log"
  local start=$SECONDS
  if ! "$@" > "$log" 2>&1; then
    echo "FAIL: $name exited non-zero; log $log:" >&2
    tail -n 60 "$log" >&2
    exit 1
  fi
  if grep -E -q 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' "$log"; then
    echo "FAIL: $name: sanitizer report in $log:" >&2
    grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" | head -n 60 >&2
    exit 1
  fi
  echo "ok: $name ($((SECONDS - start)) s)"
}

tree=$work/tree packs=$work/packs
mkdir -p "$packs"
run make_tree /usr/bin/python3 "$here/../imagenet/make_tree.py" "$tree" --quirks --classes 3 --train-per-class 6 \
  --val-per-class 2
run pack_train "$bin/hpa-pack" "$tree/train" --out "$packs/train.h5" --progress-seconds 1000
run pack_val "$bin/hpa-pack" "$tree/val" --val-solution "$tree/LOC_val_solution.csv" \
  --classes-from "$packs/train.h5" --out "$packs/val.h5" --progress-seconds 1000
run train_imagenet_2ranks "${mpi2[@]}" "$bin/hpa-train" --out "$work/imagenet_run" --dataset imagenet \
  --data-dir "$packs" --arch alexnet --width 0.125 --image-size 64 --eval-resize 73 --batch-size 6 --lr 0.001 --epochs 1 \
  --threads 1 --data-threads 2 --seeds 0
run train_fashion_2ranks "${mpi2[@]}" "$bin/hpa-train" --out "$work/run" --data-dir "$fashion" \
  --train-subset 512 --val-fraction 0.25 --test-subset 300 --epochs 2 --batch-size 64 --threads 1 --seeds 2
run reinit_grid_2ranks "${mpi2[@]}" "$bin/hpa-reinit-grid" "$work/run" --rerandomize 1 --threads 1 \
  --batch-size 100
run stats "$bin/hpa-stats" "$work/run"
echo "sanitizers: $step real runs clean"
