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
  # Debian's alternatives system, not the package, makes this soname link.
  for lib in "$root"/usr/lib/libpsm1/libpsm_infinipath.so.1.*; do ln -sf "$(basename "$lib")" "${lib%.*}"; done
  cp "$bundle/MANIFEST" "$prefix/MANIFEST"
fi
libdirs=("$root/usr/lib/$arch" "$root/usr/lib/$arch/openmpi/lib" "$root/usr/lib/$arch/hdf5/openmpi"
  "$root/usr/lib/libpsm1")
cat >"$prefix/env.sh" <<ENV
# Written by env/build-offline.sh: the unpacked dependency bundle on the paths. Source it.
export PATH="$root/usr/bin:\${PATH}"
export LD_LIBRARY_PATH="$(IFS=:; echo "${libdirs[*]}")\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export OPAL_PREFIX="$root/usr"   # Open MPI finds its components, help and wrapper data under it
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
  -DZLIB_ROOT="$root/usr" -DPNG_PNG_INCLUDE_DIR="$root/usr/include" -DPNG_LIBRARY="$root/usr/lib/$arch/libpng.so")
if ((cuda)); then
  args+=(-DHPA_WITH_NCCL=ON)
  if [[ -z ${NCCL_ROOT:-} ]]; then
    nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__) or list(nvidia.nccl.__path__)[0])' 2>/dev/null || true)
    [[ -n $nccl ]] && args+=(-DNCCL_ROOT="$nccl")
  fi
fi
echo "build-offline.sh: LibTorch from ${torch:-the system}; dependencies from $root"
cmake "${args[@]}"

# 4. The cache must name the bundle for everything it provides.
python3 - "$build/CMakeCache.txt" "$root" <<'PY'
import re, sys
cache, root = open(sys.argv[1]).read(), sys.argv[2]
keys = [k for k in re.findall(r"^(HDF5_C_LIBRARY_[a-z0-9_]+):", cache, re.M) if k not in ("HDF5_C_LIBRARY_dl", "HDF5_C_LIBRARY_m")]
keys += ["MPI_C_COMPILER", "MPI_mpi_LIBRARY", "HDF5_C_COMPILER_EXECUTABLE", "Boost_DIR",
        "boost_program_options_DIR", "GTest_DIR", "libjpeg-turbo_DIR", "PNG_LIBRARY", "ZLIB_LIBRARY_RELEASE",
        "ZLIB_INCLUDE_DIR"]
bad = 0
for key in keys:
    m = re.search(rf"^{re.escape(key)}:[A-Z]+=(.*)$", cache, re.M)
    value = m.group(1) if m else "(not in the cache)"
    ok = value.startswith(root)
    bad += not ok
    print(f"  {key:28s} {'bundle' if ok else 'ELSEWHERE'}  {value}")
sys.exit(1 if bad else 0)
PY
((configure_only)) && exit 0
cmake --build "$build" ${targets[@]:+--target "${targets[@]}"}
