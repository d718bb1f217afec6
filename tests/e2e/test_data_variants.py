"""The paper's dataset variants through hpa-train on the real Fashion-MNIST: --classes (counts
checked against numpy over the IDX labels; the model head and the test set follow), --label-noise
and --pixel-shuffle with their seeds in the stored configuration and compared by --resume, --flip's
resolved value stored, and every bad value one error line with no run directory left behind.

usage: test_data_variants.py BUILD_DIR/src WORK_DIR
"""
import gzip
import os
import shutil
import sys

import h5py
import numpy as np

from hpa_test_util import FASHION_MNIST, Checks, expect_one_line_error, run, tree_digest

bin_dir, work = map(os.path.abspath, sys.argv[1:3])
train = os.path.join(bin_dir, "hpa-train")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()


def idx_labels(name):
    path = os.path.join(FASHION_MNIST, name)
    with (open(path, "rb") if os.path.exists(path) else gzip.open(path + ".gz", "rb")) as f:
        return np.frombuffer(f.read()[8:], np.uint8)


train_labels, test_labels = idx_labels("train-labels-idx1-ubyte"), idx_labels("t10k-labels-idx1-ubyte")
common = ["--data-dir", FASHION_MNIST, "--threads", "1", "--batch-size", "64", "--epochs", "1", "--seeds", "0"]

# --classes: any K classes of Fashion-MNIST hold K x 6000 training and K x 1000 test images.
r = run([train, "--out", os.path.join(work, "dry"), "--dry-run", "--classes", "3", *common])
counts = np.bincount(train_labels), np.bincount(test_labels)
checks.check(len(set(counts[0])) == 1 and len(set(counts[1])) == 1, "Fashion-MNIST is not balanced")
checks.check(f"({3 * counts[0][0]} train, {3 * counts[1][0]} test images" in r.stdout, f"--classes 3: {r.stdout}")
checks.check("flip = off" in r.stdout and "classes = 3" in r.stdout and "class-seed = 42" in r.stdout,
             f"resolved configuration: {r.stdout}")

four = os.path.join(work, "four_classes")
r = run([train, "--out", four, "--classes", "4", "--train-subset", "3000", *common])
checks.check(r.returncode == 0, f"--classes 4 run failed: {r.stderr}")
with h5py.File(os.path.join(four, "run.h5"), "r") as f:
    checks.check(f.attrs["num_classes"] == 4, f"num_classes {f.attrs['num_classes']}")
    head = f["params/classifier.6.bias"].shape  # (seeds, epochs, classes)
    checks.check(head[2] == 4, f"the head's bias has shape {head}")
    accuracy = f["metrics/test_accuracy"][0, 1]
    checks.check(abs(accuracy * 4000 - round(accuracy * 4000)) < 1e-6, f"test accuracy {accuracy} is not k/4000")

noisy = os.path.join(work, "noisy")
r = run([train, "--out", noisy, "--label-noise", "0.5", "--pixel-shuffle", "true", "--noise-seed", "7",
         "--train-subset", "2000", *common])
checks.check(r.returncode == 0, f"--label-noise --pixel-shuffle run failed: {r.stderr}")
with h5py.File(os.path.join(noisy, "run.h5"), "r") as f:
    config = f.attrs["config"]
for line in ("label-noise = 0.5", "pixel-shuffle = true", "noise-seed = 7", "flip = off"):
    checks.check(line in config, f"stored configuration lacks '{line}'")

# Bad values and a resume of another experiment: one line each, nothing written or changed.
digest = tree_digest(noisy)
expect_one_line_error(checks, [train, "--out", noisy, "--label-noise", "0.5", "--pixel-shuffle", "true",
                               "--noise-seed", "8", "--train-subset", "2000", *common, "--resume"], "--noise-seed")
expect_one_line_error(checks, [train, "--out", noisy, "--label-noise", "0.5", "--noise-seed", "7",
                               "--train-subset", "2000", *common, "--resume"], "--pixel-shuffle")
checks.check(tree_digest(noisy) == digest, "a refused --resume changed the run directory")
bad = os.path.join(work, "bad")
for args, needle in ((["--classes", "11"], "--classes 11"), (["--classes", "1"], "--classes"),
                     (["--label-noise", "1.01"], "--label-noise"), (["--label-noise", "-0.5"], "--label-noise"),
                     (["--flip", "yes"], "--flip"), (["--noise-seed", "-1"], "--noise-seed")):
    expect_one_line_error(checks, [train, "--out", bad, *common, *args], needle)
checks.check(not os.path.exists(bad), "a refused run created its directory")
checks.finish()
