#!/usr/bin/env bash
# The device check's data (tests/device/device_check.sh): an ImageNet-format tree of real
# photographs (tests/imagenet/make_tree.py, every quirk, 8 classes, images 96..160 pixels on their
# longer side) packed by hpa-pack into OUT/train.h5 and OUT/val.h5. Made here, where Debian's
# photographs and PIL are; the GPU machine has neither, so OUT travels with the repository.
#   tests/device/make_data.sh HPA_PACK [OUT]        (default OUT: .deps/device-data, ignored by git)
set -euo pipefail
cd "$(dirname "$0")/../.."
pack=${1:?usage: make_data.sh HPA_PACK [OUT]} out=${2:-.deps/device-data}
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
/usr/bin/python3 tests/imagenet/make_tree.py "$tree" --quirks --classes 8 --train-per-class 20 --val-per-class 8 \
  --min-side 96 --max-side 160 >/dev/null
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
"$pack" "$tree/train" --out "$out.tmp/train.h5" --progress-seconds 1000 >/dev/null
"$pack" "$tree/val" --val-solution "$tree/LOC_val_solution.csv" --classes-from "$out.tmp/train.h5" \
  --out "$out.tmp/val.h5" --progress-seconds 1000 >/dev/null
rm -rf "$out" && mv "$out.tmp" "$out"
echo "make_data.sh: $(du -sh "$out" | cut -f1) in $out"
