"""--snapshot-params conv and --snapshot-epochs: which parameters each epoch file keeps, run.h5's
view of them (NaN where not kept), metrics and statistics at every epoch, the grid refusing epochs
that were not kept, and bad lists refused with one line and the run directory unchanged. Two ranks
share every tensor's write by rows.

usage: test_snapshot_control.py BUILD_DIR/src WORK_DIR MPIEXEC
"""
import os
import shutil
import sys

import h5py
import numpy as np

from hpa_test_util import FASHION_MNIST, Checks, expect_one_line_error, run, tree_digest

bin_dir, work, mpiexec = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
train, grid = os.path.join(bin_dir, "hpa-train"), os.path.join(bin_dir, "hpa-reinit-grid")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
EPOCHS = 4
common = ["--data-dir", FASHION_MNIST, "--train-subset", "1200", "--test-subset", "300", "--batch-size", "32",
          "--lr", "0.01", "--init", "torchvision", "--threads", "1", "--seeds", "5", "--epochs", str(EPOCHS)]

full = os.path.join(work, "all")
r = run([mpiexec, "-np", "2", "--oversubscribe", train, "--out", full, *common], env=env)
checks.check(r.returncode == 0, f"2-rank run (all) failed: {r.stderr}")
conv = os.path.join(work, "conv")
r = run([mpiexec, "-np", "2", "--oversubscribe", train, "--out", conv, *common, "--snapshot-params", "conv",
         "--snapshot-epochs", "2-3"], env=env)
checks.check(r.returncode == 0, f"2-rank run (conv, 2-3) failed: {r.stderr}")

with h5py.File(os.path.join(full, "run.h5"), "r") as a, h5py.File(os.path.join(conv, "run.h5"), "r") as b:
    checks.check(b.attrs["snapshot_params"] == "conv", "snapshot_params not stored")
    checks.check(list(b.attrs["snapshot_epochs"]) == [0, 2, 3, 4], f"snapshot_epochs {b.attrs['snapshot_epochs']}")
    checks.check(list(a.attrs["snapshot_epochs"]) == list(range(EPOCHS + 1)), "all: snapshot_epochs")
    for name in a["params"]:
        x, y = a["params"][name][0], b["params"][name][0]
        conv_param = name.startswith("features.")
        for epoch in range(EPOCHS + 1):
            kept = epoch in (0, EPOCHS) or (epoch in (2, 3) and conv_param)
            if kept:
                checks.check(np.array_equal(x[epoch], y[epoch]), f"{name} epoch {epoch}: differs from the full run")
            else:
                checks.check(np.isnan(y[epoch]).all(), f"{name} epoch {epoch}: kept although it should not be")
    for name in ("train_loss", "val_accuracy"):
        checks.check(np.array_equal(a["metrics"][name][()], b["metrics"][name][()], equal_nan=True), f"metric {name}")
    checks.check(np.array_equal(a["stats/neg_fraction"][()], b["stats/neg_fraction"][()]), "n_l differs")
    checks.check(not np.isnan(b["stats/neg_fraction"][0]).any(), "n_l missing at some epoch")
# Rows written by each of the 2 ranks: epoch 0 (the init) equals a 1-rank run's bit for bit.
single = os.path.join(work, "single")
r = run([train, "--out", single, *common[:-2], "--epochs", "1"])
checks.check(r.returncode == 0, f"1-rank run failed: {r.stderr}")
with h5py.File(os.path.join(full, "run.h5"), "r") as a, h5py.File(os.path.join(single, "run.h5"), "r") as b:
    for name in a["params"]:
        checks.check(np.array_equal(a["params"][name][0, 0], b["params"][name][0, 0]),
                     f"{name}: the 2-rank write of epoch 0 differs from the 1-rank one")


# The files themselves: epoch 1 holds no parameters, epoch 2 conv only, epoch 4 everything.
def names(run_dir, epoch):
    with h5py.File(os.path.join(run_dir, "seed_5", f"epoch_{epoch:04d}.h5"), "r") as f:
        return sorted(f["params"]) if "params" in f else []
checks.check(names(conv, 1) == [], f"epoch 1 keeps {names(conv, 1)}")
checks.check(all(n.startswith("features.") for n in names(conv, 2)) and len(names(conv, 2)) == 12,
             f"epoch 2 keeps {names(conv, 2)}")
checks.check(names(conv, 4) == names(full, 4) and len(names(full, 4)) == 18, "the last epoch lacks parameters")
sizes = {d: sum(os.path.getsize(os.path.join(d, "seed_5", f"epoch_{e:04d}.h5")) for e in range(1, EPOCHS))
         for d in (full, conv)}
print(f"epoch files 1-{EPOCHS - 1}: all {sizes[full]} bytes, conv + 2-3 {sizes[conv]} bytes")

# The grid: kept epochs only.
expect_one_line_error(checks, [grid, conv, "--epochs", "0,1"], "kept no parameters of epoch 1")
r = run([grid, conv, "--epochs", "0,2", "--threads", "1"])
checks.check(r.returncode == 0, f"grid on kept epochs failed: {r.stderr}")
r = run([grid, full, "--epochs", "0,2", "--threads", "1"])
with h5py.File(os.path.join(full, "reinit.h5"), "r") as a, h5py.File(os.path.join(conv, "reinit.h5"), "r") as b:
    checks.check(np.array_equal(a["correct"][()], b["correct"][()]), "the grid differs between all and conv")

# A run in format version 2 (what hpa wrote before snapshot control: no snapshot attributes, no
# data_files, no checkpoint step) is still read: hpa-stats, the grid and --resume accept it.
old = os.path.join(work, "version2")
shutil.copytree(full, old)
for name in ["reinit.h5"]:
    os.remove(os.path.join(old, name))
with h5py.File(os.path.join(old, "run.h5"), "r+") as f:
    f.attrs["schema_version"] = 2
    for key in ("snapshot_params", "snapshot_epochs", "data_files"):
        del f.attrs[key]
for name in os.listdir(os.path.join(old, "seed_5")):
    with h5py.File(os.path.join(old, "seed_5", name), "r+") as f:
        f.attrs["schema_version"] = 2
        for key in ("step", "train_loss_sum", "train_correct", "train_correct_top5"):
            if key in f.attrs:
                del f.attrs[key]
# Same weights in both formats: the per-layer rows (n_l at the init and the end) must be identical.
def layer_rows(text):
    return [line for line in text.splitlines() if line.split()[:1] and line.split()[0].isdigit()]


r = run([os.path.join(bin_dir, "hpa-stats"), old])
r_full = run([os.path.join(bin_dir, "hpa-stats"), full])
checks.check(r.returncode == 0 and r_full.returncode == 0, f"hpa-stats on a version 2 run: {r.stderr}")
checks.check(len(layer_rows(r.stdout)) == 6 and layer_rows(r.stdout) == layer_rows(r_full.stdout),
             f"hpa-stats reads a version 2 run differently: {layer_rows(r.stdout)} vs {layer_rows(r_full.stdout)}")
r = run([grid, old, "--epochs", "0,1", "--threads", "1"])
checks.check(r.returncode == 0, f"the grid on a version 2 run: {r.stderr}")
r = run([mpiexec, "-np", "2", "--oversubscribe", train, "--out", old, "--resume", *common], env=env)
checks.check(r.returncode == 0 and f"resuming after epoch {EPOCHS}" in r.stdout, f"--resume of a version 2 run: {r.stderr}")

# Bad lists: one line each, nothing changed.
before = tree_digest(conv)
for bad in ["", "3,2", "0-9", "2-1", "1,1", "x"]:
    expect_one_line_error(checks, [train, "--out", conv, "--resume", *common, "--snapshot-params", "conv",
                                   "--snapshot-epochs", bad], "--snapshot-epochs")
expect_one_line_error(checks, [train, "--out", conv, "--resume", *common, "--snapshot-params", "linear",
                               "--snapshot-epochs", "2-3"], "--snapshot-params")
expect_one_line_error(checks, [train, "--out", conv, "--resume", *common], "--snapshot-params conv (now all)")
checks.check(tree_digest(conv) == before, "a refused command changed the run directory")
checks.finish()
