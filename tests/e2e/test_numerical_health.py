"""Diverged training and diverged weights: (a) hpa-train with a learning rate that makes the loss
non-finite stops with one line naming seed, epoch, step and the first non-finite layer, exit != 0,
and keeps the epochs before intact; (b) hpa-stats on a torchvision VGG11 state_dict with one NaN
weight reports that layer's n_l (and the filter's cosine) as NaN / null, never as biased, while
every other layer matches numpy.

usage: test_numerical_health.py BUILD_DIR/src WORK_DIR
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np
import torch
import torchvision

from hpa_test_util import FASHION_MNIST, Checks, run

bin_dir, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()

# (a) lr 1e4: the loss overflows within the first epoch.
run_dir = os.path.join(work, "diverged")
r = run([os.path.join(bin_dir, "hpa-train"), "--out", run_dir, "--data-dir", FASHION_MNIST, "--train-subset", "2000",
         "--epochs", "2", "--batch-size", "32", "--lr", "1e4", "--threads", "1", "--seeds", "3"])
lines = [line for line in r.stderr.splitlines() if line]
print(lines)
checks.check(r.returncode != 0, "a diverged run exited 0")
checks.check(len(lines) == 1, f"expected one error line, got {lines}")
line = lines[0] if lines else ""
checks.check("seed 3 epoch 1 step " in line and "diverged" in line, f"the error does not say where: {line}")
checks.check("layer" in line or "gradient" in line, f"the error names no layer: {line}")
checks.check(not os.path.exists(os.path.join(run_dir, "seed_3", "epoch_0001.h5")), "the diverged epoch was kept")
with h5py.File(os.path.join(run_dir, "seed_3", "epoch_0000.h5"), "r") as f:
    checks.check(all(np.isfinite(f["params"][k][()]).all() for k in f["params"]), "epoch 0 damaged")
with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
    checks.check(np.isfinite(f["stats/neg_fraction"][0, 0]).all(), "run.h5 lost epoch 0's n_l")

# (b) one NaN in filter 5 of features.3.
torch.manual_seed(0)
state = torchvision.models.vgg11().state_dict()
state["features.3.weight"][5, 0, 0, 0] = float("nan")
model_file = os.path.join(work, "vgg11_nan.pth")
torch.save(state, model_file)
stats_json = os.path.join(work, "stats.json")
r = run([os.path.join(bin_dir, "hpa-stats"), model_file, "--arch", "vgg11", "--json", stats_json])
checks.check(r.returncode == 0, r.stderr)
layers = {layer["name"]: layer for layer in json.load(open(stats_json))["layers"]}
bad = layers["features.3"]
checks.check(bad["neg_fraction"] is None, f"n_l of the NaN layer is {bad['neg_fraction']}, expected null")
checks.check(bad["cosines"][5] is None, "the NaN filter's cosine is not null")
checks.check(all(c is not None for i, c in enumerate(bad["cosines"]) if i != 5), "finite filters lost their cosine")
for name in ["features.0", "features.6"]:
    w = state[name + ".weight"].double().numpy().reshape(state[name + ".weight"].shape[0], -1)
    cos = w.sum(1) / (np.linalg.norm(w, axis=1) * np.sqrt(w.shape[1]))
    checks.check(abs(layers[name]["neg_fraction"] - (cos <= 0).mean()) < 1e-12, f"{name}: n_l differs from numpy")
table = [row for row in r.stdout.splitlines() if "features.3 " in row]
checks.check(bool(table) and "nan" in table[0], f"the printed table does not show nan: {table}")
checks.finish()
