"""Helpers shared by the end-to-end tests: running executables, checking one-line errors."""
import hashlib
import os
import subprocess

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


class Checks:
    def __init__(self):
        self.failures = []

    def check(self, condition, message):
        if not condition:
            self.failures.append(message)
            print("FAIL:", message, flush=True)

    def finish(self):
        if self.failures:
            print(f"{len(self.failures)} checks failed")
            raise SystemExit(1)
        print("all checks passed")


def run(args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)


def expect_one_line_error(checks, args, needle):
    result = run(args)
    lines = [line for line in result.stderr.strip().splitlines() if line]
    checks.check(result.returncode != 0, f"{args}: exit 0, expected an error")
    checks.check(len(lines) == 1, f"{args}: expected one error line, got {lines}")
    checks.check(bool(lines) and needle in lines[0], f"{args}: error {lines} does not mention {needle!r}")
    return result


def mpi_rank_pids(run_dir):
    """{rank: pid} of the hpa-train processes that mpirun started for `run_dir` (Linux /proc)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if not (cmdline and cmdline[0].endswith(b"hpa-train") and run_dir.encode() in cmdline):
            continue
        for entry in environ:
            if entry.startswith(b"OMPI_COMM_WORLD_RANK="):
                found[int(entry.split(b"=")[1])] = int(pid)
    return found


def tree_digest(path):
    """Hash of every file's name and bytes under path: detects any change to a run directory."""
    digest = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            digest.update(full.encode())
            with open(full, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()
