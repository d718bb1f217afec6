#!/usr/bin/env bash
# Compiles (syntax only) every hpa source file against newer LibTorch headers than Debian 12's 1.13,
# so the code keeps to the API that LibTorch 1.13 and 2.x share:
#   cpu:  LibTorch 2.14 (Debian sid's libtorch-dev), C++20 as that LibTorch demands
#   cuda: LibTorch 2.6 with CUDA (Debian trixie's libtorch-cuda-dev), CUDA 12.4 and NCCL 2.22
#         headers, C++17, with HPA_WITH_NCCL=1 so the GPU code paths compile too (downloads ~1 GB)
# Usage (root, or a user allowed `unshare --map-root-user`):
#   env/torch-compat.sh [cpu|cuda|all] [BUILD_DIR] [REGEX]  (default: cpu build/ci, every file)
# REGEX, if given, keeps only the source files whose path matches it.
# BUILD_DIR must hold a compile_commands.json (any configured preset). The headers go to
# .deps/torch-compat (ignored by git). Inside a private mount namespace the newer headers are
# bound over /usr/include/{ATen,c10,torch,caffe2}, so the 1.13 ones cannot leak in; the host's
# files are not touched. Prints one line per file and exits non-zero if any file fails; the
# compiler's messages go to .deps/torch-compat/log/VARIANT/FILE.err.
set -euo pipefail
cd "$(dirname "$0")/.."
variant=${1:-cpu}
build_dir=${2:-build/ci}
filter=${3:-}
case $variant in cpu | cuda | all) ;; *)
  echo "torch-compat.sh: unknown variant '$variant' (cpu, cuda or all)" >&2
  exit 2
  ;;
esac
[[ -f $build_dir/compile_commands.json ]] || {
  echo "torch-compat.sh: $build_dir/compile_commands.json not found (configure a preset first)" >&2
  exit 2
}
deps=$PWD/.deps/torch-compat
source env/lib/apt_private.sh
apt_private_init "$deps/apt" "trixie sid" "main contrib non-free"

unpack() {  # unpack DEB DIR [tar member pattern]: once
  local deb=$1 dir=$2
  [[ -e $dir/.done ]] && return
  mkdir -p "$dir"
  if (($# > 2)); then
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --wildcards "$3"
  else
    dpkg-deb -x "$deb" "$dir"
  fi
  touch "$dir/.done"
}

run_variant() {
  local name=$1 torch_inc=$2 std=$3
  shift 3
  local bind=""
  for d in ATen c10 torch caffe2; do
    [[ -d /usr/include/$d ]] || continue
    bind+="mount --bind $torch_inc/$d /usr/include/$d && "
  done
  local ns=(unshare --mount)
  [[ $(id -u) -eq 0 ]] || ns+=(--map-root-user)
  echo "== $name: $std, headers from $torch_inc"
  "${ns[@]}" sh -c "${bind}exec python3 env/torch_compat_check.py \"\$@\"" sh \
    --compile-commands "$build_dir/compile_commands.json" --torch-include "$torch_inc" --std "$std" \
    --log "$deps/log/$name" --filter "$filter" "$@"
}

status=0
if [[ $variant == cpu || $variant == all ]]; then
  apt_private_fetch "$deps/debs" libtorch-dev=2.14.1+dfsg-1
  unpack "$deps"/debs/libtorch-dev_2.14*.deb "$deps/torch-2.14"
  run_variant torch-2.14-cpu "$deps/torch-2.14/usr/include" c++20 || status=1
fi
if [[ $variant == cuda || $variant == all ]]; then
  apt_private_fetch "$deps/debs" libtorch-cuda-dev=2.6.0+dfsg-7+b1 libnccl-dev=2.22.3-1-1 \
    nvidia-cuda-dev=12.4.127~12.4.1-2 libcu++-dev=2.5.0-1
  unpack "$deps"/debs/libtorch-cuda-dev_*.deb "$deps/torch-2.6-cuda"
  unpack "$deps"/debs/libnccl-dev_*.deb "$deps/nccl" './usr/include/*'
  unpack "$deps"/debs/nvidia-cuda-dev_*.deb "$deps/cuda" './usr/include/*'
  unpack "$deps"/debs/libcu++-dev_*.deb "$deps/libcu++"
  run_variant torch-2.6-cuda "$deps/torch-2.6-cuda/usr/include" c++17 \
    --define HPA_WITH_NCCL=1 --include "$deps/cuda/usr/include" --include "$deps/nccl/usr/include" \
    --include "$deps/libcu++/usr/include" || status=1
fi
exit $status
