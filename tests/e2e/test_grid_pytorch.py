"""hpa-reinit-grid against an independent implementation: PyTorch evaluates the same cells. A real
LeNet run on Fashion-MNIST (unit normalization, pixel/255, so no statistics have to be shared), then
the grid; then this program, which shares no code with hpa, builds the paper's LeNet from torch.nn
(torchvision has no LeNet), loads the final epoch's parameters from the epoch file with h5py, resets
one layer's weight and bias to their values at epoch e, and counts the correct predictions on the
first N test images read from the IDX file with numpy. Every cell's count must equal hpa's within
one image (float summation order may flip a near tie), and so must the unchanged model's.

usage: test_grid_pytorch.py BUILD_DIR/src WORK_DIR
"""
import os
import shutil
import sys

import h5py
import numpy as np
import torch

from hpa_test_util import FASHION_MNIST, Checks, run
from torch_reference import lenet, read_idx

bin_dir, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()
run_dir = os.path.join(work, "run")
test_images, epochs = 1000, 3
r = run([os.path.join(bin_dir, "hpa-train"), "--out", run_dir, "--data-dir", FASHION_MNIST, "--train-subset", "3000",
         "--val-fraction", "0", "--test-subset", str(test_images), "--epochs", str(epochs), "--normalize", "unit",
         "--lr", "0.02", "--batch-size", "32", "--init", "torchvision", "--augment", "false", "--threads", "2",
         "--seeds", "0"])
assert r.returncode == 0, r.stderr
r = run([os.path.join(bin_dir, "hpa-reinit-grid"), run_dir, "--rerandomize", "0", "--threads", "2"])
assert r.returncode == 0, r.stderr


pixels = read_idx(FASHION_MNIST, "t10k-images-idx3-ubyte.gz")[:test_images]
images = torch.from_numpy(pixels.astype(np.float32) / 255).unsqueeze(1)
labels = torch.from_numpy(read_idx(FASHION_MNIST, "t10k-labels-idx1-ubyte.gz")[:test_images].astype(np.int64))


def params(epoch):
    with h5py.File(os.path.join(run_dir, "seed_0", f"epoch_{epoch:04d}.h5"), "r") as f:
        return {name: torch.from_numpy(f["params"][name][()]) for name in f["params"]}


def correct(state):
    model = lenet().eval()
    missing = model.load_state_dict(state, strict=True)
    with torch.no_grad():
        return int((model(images).argmax(1) == labels).sum())


torch.set_num_threads(2)
final = params(epochs)
with h5py.File(os.path.join(run_dir, "reinit.h5"), "r") as f:
    hpa_correct, grid_epochs = f["correct"][()], list(f["epochs"][()])
    layer_names = f.attrs["layer_names"]
    layer_names = (layer_names.decode() if isinstance(layer_names, bytes) else layer_names).split("\n")
    baseline = int(f["baseline_correct"][0])
ours = correct(final)
print(f"unchanged model: hpa {baseline}, PyTorch {ours} of {test_images}")
checks.check(abs(ours - baseline) <= 1, f"unchanged model: hpa {baseline} correct, PyTorch {ours}")
cells = 0
for li, name in enumerate(layer_names):
    for ei, epoch in enumerate(grid_epochs):
        state = dict(final)
        earlier = params(epoch)
        for suffix in ("weight", "bias"):
            state[f"{name}.{suffix}"] = earlier[f"{name}.{suffix}"]
        ours = correct(state)
        theirs = int(round(hpa_correct[0, li, ei]))
        print(f"{name} reset to epoch {epoch}: hpa {theirs}, PyTorch {ours}")
        checks.check(abs(ours - theirs) <= 1, f"{name} at epoch {epoch}: hpa {theirs} correct, PyTorch {ours}")
        cells += 1
checks.check(cells >= 6, f"only {cells} cells compared")
checks.check(len(set(int(round(c)) for c in hpa_correct[0, :, 0])) > 1,
             "every layer reset to epoch 0 gives the same count: the cells do not discriminate")
print(f"{cells} cells compared")
checks.finish()
