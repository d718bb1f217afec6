"""A tiny deterministic job (400 Fashion-MNIST samples, one seed, one rank, one thread): its loss
for the first 20 steps must match the checked-in trace. A change that moves it fails here; if the
change is intended, regenerate with --update and say why in the commit.

The CPU kernels are pinned to AVX2 (oneDNN, OpenBLAS and ATen's own dispatch), so the trace is the
same on every x86-64 machine with AVX2: on an Intel Xeon with AVX-512 the default kernels round
differently (1e-7 relative at step 0, growing to 1e-4 by step 19 as training amplifies it), while
with the pins it reproduces, bit for bit, the trace recorded without AVX-512 (which the AMD EPYC
development machines also reproduce). The pins leave hpa's own arithmetic, which the trace
guards, unchanged.

usage: test_golden_trace.py BUILD_DIR/src WORK_DIR GOLDEN_FILE [--update]
"""
import os
import shutil
import sys

from hpa_test_util import FASHION_MNIST, Checks, run

bin_dir, work, golden = map(os.path.abspath, sys.argv[1:4])
update = "--update" in sys.argv
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()
log = os.path.join(work, "loss.txt")
r = run([os.path.join(bin_dir, "hpa-train"), "--out", os.path.join(work, "run"), "--data-dir", FASHION_MNIST,
         "--train-subset", "400", "--epochs", "1", "--batch-size", "16", "--lr", "0.02", "--init", "torchvision",
         "--threads", "1", "--seeds", "11", "--loss-log", log],
        env={**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "DNNL_MAX_CPU_ISA": "AVX2", "OPENBLAS_CORETYPE": "Haswell",
             "ATEN_CPU_CAPABILITY": "avx2"})
checks.check(r.returncode == 0, r.stderr)
steps = [line.split() for line in open(log)][:20]
checks.check(len(steps) == 20, f"{len(steps)} steps logged")
if update:
    with open(golden, "w") as f:
        f.write("# seed epoch step loss: hpa-train tiny job, see tests/e2e/test_golden_trace.py\n")
        for s in steps:
            f.write(" ".join(s) + "\n")
    print("updated", golden)
expected = [line.split() for line in open(golden) if not line.startswith("#")]
checks.check(len(expected) == 20, "golden file does not hold 20 steps")
for got, want in zip(steps, expected):
    checks.check(got[:3] == want[:3], f"step keys {got[:3]} != {want[:3]}")
    g, w = float(got[3]), float(want[3])
    checks.check(abs(g - w) <= 1e-5 * abs(w), f"step {got[2]}: loss {g} != golden {w}")
checks.finish()
