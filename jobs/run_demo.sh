#!/usr/bin/env bash
# The README's main job: builds hpa, trains the Fashion-MNIST demo (jobs/fashion_mnist_demo.cfg,
# LeNet, 2 seeds) into runs/fashion_mnist_demo, prints the per-layer n_l at the first and last
# epoch, runs the layer re-initialization grid, and writes the analysis report to
# runs/fashion_mnist_demo_report/. Continues an interrupted demo; HPA_DEMO_FRESH=1 starts over.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target hpa-train hpa-stats hpa-reinit-grid  # and build/release/hpa-report

run_dir=runs/fashion_mnist_demo
mode=()
if [[ -f "$run_dir/run.h5" ]]; then
  if [[ "${HPA_DEMO_FRESH:-0}" == 1 ]]; then mode=(--overwrite); else mode=(--resume); fi
fi
./build/release/src/hpa-train --config jobs/fashion_mnist_demo.cfg --out "$run_dir" "${mode[@]}"
./build/release/src/hpa-stats "$run_dir"
grid=()
[[ "${mode[*]-}" == --overwrite ]] && grid=(--overwrite)
./build/release/src/hpa-reinit-grid "$run_dir" --epochs 0,1,2,5,10,15 --rerandomize 1 "${grid[@]}"
./build/release/hpa-report "$run_dir" --out "${run_dir}_report"
echo
echo "results: $run_dir/run.h5 and $run_dir/reinit.h5 (open with h5py; format in docs/run-format.md)"
echo "report:  ${run_dir}_report/index.md (figures as PNG and PDF, statistics.md, statistics.json)"
