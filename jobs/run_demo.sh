#!/usr/bin/env bash
# The README's main job: builds hpa, trains the Fashion-MNIST demo (jobs/fashion_mnist_demo.cfg,
# LeNet, 2 seeds) into runs/fashion_mnist_demo, and prints the per-layer n_l at the first and last
# epoch. Continues an interrupted demo run; HPA_DEMO_FRESH=1 starts it again from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target hpa-train hpa-stats

run_dir=runs/fashion_mnist_demo
mode=()
if [[ -f "$run_dir/run.h5" ]]; then
  if [[ "${HPA_DEMO_FRESH:-0}" == 1 ]]; then mode=(--overwrite); else mode=(--resume); fi
fi
./build/release/src/hpa-train --config jobs/fashion_mnist_demo.cfg --out "$run_dir" "${mode[@]}"
./build/release/src/hpa-stats "$run_dir"
echo
echo "results: $run_dir/run.h5 (open with h5py; format in docs/run-format.md)"
