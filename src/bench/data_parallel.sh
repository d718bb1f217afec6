#!/usr/bin/env bash
# Data-parallel scaling of hpa-train: 2 ranks x 1 thread against 1 rank x 1 thread at the same
# global batch, for the demo LeNet (Fashion-MNIST) and VGG11 at width 1/4 on 3x32x32 input, with
# bucketed allreduce overlapped with backward and with one allreduce after backward. Prints each
# run, then median images/s, speedups and the exposed (non-overlapped) allreduce share of step time.
# Not a test: run it by hand on an otherwise idle machine with at least 2 cores.
#
# usage: src/bench/data_parallel.sh [BUILD_DIR] [REPEATS]
set -euo pipefail
build=${1:-build/release}
repeats=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
/usr/bin/python3 "$here/make_cifar_from_fashion_mnist.py" /usr/share/datasets/fashion-mnist "$work/cifar"

common=(--epochs 1 --val-fraction 0 --test-subset 1000 --batch-size 128 --threads 1 --seeds 0 --dropout 0)
declare -A model_args=(
  [lenet]="--arch lenet --dataset fashion-mnist --data-dir /usr/share/datasets/fashion-mnist --train-subset 12800"
  [vgg11_w0.25]="--arch vgg11 --width 0.25 --dataset cifar10 --data-dir $work/cifar --train-subset 3200"
)
results="$work/results.txt"
for model in lenet vgg11_w0.25; do
  for ((i = 0; i < repeats; ++i)); do
    for config in 1rank 2ranks_overlap 2ranks_after_backward; do
      case $config in
        1rank) launch=() extra=() ;;
        2ranks_overlap) launch=(mpirun -np 2 --bind-to core) extra=(--overlap true) ;;
        2ranks_after_backward) launch=(mpirun -np 2 --bind-to core) extra=(--overlap false) ;;
      esac
      out="$work/$model-$config-$i"
      # shellcheck disable=SC2086
      "${launch[@]}" "$build/src/hpa-train" --out "$out" ${model_args[$model]} "${common[@]}" "${extra[@]}" >"$out.log"
      rate=$(/usr/bin/python3 -c "import h5py; print(h5py.File('$out/run.h5')['metrics/images_per_second'][0, 1])")
      exposed=$(grep -o 'allreduce exposed [0-9.]* ms/step ([0-9.]*%)' "$out.log" | grep -o '([0-9.]*%)' | tr -d '()%' || echo 0)
      echo "$model $config run $i: $rate img/s, exposed allreduce ${exposed}% of train time"
      echo "$model $config $rate $exposed" >>"$results"
    done
  done
done
/usr/bin/python3 - "$results" <<'PY'
import collections, statistics, sys
rates, exposed = collections.defaultdict(list), collections.defaultdict(list)
for line in open(sys.argv[1]):
    model, config, rate, share = line.split()
    rates[model, config].append(float(rate))
    exposed[model, config].append(float(share))
for model in sorted({m for m, _ in rates}):
    one = statistics.median(rates[model, "1rank"])
    print(f"{model}: 1 rank {one:.0f} img/s")
    for config in ["2ranks_overlap", "2ranks_after_backward"]:
        two = statistics.median(rates[model, config])
        print(f"  {config}: {two:.0f} img/s, speedup {two / one:.2f}x, "
              f"exposed allreduce {statistics.median(exposed[model, config]):.1f}% of train time")
PY
