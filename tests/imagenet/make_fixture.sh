#!/usr/bin/env bash
# The ImageNet-format test tree (tests/imagenet/make_tree.py, with every quirk) and its two packs,
# shared by the ImageNet tests as a CTest fixture.
# usage: make_fixture.sh BUILD_DIR/src OUT     -> OUT/tree/{train,val,LOC_val_solution.csv}, OUT/packs/{train,val}.h5
set -euo pipefail
bin=$1 out=$2
rm -rf "$out" && mkdir -p "$out/packs"
/usr/bin/python3 "$(dirname "$0")/make_tree.py" "$out/tree" --quirks --classes 6 --train-per-class 14 \
  --val-per-class 5 > "$out/tree.json"
"$bin/hpa-pack" "$out/tree/train" --out "$out/packs/train.h5" --progress-seconds 1000
"$bin/hpa-pack" "$out/tree/val" --val-solution "$out/tree/LOC_val_solution.csv" --classes-from "$out/packs/train.h5" \
  --out "$out/packs/val.h5" --progress-seconds 1000
