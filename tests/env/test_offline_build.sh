#!/usr/bin/env bash
# env.offline_build: the dependency bundle (env/offline-bundle.sh) and the offline build
# (env/build-offline.sh) on this machine, CPU variant: unpack into a private prefix, configure hpa
# against it (every dependency must resolve into the prefix), build the dependency probe, run it on
# 2 ranks with the bundled Open MPI (relocated with OPAL_PREFIX), and check that the libraries it
# loaded are the bundled ones. The full build with CUDA runs on the GPU machine (docs/gpu.md).
# Usage: test_offline_build.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1 work=$2
rm -rf "$work"
mkdir -p "$work"
cd "$src"
fail() { echo "FAIL: $*" >&2; exit 1; }
env/offline-bundle.sh  # kept in .deps/offline-bundle between runs; a fresh clone downloads it

# Bad input: one line naming the option, non-zero exit, nothing written.
mkdir -p "$work/empty"
env/build-offline.sh --frobnicate 2>/dev/null && fail "an unknown option was accepted"
out=$(env/build-offline.sh --prefix /usr 2>&1 || true)
[[ $out == *"--prefix /usr: not into the system"* ]] || fail "--prefix /usr: got '$out'"
out=$(env/build-offline.sh --bundle "$work/empty" 2>&1 || true)
[[ $out == *"no .deb files in $work/empty"* ]] || fail "empty bundle: got '$out'"
out=$(env/build-offline.sh --torch 2>&1 || true)
[[ $out == *"--torch needs a value"* ]] || fail "--torch without value: got '$out'"

env/build-offline.sh --prefix "$work/prefix" --build "$work/build" hpa-deps-probe
grep -q "^prefix=\"$(realpath "$work/prefix")/root/usr\"" "$work/prefix/root/usr/bin/h5pcc.openmpi" ||
  fail "the prefix's h5pcc was not pointed at the prefix"
# shellcheck source=/dev/null
source "$work/prefix/env.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mpirun.openmpi --oversubscribe -np 2 "$work/build/src/hpa-deps-probe" --dir "$work")
echo "$out"
prefix=$(realpath "$work/prefix")
for lib in mpi boost_program_options hdf5 turbojpeg libjpeg libpng; do
  grep -q "^probe: $lib ok .* from $prefix/root/" <<<"$out" || fail "$lib was not loaded from the bundle"
done
grep -q "^probe: hdf5 ok .*(MPI-IO, 2 ranks)" <<<"$out" || fail "parallel HDF5 on 2 ranks"
grep -q "^probe: libtorch ok" <<<"$out" || fail "libtorch"
echo "env.offline_build: ok"
