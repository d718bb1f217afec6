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
