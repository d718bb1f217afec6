#!/usr/bin/env bash
# env.offline_build: the dependency bundle (env/offline-bundle.sh) and the offline build
# (env/build-offline.sh) on this machine with its own MPI, HDF5, Boost, libjpeg and libpng hidden,
# CPU variant: unpack into a private prefix, configure hpa against it (every dependency must resolve
# into the prefix), build what the device check runs and rehearse the whole check on the CPU; the
# dependency probe on 2 ranks (bundled mpirun) must have loaded the bundled libraries. The CUDA
# variant runs on the GPU machine (docs/gpu.md).
# Usage: test_offline_build.sh SOURCE_DIR WORK_DIR HPA_PACK LIBTORCH_SO
set -euo pipefail
src=$1 work=$2 hpa_pack=$3 libtorch=$4
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

# The rest runs where this machine's MPI, PMIx, HDF5, Boost, GoogleTest, libjpeg and libpng are
# hidden (tests/env/hide_host_deps.sh): only the bundle can satisfy them, as on the GPU machine. In
# there: the device check's rehearsal (tests/device/device_check.sh --rehearse), which builds with
# env/build-offline.sh and runs every stage of the GPU check on the CPU.
tests/device/make_data.sh "$hpa_pack" "$work/data"
hide=(tests/env/hide_host_deps.sh --keep-for-libtorch "$libtorch:.deps/offline-bundle")
"${hide[@]}" bash -c '! command -v mpirun mpicc h5pcc ompi_info && [[ ! -e /usr/include/boost && ! -e /etc/openmpi/openmpi-mca-params.conf ]] &&
  ! compgen -G "/usr/lib/x86_64-linux-gnu/lib{mpi,hdf5_openmpi,boost_program_options,jpeg,turbojpeg,png16,pmix}.so*"' ||
  fail "the host's MPI, HDF5, Boost, libjpeg or libpng is visible in the namespace"
rc=0
PYTHON=/usr/bin/python3 "${hide[@]}" bash tests/device/device_check.sh --rehearse --data "$work/data" \
  --build "$work/build" --prefix "$work/prefix" "$work/check" || rc=$?
cat "$work/check/summary.txt"
((rc == 0)) || fail "device check rehearsal: exit status $rc (see $work/check)"
((  $(grep -c '^stage .*: passed' "$work/check/summary.txt") == 8 )) || fail "not every stage passed"
prefix=$(realpath "$work/prefix")
for lib in mpi boost_program_options hdf5 turbojpeg libjpeg libpng; do
  grep -q "^probe: $lib ok .* from $prefix/root/" "$work/check/probe.log" || fail "$lib was not loaded from the bundle"
done
grep -q "^probe: hdf5 ok .*(MPI-IO, 2 ranks)" "$work/check/probe.log" || fail "parallel HDF5 on 2 ranks"
echo "env.offline_build: ok"
