#!/usr/bin/env bash
# Side-by-side training throughput of --precision fp32/bf16 and --memory-format contiguous/
# channels-last on one machine: hpa-train, VGG11 at width 1/4 on Fashion-MNIST padded to 32x32 over
# 3 channels (CIFAR-10 format, written by make_cifar_from_fashion_mnist.py), batch 128, one epoch of
# NUM_IMAGES, the four settings alternating, REPEATS rounds. Prints each run's images/s (run.h5's
# metric: training steps only), the medians and their ratios to fp32. Not a test: run it by hand on an
# otherwise idle machine.
#
# usage: src/bench/precision_throughput.sh [BUILD_DIR] [REPEATS] [NUM_IMAGES] [THREADS]
set -euo pipefail
build=${1:-build/release}
repeats=${2:-3}
images=${3:-5120}
threads=${4:-2}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/make_cifar_from_fashion_mnist.py" /usr/share/datasets/fashion-mnist "$work/data"
settings=("fp32 contiguous" "bf16 contiguous" "fp32 channels-last" "bf16 channels-last")
declare -A rates
for ((i = 0; i < repeats; ++i)); do
  for s in "${settings[@]}"; do
    read -r precision layout <<<"$s"
    run=$work/run-$precision-$layout-$i
    "$build/src/hpa-train" --dataset cifar10 --data-dir "$work/data" --arch vgg11 --width 0.25 --seeds 0 \
      --epochs 1 --val-fraction 0 --train-subset "$images" --test-subset 1000 --batch-size 128 --lr 0.01 \
      --threads "$threads" --precision "$precision" --memory-format "$layout" --out "$run" >/dev/null
    rate=$(/usr/bin/python3 -c "import h5py; print(h5py.File('$run/run.h5')['metrics/images_per_second'][0, 1])")
    echo "round $i: $precision $layout $rate img/s"
    rates[$s]+="$rate "
    rm -rf "$run"
  done
done
args=()
for s in "${settings[@]}"; do args+=("$s" "${rates[$s]}"); done
/usr/bin/python3 - "${args[@]}" <<'PY'
import statistics, sys
pairs = list(zip(sys.argv[1::2], sys.argv[2::2]))
medians = {name: statistics.median(float(v) for v in values.split()) for name, values in pairs}
base = medians["fp32 contiguous"]
for name, median in medians.items():
    print(f"median {name}: {median:.1f} img/s, {median / base:.3f}x fp32 contiguous")
PY
