#!/usr/bin/env bash
# device.check_cpu: hpa-device-check's code on the CPU with small sizes (the GPU machine runs it with
# --device cuda): every section runs, the single-rank reducer really launches its collectives and
# changes nothing, the snapshot is written, and a bad option gives one clear line.
# Usage: check_cpu.sh HPA_DEVICE_CHECK WORK_DIR
set -euo pipefail
check=$1 work=$2
rm -rf "$work"
mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
out=$("$check" --device cpu --dir "$work" --threads 2 \
  --batch 2 --image 64 --timed-steps 2 --grid-images 100 --grid-variants 2)
echo "$out"
value() { sed -n "s/^check: $1 = //p" <<<"$out"; }
for section in nccl throughput snapshot grid; do
  [[ -n $(value "$section.seconds") ]] || fail "section $section did not run"
  [[ -z $(value "$section.error") ]] || fail "section $section: $(value "$section.error")"
done
[[ $(value nccl.backend) == mpi && $(value nccl.ok) == yes ]] || fail "single-rank reducer"
(($(value nccl.launches) > 0)) || fail "the reducer launched no collective"
python3 -c "import sys; sys.exit(not 570 < float(sys.argv[1]) < 580)" "$(value snapshot.megabytes)" ||
  fail "VGG19 snapshot size $(value snapshot.megabytes) MB (torchvision's has 143.7 M parameters)"
[[ -z $(ls -A "$work") ]] || fail "scratch run directory left behind: $(ls "$work")"
if err=$("$check" --device tpu 2>&1); then fail "--device tpu accepted"; fi
[[ $err == "hpa-device-check: --device: cpu or cuda, not 'tpu'" ]] || fail "--device tpu: got '$err'"
if err=$("$check" --section nope 2>&1); then fail "--section nope accepted"; fi
grep -q "unknown section 'nope'" <<<"$err" || fail "--section nope: got '$err'"
echo "device.check_cpu: ok"
