#!/usr/bin/env bash
# Re-initialization grid throughput on a trained run (default: the demo run): cells/s of fused
# against naive evaluation (1 rank, 2 threads), and of 2 ranks x 1 thread against 1 rank x 1
# thread (fused). Alternating runs on copies of the run; prints each run, medians and ratios.
# Not a test: run it by hand on an otherwise idle machine.
#
# usage: src/bench/reinit_grid.sh [RUN] [BUILD_DIR] [REPEATS] [EPOCHS]
#   CONFIGS="fused naive" limits the configurations (default: all four); RERANDOMIZE (default 1).
set -euo pipefail
run=${1:-runs/fashion_mnist_demo}
build=${2:-build/release}
repeats=${3:-3}
epochs=${4:-0,5,15}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
results="$work/results.txt"
for ((i = 0; i < repeats; ++i)); do
  for config in ${CONFIGS:-fused naive fused_1rank_1thread fused_2ranks_1thread}; do
    rm -rf "$work/run" && cp -r "$run" "$work/run" && rm -f "$work/run/reinit.h5"
    case $config in
      fused) cmd=("$build/src/hpa-reinit-grid" --threads 2) ;;
      naive) cmd=("$build/src/hpa-reinit-grid" --threads 2 --naive) ;;
      fused_1rank_1thread) cmd=("$build/src/hpa-reinit-grid" --threads 1) ;;
      fused_2ranks_1thread) cmd=(mpirun -np 2 --bind-to core "$build/src/hpa-reinit-grid" --threads 1) ;;
    esac
    rate=$("${cmd[@]}" "$work/run" --epochs "$epochs" --rerandomize "${RERANDOMIZE:-1}" | grep '^done:' | grep -o '([0-9.]* cells/s)' | tr -d '(' | awk '{print $1}')
    echo "run $i $config: $rate cells/s"
    echo "$config $rate" >>"$results"
  done
done
/usr/bin/python3 - "$results" <<'PY'
import collections, statistics, sys
rates = collections.defaultdict(list)
for line in open(sys.argv[1]):
    config, rate = line.split()
    rates[config].append(float(rate))
m = {k: statistics.median(v) for k, v in rates.items()}
if "fused" in m and "naive" in m:
    print(f"fused {m['fused']:.2f} cells/s, naive {m['naive']:.2f} cells/s: fused/naive {m['fused'] / m['naive']:.2f}x")
if "fused_1rank_1thread" in m and "fused_2ranks_1thread" in m:
    print(f"1 rank x 1 thread {m['fused_1rank_1thread']:.2f} cells/s, 2 ranks x 1 thread "
          f"{m['fused_2ranks_1thread']:.2f} cells/s: {m['fused_2ranks_1thread'] / m['fused_1rank_1thread']:.2f}x")
PY
