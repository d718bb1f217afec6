"""A run written before run.h5 held the typed experiment (tests/golden/run_v3: hpa-train of
2026-12-05, stopped by SIGUSR2 at step 4 of epoch 2, see its README) continues under today's
hpa-train: --resume refuses a changed option without touching the run, and with the same options
finishes it with the parameters of an uninterrupted run of today's hpa-train, bit for bit.
hpa-reinit-grid reads the old run's experiment from its configuration text and gives the grid of
the new run, whose experiment it reads from the typed attributes.

usage: test_resume_old_run.py BUILD_DIR/src WORK_DIR
"""
import os
import shutil
import sys

import h5py
import numpy as np

from hpa_test_util import Checks, expect_one_line_error, run, tree_digest

bin_dir, work = map(os.path.abspath, sys.argv[1:3])
train, grid = os.path.join(bin_dir, "hpa-train"), os.path.join(bin_dir, "hpa-reinit-grid")
golden = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "run_v3")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()
# The options the stored run was started with (its run.h5 config attribute says the same).
options = ["--arch", "lenet", "--width", "0.25", "--train-subset", "512", "--test-subset", "256", "--epochs", "2",
           "--batch-size", "64", "--seeds", "0", "--threads", "1", "--snapshot-params", "conv"]
TIMING = {"metrics/epoch_seconds", "metrics/images_per_second", "metrics/data_wait_fraction"}

old = os.path.join(work, "old")
shutil.copytree(golden, old)
with h5py.File(os.path.join(old, "run.h5"), "r") as f:
    checks.check("experiment" not in f and "data_dir" not in f.attrs, "the stored run is not of the older format")
    checks.check("lr = 0.01" in f.attrs["config"], "the stored run's configuration lacks lr = 0.01")
checks.check(not os.path.exists(os.path.join(old, "seed_0", "epoch_0002.h5")), "the stored run is not interrupted")

before = tree_digest(old)
expect_one_line_error(checks, [train, "--out", old, "--resume", *options, "--lr", "0.02"], "--lr 0.01 (now 0.02)")
checks.check(tree_digest(old) == before, "a refused --resume changed the stored run")

r = run([train, "--out", old, "--resume", *options])
checks.check(r.returncode == 0, f"--resume of the older run failed: {r.stderr}")
checks.check("resuming after epoch 1 at step 4/8 of epoch 2" in r.stdout, f"did not resume mid-epoch: {r.stdout}")

new = os.path.join(work, "new")
r = run([train, "--out", new, *options])
checks.check(r.returncode == 0, f"the uninterrupted run failed: {r.stderr}")
with h5py.File(os.path.join(new, "run.h5"), "r") as f:
    spec = f["experiment"].attrs
    checks.check(spec["arch"] == "lenet" and spec["init"] == "torchvision" and spec["width"] == 0.25
                 and list(spec["seeds"]) == [0] and spec["flip"] == "off" and spec["snapshot-params"] == "conv",
                 f"typed experiment attributes: {dict(spec)}")


def datasets(path):
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: found.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return found


for epoch in (1, 2):
    name = f"seed_0/epoch_{epoch:04d}.h5"
    a, b = datasets(os.path.join(old, name)), datasets(os.path.join(new, name))
    checks.check(a.keys() == b.keys(), f"{name}: datasets differ: {sorted(a.keys() ^ b.keys())}")
    differing = [k for k in a.keys() & b.keys()
                 if k not in TIMING and not np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f")]
    checks.check(not differing, f"{name}: the resumed older run differs from an uninterrupted one in {differing}")

grids = {}
for label, run_dir in (("old", old), ("new", new)):
    r = run([grid, run_dir, "--threads", "1", "--rerandomize", "1"])
    checks.check(r.returncode == 0, f"hpa-reinit-grid on the {label} run failed: {r.stderr}")
    with h5py.File(os.path.join(run_dir, "reinit.h5"), "r") as f:
        grids[label] = f["correct"][()], f["baseline_correct"][()]
checks.check(all(np.array_equal(x, y) for x, y in zip(grids["old"], grids["new"])),
             "the grid of the older run (experiment from text) differs from the new run's (typed)")
checks.finish()
