#!/usr/bin/env bash
# Builds hpa on a machine without network from the bundle of env/offline-bundle.sh, against the
# LibTorch of a pip PyTorch (or any LibTorch CMake config), with or without CUDA and NCCL.
#   env/build-offline.sh [options] [TARGET...]       (no target: all)
#     --bundle DIR     the .deb files (default .deps/offline-bundle)
#     --prefix DIR     where they are unpacked, never / (default .deps/offline-prefix)
#     --build DIR      the build folder (default build/offline, or build/offline-cuda with --cuda)
#     --torch DIR      LibTorch's CMake prefix (default: python3's torch.utils.cmake_prefix_path if
#                      python3 imports torch and it has one, else the system's LibTorch)
#     --cuda           HPA_WITH_NCCL=ON: NCCL from NCCL_ROOT, the system, or the nvidia-nccl
#                      Python package next to torch
#     --configure-only
# It writes PREFIX/env.sh (PATH, LD_LIBRARY_PATH, Open MPI's OPAL_PREFIX relocation): source it
# before running what was built. Every dependency found by CMake must come from the prefix (or,
# for LibTorch, CUDA and NCCL, from where they were named); the script checks the CMake cache and
# that each bundled library's needs are met by the bundle or a base every Debian/Ubuntu system has.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=.deps/offline-bundle prefix=.deps/offline-prefix build="" torch="" cuda=0 configure_only=0
targets=()
while (($#)); do
  case $1 in
    --bundle | --prefix | --build | --torch)
      (($# >= 2)) || { echo "build-offline.sh: $1 needs a value" >&2; exit 2; }
      declare "${1#--}=$2"
      shift 2
      ;;
    --cuda) cuda=1; shift ;;
    --configure-only) configure_only=1; shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-offline.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [[ -z $build ]]; then
  build=build/offline
  ((cuda)) && build+=-cuda
fi
prefix=$(realpath -m "$prefix")
[[ $prefix != / && $prefix != /usr* ]] || { echo "build-offline.sh: --prefix $prefix: not into the system" >&2; exit 2; }
compgen -G "$bundle/*.deb" >/dev/null || {
  echo "build-offline.sh: no .deb files in $bundle (make them with env/offline-bundle.sh)" >&2
  exit 2
}
root=$prefix/root
arch=x86_64-linux-gnu

# 1. Unpack (again when the bundle changed).
if ! cmp -s "$bundle/MANIFEST" "$prefix/MANIFEST"; then
  rm -rf "$root"
  mkdir -p "$root"
  for deb in "$bundle"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  # HDF5's compiler wrapper names its install prefix; point it at the unpacked one.
  sed -i "s|^prefix=\"/usr\"|prefix=\"$root/usr\"|" "$root/usr/bin/h5pcc.openmpi"
  # libjpeg-turbo's CMake targets name their libraries by absolute path (/usr/lib/...): on a machine
  # without libjpeg they would not exist, and on one with it CMake would take the system's copy.
  sed -i "s|\"/usr/|\"$root/usr/|g" "$root/usr/lib/$arch"/cmake/*/*Targets-*.cmake
  # Debian's alternatives system, not the packages, makes these links: the soname of PSM, and the
  # plain program names (mpirun -> mpirun.openmpi, mpicc, mpiexec, h5pcc, ...), which CMake and
  # users look for.
  for lib in "$root"/usr/lib/libpsm1/libpsm_infinipath.so.1.*; do ln -sf "$(basename "$lib")" "${lib%.*}"; done
  for program in "$root"/usr/bin/*.openmpi; do ln -sf "$(basename "$program")" "${program%.openmpi}"; done
  cp "$bundle/MANIFEST" "$prefix/MANIFEST"
fi
libdirs=("$root/usr/lib/$arch" "$root/usr/lib/$arch/openmpi/lib" "$root/usr/lib/$arch/hdf5/openmpi"
  "$root/usr/lib/libpsm1")
cat >"$prefix/env.sh" <<ENV
# Written by env/build-offline.sh: the unpacked dependency bundle on the paths. Source it.
export PATH="$root/usr/bin:\${PATH}"
export LD_LIBRARY_PATH="$(IFS=:; echo "${libdirs[*]}")\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export OPAL_PREFIX="$root/usr"   # Open MPI finds its components, help and wrapper data under it
export PMIX_INSTALL_PREFIX="$root/usr/lib/$arch/pmix2"   # and PMIx its components and help files
export HDF5_CC=mpicc.openmpi
ENV
# shellcheck source=/dev/null
source "$prefix/env.sh"
# HDF5's wrapper names -lcrypto -lcurl -lsz (habits of static linking) and the bundle holds only their
# runtime libraries: link names for them, in the prefix, to the bundled or the system's library.
for name in $(h5pcc.openmpi -show | grep -o -- ' -l[a-z0-9_]*' | sed 's/^ -l//'); do
  link=$root/usr/lib/$arch/lib$name.so
  [[ -e $link || $name == dl || $name == m ]] && continue
  target=$(compgen -G "$link.*" | head -1 || true)
  # awk reads to the end: an early exit would give ldconfig a SIGPIPE, fatal under pipefail
  [[ -n $target ]] || target=$(ldconfig -p | awk -v n="lib$name.so." 'index($1, n) == 1 && !found {print $NF; found = 1}')
  if [[ -n $target ]]; then ln -sf "$target" "$link"; fi
done

# 2. Every library needed by a bundled one is in the bundle or in the base system.
python3 - "$root" <<'PY'
import os, re, subprocess, sys
root = sys.argv[1]
base = {"libc.so.6", "libm.so.6", "libresolv.so.2", "ld-linux-x86-64.so.2", "libgcc_s.so.1", "libstdc++.so.6",
        "libatomic.so.1", "libz.so.1", "libzstd.so.1", "libcrypto.so.3", "libssl.so.3", "libudev.so.1",
        "libuuid.so.1", "libgnutls.so.30", "libnettle.so.8", "libhogweed.so.6", "libgmp.so.10",
        "libidn2.so.0", "libunistring.so.2", "libcom_err.so.2", "libkeyutils.so.1", "libdb-5.3.so",
        "libpthread.so.0", "libdl.so.2", "librt.so.1"}
have, elfs = set(), []
for folder, _, files in os.walk(root):
    for name in files:
        path = os.path.join(folder, name)
        have.add(name)
        if not os.path.islink(path) and open(path, "rb").read(4) == b"\x7fELF":
            elfs.append(path)
missing = {}
for elf in elfs:
    dynamic = subprocess.run(["readelf", "-d", elf], capture_output=True, text=True).stdout
    for need in re.findall(r"Shared library: \[(.*?)\]", dynamic):
        if need not in have and need not in base:
            missing.setdefault(need, os.path.relpath(elf, root))
for need, user in sorted(missing.items()):
    print(f"build-offline.sh: {need} (needed by {user}) is neither bundled nor a base library", file=sys.stderr)
if missing:
    sys.exit(1)
print(f"build-offline.sh: {len(elfs)} bundled binaries, every library they need is bundled or base")
PY

# 3. Configure against the bundle.
if [[ -z $torch ]]; then
  torch=$(python3 -c 'import torch, os; p = torch.utils.cmake_prefix_path; print(p if os.path.isdir(p + "/Torch") else "")' 2>/dev/null || true)
fi
args=(-G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DHPA_BUILD_BENCHMARKS=OFF
  -DCMAKE_PREFIX_PATH="${torch:+$torch;}$root/usr"
  -DMPI_C_COMPILER="$root/usr/bin/mpicc.openmpi" -DMPIEXEC_EXECUTABLE="$root/usr/bin/mpirun.openmpi"
  -DHDF5_C_COMPILER_EXECUTABLE="$root/usr/bin/h5pcc.openmpi"
  -DBoost_DIR="$root/usr/lib/$arch/cmake/Boost-1.74.0" -DBoost_NO_SYSTEM_PATHS=ON
  -DGTest_DIR="$root/usr/lib/$arch/cmake/GTest"
  -Dlibjpeg-turbo_DIR="$root/usr/lib/$arch/cmake/libjpeg-turbo"
  -DZLIB_ROOT="$root/usr" -DPNG_PNG_INCLUDE_DIR="$root/usr/include" -DPNG_LIBRARY="$root/usr/lib/$arch/libpng.so"
  # Debian's multiarch headers (jconfig.h of libjpeg-turbo): the compiler looks for them under
  # /usr/include/<arch> only, which a machine without libjpeg lacks.
  -DCMAKE_CXX_FLAGS="-isystem $root/usr/include/$arch" -DCMAKE_C_FLAGS="-isystem $root/usr/include/$arch")
if ((cuda)); then
  args+=(-DHPA_WITH_NCCL=ON)
  if [[ -z ${NCCL_ROOT:-} ]]; then
    nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__) or list(nvidia.nccl.__path__)[0])' 2>/dev/null || true)
    [[ -n $nccl ]] && args+=(-DNCCL_ROOT="$nccl")
  fi
fi
echo "build-offline.sh: LibTorch from ${torch:-the system}; dependencies from $root"
cmake "${args[@]}"

# 4. The cache must name the bundle for everything it provides, and nothing else may come from
# the system: every path in it is the bundle's, LibTorch's (with what its CMake config finds), the
# compiler's or a tool's, or this build's.
python3 - "$build/CMakeCache.txt" "$root" "$(realpath "$build")" <<'PY'
import re, sys
cache, root, build = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
bundled = re.compile(r"^(MPI|MPIEXEC|HPA_MPIEXEC|HDF5|Boost|boost_|GTest|GMock|libjpeg-turbo|JPEG|TurboJPEG|PNG|ZLIB)")
system_ok = {"HDF5_C_LIBRARY_dl", "HDF5_C_LIBRARY_m"}  # glibc, named by HDF5's wrapper
others = re.compile(r"^(CMAKE_|CCACHE_PROGRAM$|PKG_CONFIG_EXECUTABLE$|HPA_PYTHON$|HPA_REPORT_PYTHON$|OpenMP_|"
                    r"Torch_DIR$|TORCH_|Caffe2_|c10_|kineto_|Protobuf_|gflags_|glog_|Unwind_|CUDA|CUDNN|CUPTI|"
                    r"NCCL|nvtx|NVTX|cuDNN|CUB_|Python|pybind|LIBNVTOOLSEXT)")
bad = checked = 0
for key, kind, value in re.findall(r"^([A-Za-z0-9_.+-]+):(FILEPATH|PATH|STRING|UNINITIALIZED)=(/.*)$", cache, re.M):
    paths = value.split(";")
    if all(p.startswith(build) for p in paths):
        continue
    if bundled.match(key) and key not in system_ok:
        checked += 1
        ok = all(p.startswith(root) for p in paths)
        print(f"  {key:34s} {'bundle' if ok else 'ELSEWHERE'}  {value}")
        bad += not ok
    elif not others.match(key) and key not in system_ok and kind != "STRING":
        print(f"  {key:34s} UNKNOWN  {value} (a dependency the bundle does not cover?)")
        bad += 1
print(f"build-offline.sh: {checked} cache entries of bundled dependencies checked, {bad} wrong")
sys.exit(1 if bad or checked < 15 else 0)
PY
((configure_only)) && exit 0
cmake --build "$build" ${targets[@]:+--target "${targets[@]}"}
