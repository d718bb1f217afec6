#!/usr/bin/env bash
# The README's test command after env/debian.sh: builds with -Werror, runs every CTest test
# (unit, MPI, end-to-end), then builds the AddressSanitizer+UBSan preset and runs the unit tests
# under it. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
echo "== release build (-Werror), $jobs jobs"
cmake --preset ci
cmake --build --preset ci -j "$jobs"
echo "== tests"
ctest --preset ci -j "$jobs"

if [[ "${HPA_SKIP_ASAN:-0}" != 1 ]]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build, unit tests"
  cmake --preset asan -DHPA_WERROR=ON
  cmake --build --preset asan -j "$jobs" --target hpa_unit_tests
  ctest --preset asan -j "$jobs"
fi
