#!/usr/bin/env bash
# Runs one libFuzzer target: first every regression input of tests/fuzz/regressions/TARGET (each
# once: a crash fixed before must stay fixed), then the fuzzer for SECONDS on its corpus
# (WORK/corpus/TARGET, kept between runs, started from the seeds of make_corpus.sh). Prints one line
# with the executions per second; a crash, leak, sanitizer report or timeout fails with the input
# saved under WORK/crashes/TARGET.
# HDF5-backed targets (image_pack, run_files) run in libFuzzer's fork mode: HDF5 1.10.8 itself
# loops forever, allocates gigabytes, leaks or overruns buffers on some damaged files (docs/fuzzing.md),
# which fork mode survives. Every input saved is replayed by triage.py: one whose first frame lies
# in libhdf5 is set aside (counted), as is one that does not fail when replayed alone (counted
# apart); any other is hpa's and fails the run like a crash.
# --seed N fixes libFuzzer's random seed (CTest uses 1: the same mutations on every CI run, so a
# CI failure is a regression rather than a new finding; campaigns leave it random).
# usage: fuzz.sh [--seconds 60] [--work DIR] [--jobs 1] [--seed N] BUILD_DIR/tests/fuzz TARGET
set -euo pipefail
seconds=60 work='' jobs=1 seed=0
while [[ $# -gt 2 ]]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $# -eq 2 ]] || { echo "usage: fuzz.sh [--seconds N] [--work DIR] [--jobs N] [--seed N] BUILD_DIR/tests/fuzz TARGET" >&2; exit 2; }
[[ $seed =~ ^[0-9]+$ ]] || { echo "fuzz.sh: --seed $seed: a whole number (0: random)" >&2; exit 2; }
dir=$(cd "$1" && pwd) target=$2
here=$(cd "$(dirname "$0")" && pwd)
exe=$dir/fuzz_$target
[[ -x $exe ]] || { echo "fuzz.sh: $exe: no such fuzz target (build the fuzz or asan preset)" >&2; exit 2; }
work=$(mkdir -p "${work:-$dir/work}" && cd "${work:-$dir/work}" && pwd)
seeds=$work/seeds/$target corpus=$work/corpus/$target crashes=$work/crashes/$target
[[ -d $seeds ]] || { echo "fuzz.sh: $seeds: no seed corpus (tests/fuzz/make_corpus.sh makes it)" >&2; exit 2; }
rm -rf "$crashes"  # the inputs of an earlier run were triaged then
mkdir -p "$corpus" "$crashes"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Inputs the readers must refuse quickly: bounded memory and time per input.
limits=(-rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=20 -seed="$seed")
hdf5=0
case $target in image_pack | run_files) hdf5=1 ;; esac
# Third-party leaks on the error paths of damaged files (fuzz-only suppressions, explained in the
# file); hpa's allocations are never suppressed.
export LSAN_OPTIONS=suppressions=$here/lsan-fuzz.supp
# LibTorch has no frame pointers: its leak suppression needs the slow unwinder (fewer exec/s).
[[ $target == model_file ]] && export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0"

regressions=$here/regressions/$target
if [[ -d $regressions ]] && compgen -G "$regressions/*" > /dev/null; then
  "$exe" "${limits[@]}" "$regressions"/* > "$work/$target.regressions.log" 2>&1 || {
    echo "FAIL: fuzz $target: a regression input crashes again (log $work/$target.regressions.log)" >&2
    tail -n 40 "$work/$target.regressions.log" >&2
    exit 1
  }
fi

log=$work/$target.log
status=0
mode=()  # one process; -jobs would run it as a child that logs to fuzz-N.log in the current folder
((jobs > 1)) && mode=(-jobs="$jobs" -workers="$jobs")
((hdf5)) && mode=(-fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -timeout=5)
(cd "$work" && "$exe" "${limits[@]}" "${mode[@]}" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$crashes/" "$corpus" "$seeds") > "$log" 2>&1 || status=$?
if ((jobs > 1 && !hdf5)); then cat "$work"/fuzz-*.log >> "$log" 2>/dev/null || true; rm -f "$work"/fuzz-*.log; fi
fail() {
  echo "FAIL: fuzz $target: $1 (inputs in $crashes, log $log):" >&2
  grep -E -A 40 'ERROR:|runtime error:|==[0-9]+==' "$2" | head -n 60 >&2
  exit 1
}
if ((hdf5)); then
  # Fork mode exits non-zero after ignored crashes: what counts is the triage below.
  grep -q '^INFO: exiting' "$log" || fail "the fuzzer did not run" "$log"
elif ((status != 0)) || grep -q -E 'ERROR: (Address|Leak|libFuzzer)|runtime error:|SUMMARY: ' "$log"; then
  fail "finding" "$log"
fi
hdf5_findings=0 unreproduced=0
if ((hdf5)); then
  for input in "$crashes"/{crash,leak,timeout,oom}-*; do
    [[ -e $input && $input != *.txt ]] || continue
    if /usr/bin/python3 "$here/triage.py" "$exe" "$input" > "$input.txt"; then
      if grep -q '^unreproduced' "$input.txt"; then unreproduced=$((unreproduced + 1)); else hdf5_findings=$((hdf5_findings + 1)); fi
    else
      echo "FAIL: fuzz $target: $(basename "$input") is hpa's: $(cat "$input.txt")" >&2
      exit 1
    fi
  done
fi
if ((hdf5)); then
  last=$(grep -E '^#[0-9]+: cov' "$log" | tail -n 1)
  runs=$(sed -E 's/^#([0-9]+):.*/\1/' <<< "$last")
  rate=$(( ${runs:-0} / (seconds > 0 ? seconds : 1) ))
else
  runs=$(awk '/stat::number_of_executed_units/ {s += $2} END {print s + 0}' "$log")
  rate=$(awk '/stat::average_exec_per_sec/ {s += $2} END {print s + 0}' "$log")
fi
echo "fuzz $target: ${seconds} s, ${runs:-0} executions, $rate exec/s, corpus $(ls "$corpus" | wc -l) inputs," \
  "no finding in hpa$( ((hdf5)) && echo ", $hdf5_findings inputs that fail inside HDF5 set aside," \
  "$unreproduced that do not fail alone")"
