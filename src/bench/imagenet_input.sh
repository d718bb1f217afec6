#!/usr/bin/env bash
# ImageNet input, side by side in one run (medians of REPEATS), on an ImageNet-format tree made
# from Debian's mate-backgrounds photographs (tests/imagenet/make_tree.py: ImageNet-like sizes,
# longer side 375..500, JPEG quality 90..96):
#  1. hpa-pack's MB/s against `cat` of the same files (page cache warm for both);
#  2. images/s (after a 2 s warm-up, as in a long training run) of hpa's training input (read +
#     decode + RandomResizedCrop + flip + normalize into float batches; bench_image_pipeline) against torchvision ImageFolder + PIL + DataLoader on
#     the same files with the same cores (1 core: num_workers=0; N cores: N workers), and against
#     a plain full-size libjpeg-turbo decode of the same bytes (TurboJPEG);
#  3. one epoch of AlexNet (width 1/4) on the tree with hpa-train: the share of the training loop
#     spent waiting for data.
# Not a test: run it by hand on an otherwise idle machine.
#
# usage: src/bench/imagenet_input.sh [BUILD_DIR] [REPEATS] [IMAGES_PER_CLASS] [THREADS]
set -euo pipefail
build=${1:-build/release}
repeats=${2:-3}
per_class=${3:-200}
threads=${4:-2}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
median() { /usr/bin/python3 -c "import statistics, sys; print(f'{statistics.median(float(v) for v in sys.argv[1:]):.1f}')" "$@"; }
ratio() { /usr/bin/python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }

/usr/bin/python3 "$here/../../tests/imagenet/make_tree.py" "$work/tree" --classes 12 --train-per-class "$per_class" \
  --val-per-class 10 --min-side 375 --max-side 500 --quality 90 96 >/dev/null
files=$(find "$work/tree/train" -type f | wc -l)
bytes=$(du -sb "$work/tree/train" | cut -f1)
echo "tree: $files JPEG files, $((bytes / 1000000)) MB, $(nproc) cores, $threads thread(s)"

# 1. packing against cat
find "$work/tree/train" -type f -print0 | xargs -0 cat >/dev/null  # warm the page cache
cat_rates=() pack_rates=() pack_own=()
for ((i = 0; i < repeats; ++i)); do
  start=$(date +%s.%N)
  find "$work/tree/train" -type f -print0 | xargs -0 cat >/dev/null
  cat_rates+=("$(echo "$bytes / ($(date +%s.%N) - $start) / 1000000" | bc -l)")
  start=$(date +%s.%N)
  summary=$("$build/src/hpa-pack" "$work/tree/train" --out "$work/train.h5" --threads "$threads" --overwrite | tail -1)
  pack_rates+=("$(echo "$bytes / ($(date +%s.%N) - $start) / 1000000" | bc -l)")
  pack_own+=("$(echo "$summary" | grep -o '[0-9.]* MB/s read' | awk '{print $1}')")
done
cat_mb=$(median "${cat_rates[@]}") pack_mb=$(median "${pack_rates[@]}") own_mb=$(median "${pack_own[@]}")
echo "packing: cat $cat_mb MB/s; hpa-pack (reads, decodes every image to check it, writes) $pack_mb MB/s" \
     "as a whole process ($(ratio "$pack_mb" "$cat_mb")x of cat), $own_mb MB/s after its start-up ($(ratio "$own_mb" "$cat_mb")x)"
"$build/src/hpa-pack" "$work/tree/val" --val-solution "$work/tree/LOC_val_solution.csv" --classes-from "$work/train.h5" \
  --out "$work/val.h5" >/dev/null

# 2. the input pipeline
for cores in 1 "$threads"; do
  hpa=() turbo=() torch=()
  for ((i = 0; i < repeats; ++i)); do
    line=$(HPA_BENCH_PACK="$work/train.h5" "$build/src/bench/bench_image_pipeline" \
             --benchmark_filter="(TrainPipeline|FullDecode)/$cores/" --benchmark_min_warmup_time=2 --benchmark_format=csv 2>/dev/null)
    hpa+=("$(echo "$line" | grep '^"TrainPipeline' | awk -F, '{print $7}')")
    turbo+=("$(echo "$line" | grep '^"FullDecode' | awk -F, '{print $7}')")
    workers=$([[ $cores == 1 ]] && echo 0 || echo "$cores")
    torch+=("$(/usr/bin/python3 "$here/torchvision_input.py" "$work/tree/train" "$workers" | awk '{print $1}')")
  done
  h=$(median "${hpa[@]}") t=$(median "${turbo[@]}") v=$(median "${torch[@]}")
  echo "input, $cores core(s): hpa $h img/s; torchvision+PIL DataLoader $v img/s ($(ratio "$h" "$v")x);" \
       "full-size libjpeg-turbo decode alone $t img/s ($(ratio "$h" "$t")x)"
  echo "  runs: hpa ${hpa[*]} | torchvision ${torch[*]} | decode ${turbo[*]}"
done

# 3. one epoch of AlexNet, data wait
"$build/src/hpa-train" --dataset imagenet --data-dir "$work" --arch alexnet --width 0.25 --epochs 1 --batch-size 128 \
  --threads "$threads" --data-threads "$threads" --out "$work/run" >"$work/train.log"
grep "epoch 1/1" "$work/train.log" | grep -o "[0-9]* img/s, data wait [0-9.]*%"
