#!/usr/bin/env bash
# Installs, idempotently, every Debian 12 package hpa needs to build, test, run the demo and the
# analysis. Run as root (or through sudo). Safe to run again: apt skips what is present.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # the sanitizer and fuzzing build (asan preset): clang, its ASan/UBSan/libFuzzer runtimes, and
  # llvm-symbolizer for readable sanitizer stacks
  clang libclang-rt-14-dev llvm
  # LibTorch 1.13 (CPU) and an optimized BLAS: without libopenblas0-openmp the linear layers
  # fall back to the reference BLAS (about 25x slower sgemm on the development machines)
  libtorch-dev libopenblas0-openmp
  # MPI and parallel HDF5 (the serial libhdf5-dev is not enough: the MPI-IO driver is required)
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
  # options, tests, benchmarks, gzip for IDX files
  libboost-program-options-dev libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  # ImageNet input: libjpeg-turbo (its libjpeg and TurboJPEG APIs) and libpng
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev
  # real photographs the ImageNet-format test trees are made from
  mate-backgrounds
  # the embedded default dataset
  dataset-fashion-mnist
  # analysis, and the reference implementations the tests compare against
  python3 python3-h5py python3-numpy python3-scipy python3-matplotlib python3-pytest
  python3-torch python3-torchvision python3-pil
  # `pip install ./analysis` as the analysis test does it: a venv, pip, setuptools (no network)
  python3-venv python3-pip python3-setuptools
  # the multi-node Slurm cluster of the end-to-end tests: its nodes are network namespaces linked by
  # veth pairs and a bridge (ip from iproute2; unshare and nsenter come with util-linux)
  slurmctld slurmd slurm-client munge iproute2
  # lint of the batch scripts (a broken script only fails on the cluster, after the queue wait)
  shellcheck
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "env/debian.sh: all ${#packages[@]} packages present"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "env/debian.sh: installed ${#missing[@]} packages"
