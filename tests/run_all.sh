#!/usr/bin/env bash
# The README's test command after env/debian.sh: builds with -Werror, runs every CTest test
# (unit, MPI, end-to-end), then builds the sanitizer preset and runs its tests. Exits non-zero on
# the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
echo "== release build (-Werror), $jobs jobs"
cmake --preset ci
cmake --build --preset ci -j "$jobs"
echo "== tests"
ctest --preset ci -j "$jobs"

# The sanitizer stage always runs (no switch skips it): clang's AddressSanitizer + UBSan build runs
# the unit tests, real 2-rank training, grid and pack runs with leak detection, and every fuzz
# target for a short time (docs/fuzzing.md).
echo "== sanitizers (clang ASan + UBSan + LSan): unit tests, real MPI runs, fuzz targets"
cmake --preset asan -DHPA_WERROR=ON
cmake --build --preset asan -j "$jobs"
ctest --preset asan -j "$jobs"
