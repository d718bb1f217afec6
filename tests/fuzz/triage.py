"""Replays one input a fuzz target saved and says whose finding it is: "hdf5" when the first frame
of the report's first stack that is not the sanitizer's or libFuzzer's own lies in libhdf5 (HDF5
1.10.8's own bugs on damaged files, which hpa cannot fix), else "hpa" (a finding to fix). Prints
`OWNER: first-frame` and exits 0 for hdf5, 1 for hpa.

usage: triage.py FUZZ_EXECUTABLE INPUT
"""
import re
import subprocess
import sys

exe, data = sys.argv[1], sys.argv[2]
result = subprocess.run([exe, "-rss_limit_mb=2048", "-malloc_limit_mb=1024", "-timeout=5", data],
                        capture_output=True, text=True, errors="replace")
log = result.stdout + result.stderr
if "libFuzzer: out-of-memory (used:" in log:
    # The resident-set limit: its report lists the largest live allocations, not the code that is
    # allocating now. Replayed with a 1-second alarm instead (and 8 GB allowed, which no input has
    # reached in a second), whose report is the stack of the loop at work.
    result = subprocess.run([exe, "-rss_limit_mb=8192", "-timeout=1", data],
                            capture_output=True, text=True, errors="replace")
    log = result.stdout + result.stderr
# Frames of the sanitizer runtime, libFuzzer and glibc (abort, raise, fortify checks): never the culprit.
own = re.compile(r"__sanitizer|__asan|__lsan|__ubsan|__interceptor|fuzzer::|in (malloc|calloc|realloc|free|memcpy|"
                 r"memmove|memset|strlen|posix_memalign|operator new|operator delete)\b|libc\.so|"
                 r"__libc_|__fortify_fail|__chk_fail|__pthread_kill|\b(raise|abort) |"
                 r" (nptl|stdlib|libio|debug|signal|csu|string)/")
ubsan = re.search(r"^(\S+:\d+:\d+): runtime error:", log, re.M)
if ubsan:
    frame = ubsan.group(1)
else:
    frames = [line.strip() for line in log.splitlines() if re.match(r"\s+#\d+ 0x", line)]
    frame = next((f for f in frames if not own.search(f)), "")
if result.returncode == 0 and not frame:
    # Saved in fork mode but harmless alone (e.g. a leak the suppressions now cover).
    print(f"unreproduced: {data} runs cleanly")
    sys.exit(0)
owner = "hdf5" if "libhdf5" in frame else "hpa"
print(f"{owner}: {frame or 'no stack (' + data + ')'}")
sys.exit(0 if owner == "hdf5" else 1)
