#!/usr/bin/env bash
# Side-by-side training throughput: hpa-train against a PyTorch eager loop (Debian python3-torch)
# on the demo model, batch, optimizer and thread count, alternating runs. Prints each run and the
# medians and their ratio. Not a test: run it by hand on an otherwise idle machine.
#
# usage: src/bench/train_throughput.sh [BUILD_DIR] [REPEATS] [NUM_IMAGES] [THREADS]
set -euo pipefail
build=${1:-build/release}
repeats=${2:-3}
images=${3:-20000}
threads=${4:-2}
data=/usr/share/datasets/fashion-mnist
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

hpa=() torch=()
for ((i = 0; i < repeats; ++i)); do
  "$build/src/hpa-train" --config "$here/../../jobs/fashion_mnist_demo.cfg" --out "$work/run$i" --seeds 0 \
    --epochs 1 --val-fraction 0 --train-subset "$images" --threads "$threads" >"$work/log$i"
  h=$(/usr/bin/python3 -c "import h5py; print(h5py.File('$work/run$i/run.h5')['metrics/images_per_second'][0, 1])")
  t=$(/usr/bin/python3 "$here/pytorch_lenet_eager.py" "$data" "$images" "$threads" | awk '{print $2}')
  snapshot=$(grep -o 'snapshot [0-9.]*s ([0-9.]*%)' "$work/log$i")
  echo "run $i: hpa-train $h img/s ($snapshot), pytorch eager $t img/s"
  hpa+=("$h")
  torch+=("$t")
done
/usr/bin/python3 - "${hpa[*]}" "${torch[*]}" <<'PY'
import statistics, sys
hpa = [float(v) for v in sys.argv[1].split()]
torch = [float(v) for v in sys.argv[2].split()]
print(f"median hpa-train {statistics.median(hpa):.0f} img/s, pytorch eager {statistics.median(torch):.0f} img/s, "
      f"ratio {statistics.median(hpa) / statistics.median(torch):.2f}x")
PY
