"""hpa-train's first steps against an independent SGD loop in PyTorch. hpa trains the paper's LeNet
on Fashion-MNIST with augmentation and dropout off (unit normalization, --val-fraction 0), two
epochs of 4 steps, and writes each step's global batch (--sample-log) and loss (--loss-log). This
program, with no hpa code, builds the LeNet from torch.nn, starts from hpa's epoch-0 parameters
(h5py), feeds the same batches read from the IDX files with numpy, and applies torch.optim.SGD
(momentum 0.9, weight decay 5e-4, the paper's) with cross-entropy.

Training amplifies rounding chaotically (ReLU and max-pool near-ties flip), so the comparison is
early and against baselines:
- the first epoch (4 steps): per-step losses and the parameters after it must differ from hpa's by
  at most FACTOR times what hpa's own 1-thread and 2-thread runs differ (floored at float32 epsilon);
- both epochs (8 steps): by no more than the same PyTorch loop started one float32 ulp away from
  hpa's init moves (how far rounding-level noise alone carries by then).

usage: test_train_pytorch.py BUILD_DIR/src WORK_DIR
"""
import os
import shutil
import sys

import h5py
import numpy as np
import torch

from hpa_test_util import FASHION_MNIST, Checks, run
from torch_reference import lenet, read_idx

FACTOR = 10
bin_dir, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()
lr, momentum, weight_decay, batch, steps_per_epoch, epochs = 0.01, 0.9, 5e-4, 32, 4, 2
train_images = batch * steps_per_epoch
common = ["--data-dir", FASHION_MNIST, "--train-subset", str(train_images), "--val-fraction", "0", "--test-subset",
          "100", "--epochs", str(epochs), "--normalize", "unit", "--augment", "false", "--dropout", "0", "--init",
          "torchvision", "--lr", str(lr), "--momentum", str(momentum), "--weight-decay", str(weight_decay),
          "--batch-size", str(batch), "--seeds", "3"]
for threads in (1, 2):
    r = run([os.path.join(bin_dir, "hpa-train"), "--out", f"{work}/run{threads}", *common, "--threads", str(threads),
             "--loss-log", f"{work}/loss{threads}.txt", "--sample-log", f"{work}/samples{threads}.txt"])
    assert r.returncode == 0, r.stderr


def epoch_params(run_dir, epoch):
    with h5py.File(os.path.join(run_dir, "seed_3", f"epoch_{epoch:04d}.h5"), "r") as f:
        return {name: torch.from_numpy(f["params"][name][()]) for name in f["params"]}


def losses(path):
    return np.array([float(line.split()[3]) for line in open(path)])


pixels = read_idx(FASHION_MNIST, "train-images-idx3-ubyte.gz")[:train_images]
images = torch.from_numpy(pixels.astype(np.float32) / 255).unsqueeze(1)
labels = torch.from_numpy(read_idx(FASHION_MNIST, "train-labels-idx1-ubyte.gz")[:train_images].astype(np.int64))
log = [line.split() for line in open(f"{work}/samples1.txt")]
batches = [[int(i) for i in fields[3:]] for fields in log]
checks.check([(int(f[1]), int(f[2])) for f in log] == [(e, s) for e in range(1, epochs + 1)
                                                       for s in range(steps_per_epoch)],
             "--sample-log lacks a step or an epoch")
checks.check(open(f"{work}/samples1.txt").read() == open(f"{work}/samples2.txt").read(),
             "the sample order depends on the thread count")
for e in range(epochs):
    epoch_batches = batches[e * steps_per_epoch:(e + 1) * steps_per_epoch]
    checks.check(sorted(i for b in epoch_batches for i in b) == list(range(train_images)),
                 f"the batches of epoch {e + 1} do not cover the training set once")
checks.check(batches[0] != batches[steps_per_epoch], "both epochs see the same order")

torch.set_num_threads(1)


def pytorch_sgd(start):
    """torch.optim.SGD over the logged batches from `start`: losses, parameters after each epoch."""
    model = lenet(dropout=0)
    model.load_state_dict(start, strict=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    trace, after_epoch = [], []
    for step, b in enumerate(batches):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images[b]), labels[b])
        loss.backward()
        optimizer.step()
        trace.append(loss.item())
        if (step + 1) % steps_per_epoch == 0:
            after_epoch.append({k: v.detach().clone() for k, v in model.named_parameters()})
    return np.array(trace), after_epoch


def loss_difference(a, b):
    return float((np.abs(a - b) / np.abs(b)).max())


def param_difference(a, b):
    return max(float((a[k] - b[k]).norm() / b[k].norm()) for k in b)


init = epoch_params(f"{work}/run1", 0)
ours, ours_params = pytorch_sgd(init)
nudged, nudged_params = pytorch_sgd({k: torch.nextafter(v, torch.full_like(v, np.inf)) for k, v in init.items()})
hpa1, hpa2 = losses(f"{work}/loss1.txt"), losses(f"{work}/loss2.txt")
hpa1_params = [epoch_params(f"{work}/run1", e) for e in range(1, epochs + 1)]
hpa2_params = [epoch_params(f"{work}/run2", e) for e in range(1, epochs + 1)]
for step, (a, b, c, d) in enumerate(zip(hpa1, hpa2, ours, nudged)):
    print(f"step {step + 1}: loss hpa {a:.8f}, hpa 2 threads {b:.8f}, PyTorch {c:.8f}, PyTorch from init+1ulp {d:.8f}")

eps = float(np.finfo(np.float32).eps)
k = steps_per_epoch
early = {"loss": (loss_difference(ours[:k], hpa1[:k]), loss_difference(hpa2[:k], hpa1[:k])),
         "parameters": (param_difference(ours_params[0], hpa1_params[0]),
                        param_difference(hpa2_params[0], hpa1_params[0]))}
for what, (pytorch, rounding) in early.items():
    print(f"first {k} steps, {what}: PyTorch vs hpa {pytorch:.2e}, hpa 1 vs 2 threads {rounding:.2e}")
    checks.check(pytorch <= FACTOR * max(rounding, eps),
                 f"first {k} steps, {what}: PyTorch differs by {pytorch:.2e}, more than {FACTOR}x hpa's rounding "
                 f"{rounding:.2e}")
late = {"loss": (loss_difference(ours, hpa1), loss_difference(nudged, ours)),
        "parameters": (param_difference(ours_params[-1], hpa1_params[-1]),
                       param_difference(nudged_params[-1], ours_params[-1]))}
for what, (pytorch, sensitivity) in late.items():
    print(f"all {len(batches)} steps, {what}: PyTorch vs hpa {pytorch:.2e}, one ulp of init {sensitivity:.2e}")
    checks.check(pytorch <= sensitivity,
                 f"{len(batches)} steps, {what}: PyTorch differs by {pytorch:.2e}, more than a one-ulp change of "
                 f"the init causes ({sensitivity:.2e})")
checks.check(hpa1[-1] < hpa1[0], f"no learning ({hpa1[0]:.4f} -> {hpa1[-1]:.4f})")
checks.finish()
