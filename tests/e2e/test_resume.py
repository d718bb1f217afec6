"""kill -9 in the middle of training (checkpoints every 0.06 s), then --resume: every epoch file renamed into place before the
kill is intact, and the resumed run ends with the same weights, bit for bit, as an uninterrupted
run (one rank, CPU, same threads).

usage: test_resume.py BUILD_DIR/src WORK_DIR
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

from hpa_test_util import FASHION_MNIST, Checks, expect_one_line_error, run

bin_dir, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
train = os.path.join(bin_dir, "hpa-train")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()
EPOCHS = 4
args = ["--data-dir", FASHION_MNIST, "--train-subset", "6000", "--epochs", EPOCHS, "--batch-size", "32",
        "--lr", "0.02", "--init", "torchvision", "--threads", "1", "--seeds", "7", "--checkpoint-minutes", "0.001"]

reference, interrupted = os.path.join(work, "reference"), os.path.join(work, "interrupted")
r = run([train, "--out", reference, *args])
checks.check(r.returncode == 0, f"reference run failed: {r.stderr}")

process = subprocess.Popen([train, "--out", interrupted, *map(str, args)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
marker = os.path.join(interrupted, "seed_7", "epoch_0002.h5")
deadline = time.time() + 300
while not os.path.exists(marker) and process.poll() is None and time.time() < deadline:
    time.sleep(0.01)
time.sleep(0.4)  # into epoch 3
process.send_signal(signal.SIGKILL)
process.wait()
present = sorted(n for n in os.listdir(os.path.join(interrupted, "seed_7")) if n.startswith("epoch_") and n.endswith(".h5"))
print("after kill -9:", present)
checks.check(process.returncode == -signal.SIGKILL, f"the run ended before the kill (exit {process.returncode})")
checks.check(f"epoch_{EPOCHS:04d}.h5" not in present, "the kill came too late to interrupt training")
for name in present:
    with h5py.File(os.path.join(interrupted, "seed_7", name), "r") as f:
        checks.check(len(f["params"]) == 18 and "stats/neg_fraction" in f, f"{name} incomplete after kill -9")

# What a kill in the middle of a write leaves (the writer's temporary name, <file>.tmp), planted for
# a file the resumed run never writes again (epoch 1, complete before the kill): only the sweep of
# stale temporaries on --resume can remove it.
stale = os.path.join(interrupted, "seed_7", "epoch_0001.h5.tmp")
with open(stale, "wb") as f:
    f.write(b"half an HDF5 file")
expect_one_line_error(checks, [train, "--out", interrupted, *args], "--resume")
changed = list(args)
changed[changed.index("--epochs") + 1] = EPOCHS + 1
expect_one_line_error(checks, [train, "--out", interrupted, "--resume", *changed], "--epochs")
r = run([train, "--out", interrupted, "--resume", *args])
checks.check(r.returncode == 0, f"resume failed: {r.stderr}")
checks.check("resuming after epoch" in r.stdout, "resume did not report where it continued")
print(r.stdout)

for epoch in range(EPOCHS + 1):
    name = f"seed_7/epoch_{epoch:04d}.h5"
    with h5py.File(os.path.join(reference, name), "r") as a, h5py.File(os.path.join(interrupted, name), "r") as b:
        for param in a["params"]:
            checks.check(np.array_equal(a["params"][param][()], b["params"][param][()]),
                         f"{name}: {param} differs from the uninterrupted run")
with h5py.File(os.path.join(interrupted, "run.h5"), "r") as f:
    checks.check(not np.isnan(f["params/features.0.weight"][()]).any(), "run.h5 has unwritten epochs after resume")
leftovers = [n for n in os.listdir(os.path.join(interrupted, "seed_7")) if n.endswith(".tmp")]
checks.check(not leftovers, f"temporary files left after resume: {leftovers}")
checks.finish()
