"""Replays one input a fuzz target saved and says whose finding it is: "hdf5" when the first frame
of the report's first stack that is not the sanitizer's or libFuzzer's own lies in libhdf5 (HDF5
1.10.8's own bugs on damaged files, which hpa cannot fix), else "hpa" (a finding to fix). Prints
`OWNER: first-frame` and exits 0 for hdf5, 1 for hpa; an input that runs cleanly alone, even 50
times, prints `unreproduced: ...` and exits 0.

usage: triage.py FUZZ_EXECUTABLE INPUT
"""
import re
import subprocess
import sys

exe, data = sys.argv[1], sys.argv[2]
# Frames of the sanitizer runtime, libFuzzer and glibc (abort, raise, fortify checks): never the culprit.
own = re.compile(r"__sanitizer|__asan|__lsan|__ubsan|__interceptor|fuzzer::|in (malloc|calloc|realloc|free|memcpy|"
                 r"memmove|memset|strlen|posix_memalign|operator new|operator delete)\b|libc\.so|"
                 r"__libc_|__fortify_fail|__chk_fail|__pthread_kill|\b(raise|abort) |"
                 r" (nptl|stdlib|libio|debug|signal|csu|string)/")


def replay(*limits):
    result = subprocess.run([exe, *limits, data], capture_output=True, text=True, errors="replace")
    return result.returncode, result.stdout + result.stderr


def culprit(log):
    """The first frame that is not the runtime's own ('' when the report has none)."""
    ubsan = re.search(r"^(\S+:\d+:\d+): runtime error:", log, re.M)
    if ubsan:
        return ubsan.group(1)
    frames = [line.strip() for line in log.splitlines() if re.match(r"\s+#\d+ 0x", line)]
    return next((f for f in frames if not own.search(f)), "")


for seconds in (5, 60):
    status, log = replay("-rss_limit_mb=2048", "-malloc_limit_mb=1024", f"-timeout={seconds}")
    # On a loaded machine llvm-symbolizer can take longer than the 5-second alarm, which then cuts
    # the report short before its first frame (seen on a malloc-limit report): once more with a minute.
    if status == 0 or culprit(log):
        break
if "libFuzzer: out-of-memory (used:" in log:
    # The resident-set limit: its report lists the largest live allocations, not the code that is
    # allocating now. Replayed with a 1-second alarm instead (and 8 GB allowed, which no input has
    # reached in a second), whose report is the stack of the loop at work.
    status, log = replay("-rss_limit_mb=8192", "-timeout=1")
if status == 0:
    # Fork mode runs many inputs in one process: some fail only on HDF5's state from earlier ones
    # (its type-conversion cache and free lists). Fifty runs of the same input reproduce most.
    status, log = replay("-rss_limit_mb=2048", "-malloc_limit_mb=1024", "-timeout=60", "-runs=50")
frame = culprit(log)
if status == 0 and not frame:
    # Saved in fork mode but harmless alone (e.g. a leak the suppressions now cover, or a failure
    # that needs other inputs before it): counted apart by fuzz.sh.
    print(f"unreproduced: {data} runs cleanly, 50 times")
    sys.exit(0)
owner = "hdf5" if "libhdf5" in frame else "hpa"
print(f"{owner}: {frame or 'no stack (' + data + ')'}")
sys.exit(0 if owner == "hdf5" else 1)
