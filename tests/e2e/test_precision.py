"""--precision bf16 and --memory-format channels-last on the CPU, against PyTorch and against fp32.

hpa-train trains VGG11 at width 1/4 on real Fashion-MNIST images in CIFAR-10's format (zero-padded to
32x32, grey over 3 channels, written here by src/bench/make_cifar_from_fashion_mnist.py), pixel/255,
no augmentation or dropout, 1 thread, in fp32, bf16, fp32 + channels-last and bf16 + channels-last.
This program, sharing no code with hpa, builds the same VGG11 from torch.nn, starts from hpa's
epoch-0 parameters, feeds the batches of hpa's --sample-log and runs torch.optim.SGD in fp32 and
under torch.autocast("cpu", torch.bfloat16) (the loss in float32 from float32 logits, as hpa).

Distances are per parameter tensor, relative to how far fp32 training moved it from the init:
max|A - B| / max|W_fp32 - W_0|, the largest over the tensors, after STEPS steps.
- bf16 against fp32 (hpa): at most BF16_BOUND (the stated distance) and at most 2x PyTorch's own
  bf16-against-fp32 distance (bf16 rounding does what it does in PyTorch, no more);
- hpa bf16 against PyTorch bf16: at most 1/4 of the bf16-against-fp32 distance (the same autocast
  ops, not another kind of rounding);
- channels-last against contiguous: at most 1e-3 (another summation order, not another precision).
Then the bf16 run's files: float32 parameters that are not bfloat16 values (the master weights), the
checkpoint's parameters equal to the last epoch file's bit for bit, the stored cosines and n_l equal
to numpy's from the stored weights, run.h5's experiment group naming the precision and memory format;
a stop (SIGUSR2 at epoch 2, step 3) and --resume of bf16 + channels-last equal to the run without
a stop bit for bit; --resume with another --precision or --memory-format refused without touching
the run; hpa-reinit-grid --precision bf16 against fp32 (counts differ by at most 2 % of the test
images; the difference is printed), and its reinit.h5 refused by a resume in fp32.

usage: test_precision.py BUILD_DIR/src WORK_DIR
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import torch

from hpa_test_util import FASHION_MNIST, Checks, expect_one_line_error, run, tree_digest
from torch_reference import convnet

BF16_BOUND, LOSS_BOUND = 0.75, 1e-2
STEPS_PER_EPOCH, EPOCHS, BATCH, LR = 8, 4, 32, 0.05
bin_dir, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()
here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(work, "cifar")
subprocess.run([sys.executable, os.path.join(here, "..", "..", "src", "bench", "make_cifar_from_fashion_mnist.py"),
                FASHION_MNIST, data], check=True)
train_images = BATCH * STEPS_PER_EPOCH
common = ["--dataset", "cifar10", "--data-dir", data, "--arch", "vgg11", "--width", "0.25", "--train-subset",
          str(train_images), "--val-fraction", "0", "--test-subset", "500", "--epochs", str(EPOCHS), "--normalize",
          "unit", "--augment", "false", "--dropout", "0", "--lr", str(LR), "--batch-size", str(BATCH), "--seeds", "3",
          "--threads", "1"]
configs = {"fp32": ("fp32", "contiguous"), "bf16": ("bf16", "contiguous"), "fp32-cl": ("fp32", "channels-last"),
           "bf16-cl": ("bf16", "channels-last")}


def train(name, *extra, env=None):
    precision, memory_format = configs[name]
    return run([os.path.join(bin_dir, "hpa-train"), *common, "--precision", precision, "--memory-format",
                memory_format, "--out", f"{work}/{name}", "--loss-log", f"{work}/{name}.loss", "--sample-log",
                f"{work}/{name}.samples", *extra], env=env)


for name in configs:
    r = train(name)
    assert r.returncode == 0, r.stderr
for name in configs:
    checks.check(open(f"{work}/{name}.samples").read() == open(f"{work}/fp32.samples").read(),
                 f"{name}: another sample order than fp32")


def epoch_params(run_dir, epoch):
    with h5py.File(os.path.join(run_dir, "seed_3", f"epoch_{epoch:04d}.h5"), "r") as f:
        return {name: f["params"][name][()] for name in f["params"]}


# --- PyTorch: the same VGG11, batches and optimizer
def vgg11_quarter():
    """torchvision's VGG11 (configuration A) at width 1/4: 10 classes, dropout off."""
    return convnet([16, "M", 32, "M", 64, 64, "M", 128, 128, "M", 128, 128, "M"], 3, 7, [1024, 1024], 0, 10)


records = np.fromfile(os.path.join(data, "data_batch_1.bin"), np.uint8).reshape(-1, 3073)[:train_images]
images = torch.from_numpy(records[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255)
labels = torch.from_numpy(records[:, 0].astype(np.int64))
batches = [[int(i) for i in line.split()[3:]] for line in open(f"{work}/fp32.samples")]
init = epoch_params(f"{work}/fp32", 0)
torch.set_num_threads(1)


def pytorch(bf16, channels_last=False):
    """Parameters after the first epoch and after the last."""
    model = vgg11_quarter()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()}, strict=True)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=layout)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, weight_decay=5e-4)
    kept = []
    for step, b in enumerate(batches):
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(images[b].contiguous(memory_format=layout))
        torch.nn.functional.cross_entropy(logits.float(), labels[b]).backward()
        optimizer.step()
        if step + 1 in (STEPS_PER_EPOCH, len(batches)):
            kept.append({k: v.detach().numpy().copy() for k, v in model.state_dict().items()})
    return kept


def distance(a, b, reference):
    """Largest over the weights of max|a - b| / max|reference - init|."""
    return max(float(np.abs(a[k] - b[k]).max() / np.abs(reference[k] - init[k]).max()) for k in reference
               if k.endswith("weight"))


# Rounding differences grow chaotically once ReLUs and max-pools flip (here in the last epoch): the
# precision is compared after all steps, the layouts (summation order only) after the first epoch.
hpa = {name: (epoch_params(f"{work}/{name}", 1), epoch_params(f"{work}/{name}", EPOCHS)) for name in configs}
torch_fp32, torch_bf16, torch_fp32_cl = pytorch(False), pytorch(True), pytorch(False, channels_last=True)
last, first = 1, 0
ref = hpa["fp32"][last]
d = {"hpa fp32 vs torch fp32": distance(ref, torch_fp32[last], ref),
     "hpa bf16 vs hpa fp32": distance(hpa["bf16"][last], ref, ref),
     "torch bf16 vs torch fp32": distance(torch_bf16[last], torch_fp32[last], ref),
     "hpa bf16 vs torch bf16": distance(hpa["bf16"][last], torch_bf16[last], ref),
     "hpa bf16-cl vs bf16": distance(hpa["bf16-cl"][last], hpa["bf16"][last], ref)}
ref1 = hpa["fp32"][first]
d1 = {"hpa fp32-cl vs fp32": distance(hpa["fp32-cl"][first], ref1, ref1),
      "hpa fp32-cl vs torch fp32-cl": distance(hpa["fp32-cl"][first], torch_fp32_cl[first], ref1),
      "torch fp32-cl vs torch fp32": distance(torch_fp32_cl[first], torch_fp32[first], ref1)}
for key, value in d.items():
    print(f"distance after {len(batches)} steps, {key}: {value:.3g}")
for key, value in d1.items():
    print(f"distance after {STEPS_PER_EPOCH} steps, {key}: {value:.3g}")
losses = {name: np.array([float(line.split()[3]) for line in open(f"{work}/{name}.loss")]) for name in configs}
loss_diff = float(np.max(np.abs(losses["bf16"] - losses["fp32"]) / losses["fp32"]))
print(f"per-step relative loss difference bf16 vs fp32: largest {loss_diff:.3g}; "
      f"loss {losses['fp32'][0]:.4f} -> {losses['fp32'][-1]:.4f}")
checks.check(len(batches) == STEPS_PER_EPOCH * EPOCHS, "the sample log lacks steps")
checks.check(losses["fp32"][-8:].mean() < losses["fp32"][0] - 0.01, "fp32 training did not lower the loss")
checks.check(d["hpa fp32 vs torch fp32"] < 1e-3, "hpa fp32 is not PyTorch's fp32 training")
checks.check(d["hpa bf16 vs hpa fp32"] > 1e-3, "bf16 changed nothing: was autocast on?")
checks.check(d["hpa bf16 vs hpa fp32"] <= BF16_BOUND, f"bf16 is farther than {BF16_BOUND} from fp32")
checks.check(d["hpa bf16 vs hpa fp32"] <= 2 * d["torch bf16 vs torch fp32"],
             "hpa's bf16 is more than twice as far from fp32 as PyTorch's")
checks.check(d["hpa bf16 vs torch bf16"] <= d["hpa bf16 vs hpa fp32"] / 4,
             "hpa's bf16 training is not PyTorch's bf16 autocast")
checks.check(d["hpa bf16-cl vs bf16"] <= d["hpa bf16 vs hpa fp32"] / 4,
             "channels-last changed bf16 training beyond summation order")
checks.check(d1["hpa fp32-cl vs fp32"] <= 1e-3, "channels-last changed fp32 training beyond summation order")
checks.check(d1["hpa fp32-cl vs torch fp32-cl"] <= 1e-3, "hpa's channels-last is not PyTorch's")
checks.check(loss_diff < LOSS_BOUND, f"bf16 losses differ from fp32 by more than {LOSS_BOUND}")

# --- the bf16 run's files: float32 master weights, checkpoint = last epoch file, statistic from them
bf16_run = f"{work}/bf16-cl"
final = epoch_params(bf16_run, EPOCHS)
for name, value in final.items():
    checks.check(value.dtype == np.float32, f"epoch file {name}: {value.dtype}, not float32")
low_bits = np.mean([(final[k].view(np.uint32) & 0xFFFF) != 0 for k in final if k.endswith("weight")][0])
checks.check(low_bits > 0.9, "the bf16 run stored bfloat16-rounded weights, not its float32 master weights")
with h5py.File(f"{bf16_run}/seed_3/checkpoint.h5", "r") as f:
    for name in final:
        checks.check(np.array_equal(f["params"][name][()], final[name]),
                     f"checkpoint {name} differs from the last epoch file")
with h5py.File(f"{bf16_run}/run.h5", "r") as f:
    experiment = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f["experiment"].attrs.items()}
    checks.check(experiment.get("precision") == "bf16" and experiment.get("memory-format") == "channels-last",
                 f"run.h5 experiment group: {experiment.get('precision')}, {experiment.get('memory-format')}")
    layers = [(n.decode() if isinstance(n, bytes) else n) for n in f["model/layers"]["name"]]
    for e in (0, EPOCHS):
        params = epoch_params(bf16_run, e)
        for layer in layers:
            w = params[layer + ".weight"].astype(np.float64)
            flat = w.reshape(w.shape[0], -1)
            cosines = flat.sum(1) / (np.linalg.norm(flat, axis=1) * np.sqrt(flat.shape[1]))
            stored = f["stats/cosines"][layer][0, e]
            checks.check(np.allclose(stored, cosines, rtol=0, atol=1e-6),
                         f"epoch {e} {layer}: stored cosines are not those of the stored float32 weights")
        n = [float(np.mean(np.sum(params[l + ".weight"].astype(np.float64).reshape(
            params[l + ".weight"].shape[0], -1), 1) <= 0)) for l in layers]
        checks.check(np.allclose(f["stats/neg_fraction"][0, e], n, atol=1e-12), f"epoch {e}: n_l differs")

# --- stop and resume: bf16 + channels-last (momenta and buckets in NHWC) repeats bit for bit
pause = f"{work}/pause"
os.makedirs(pause)
open(f"{pause}/train-3-2-3", "w").close()
shutil.copytree(bf16_run, f"{work}/uninterrupted")
stopped = f"{work}/stopped"
precision, memory_format = configs["bf16-cl"]
command = [os.path.join(bin_dir, "hpa-train"), *common, "--precision", precision, "--memory-format", memory_format,
           "--out", stopped]
process = subprocess.Popen(command, env={**os.environ, "HPA_TEST_PAUSE": pause}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
for _ in range(1200):
    if os.path.exists(f"{pause}/train-3-2-3.reached") or process.poll() is not None:
        break
    time.sleep(0.05)
checks.check(os.path.exists(f"{pause}/train-3-2-3.reached"), "the run never reached epoch 2, step 3")
process.send_signal(signal.SIGUSR2)
out, err = process.communicate(timeout=300)
checks.check(process.returncode == 75, f"SIGUSR2: exit {process.returncode}, not 75: {err}")
r = run(command + ["--resume"])
checks.check(r.returncode == 0, f"--resume: {r.stderr}")
resumed = epoch_params(stopped, EPOCHS)
checks.check(all(np.array_equal(resumed[k], final[k]) for k in final),
             "bf16 + channels-last: stopped and resumed differs from the run without a stop")

# --- --resume with other numerics is refused, the run untouched
before = tree_digest(bf16_run)
for option, value in (("--precision", "fp32"), ("--memory-format", "contiguous")):
    args = [os.path.join(bin_dir, "hpa-train"), *common, "--precision", precision, "--memory-format", memory_format,
            "--out", bf16_run, "--resume"]
    args[args.index(option) + 1] = value
    expect_one_line_error(checks, args, option)
checks.check(tree_digest(bf16_run) == before, "a refused --resume changed the run")
for option, value in (("--precision", "fp16"), ("--memory-format", "nhwc")):
    expect_one_line_error(checks, [os.path.join(bin_dir, "hpa-train"), *common, option, value, "--out",
                                   f"{work}/bad"], option)

# --- one seed on 2 ranks: the gradient buckets hold channels-last gradients as NHWC views (fp32: in
# bf16 the split batch alone moves the weights as far as bf16 does)
mpi = ["mpirun", "--oversubscribe", "--bind-to", "none", "-np", "2"]
env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
r = run([*mpi, os.path.join(bin_dir, "hpa-train"), *common, "--precision", "fp32", "--memory-format", "channels-last",
         "--ranks-per-seed", "2", "--out", f"{work}/ranks2"], env=env)
checks.check(r.returncode == 0, f"2 ranks: {r.stderr}")
if r.returncode == 0:
    two = epoch_params(f"{work}/ranks2", 1)
    d2 = distance(two, hpa["fp32-cl"][first], ref1)
    print(f"distance after {STEPS_PER_EPOCH} steps, fp32-cl on 2 ranks vs 1 rank: {d2:.3g}")
    checks.check(d2 <= 1e-3, "channels-last on 2 ranks (gradients in buckets) is not the 1-rank training")

# --- the grid in bf16 against fp32, on the fp32 run
grid = {}
for precision in ("fp32", "bf16"):
    shutil.copytree(f"{work}/fp32", f"{work}/grid-{precision}")
    r = run([os.path.join(bin_dir, "hpa-reinit-grid"), f"{work}/grid-{precision}", "--precision", precision,
             "--rerandomize", "1", "--threads", "1"])
    checks.check(r.returncode == 0, f"grid {precision}: {r.stderr}")
    with h5py.File(f"{work}/grid-{precision}/reinit.h5", "r") as f:
        grid[precision] = (f["correct"][()], int(f["baseline_correct"][0]), f.attrs["precision"])
diff = np.abs(grid["bf16"][0].astype(np.int64) - grid["fp32"][0])
print(f"grid bf16 vs fp32: {diff.size} cells, {int((diff > 0).sum())} differ, largest difference {int(diff.max())} "
      f"of 500 images; baseline {grid['fp32'][1]} vs {grid['bf16'][1]}")
checks.check(diff.max() <= 10 and abs(grid["bf16"][1] - grid["fp32"][1]) <= 10,
             "bf16 grid counts differ from fp32 by more than 2 % of the test images")
checks.check(str(grid["bf16"][2]) in ("bf16", "b'bf16'"), "reinit.h5 does not say bf16")
before = tree_digest(f"{work}/grid-bf16")
expect_one_line_error(checks, [os.path.join(bin_dir, "hpa-reinit-grid"), f"{work}/grid-bf16", "--precision", "fp32",
                               "--rerandomize", "1", "--threads", "1"], "precision")
checks.check(tree_digest(f"{work}/grid-bf16") == before, "a refused grid resume changed the run")
expect_one_line_error(checks, [os.path.join(bin_dir, "hpa-reinit-grid"), f"{work}/grid-bf16", "--precision", "half"],
                      "--precision")
checks.finish()
