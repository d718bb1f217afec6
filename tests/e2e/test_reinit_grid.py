"""hpa-reinit-grid end to end on a small real run: shapes and meaning of reinit.h5 (resetting to
the final epoch is the baseline), fused equal to naive for every cell, any number of ranks (1, 2,
16) and any chunking of a layer's cells into work items giving the same grid, the farm simulation
writing nothing, a kill -9 and restart evaluating only what is missing,
and bad input refused with one line and no change to reinit.h5.

usage: test_reinit_grid.py BUILD_DIR/src WORK_DIR MPIRUN
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

from hpa_test_util import FASHION_MNIST, Checks, expect_one_line_error, run, tree_digest

bin_dir, work, mpirun = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
train, grid = os.path.join(bin_dir, "hpa-train"), os.path.join(bin_dir, "hpa-reinit-grid")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
os.environ.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
checks = Checks()

base = os.path.join(work, "run")
r = run([train, "--out", base, "--data-dir", FASHION_MNIST, "--train-subset", "2000", "--test-subset", "999",
         "--epochs", "3", "--batch-size", "32", "--lr", "0.02", "--init", "torchvision", "--augment", "false",
         "--threads", "2", "--seeds", "1,2"])
checks.check(r.returncode == 0, f"training failed: {r.stderr}")


def copy_run(name):
    target = os.path.join(work, name)
    shutil.copytree(base, target)
    return target


def correct_of(run_dir):
    with h5py.File(os.path.join(run_dir, "reinit.h5"), "r") as f:
        return f["correct"][()], f["baseline_correct"][()]


fused = copy_run("fused")
r = run([grid, fused, "--rerandomize", "2", "--threads", "2"])
print(r.stdout[-1500:])
checks.check(r.returncode == 0, f"fused grid failed: {r.stderr}")
with h5py.File(os.path.join(fused, "reinit.h5"), "r") as f:
    correct, baseline = f["correct"][()], f["baseline_correct"][()]
    checks.check(correct.shape == (2, 6, 4 + 2), f"correct shape {correct.shape}")
    checks.check(list(f["epochs"][()]) == [0, 1, 2, 3] and f.attrs["test_samples"] == 999, "epochs or test_samples")
    checks.check("rerandomize = 2" in f.attrs["config"], "resolved options not stored in reinit.h5")
    checks.check((correct >= 0).all() and (correct <= 999).all(), "counts outside 0..999")
    # Resetting a layer to its value at the final epoch changes nothing: exactly the baseline.
    checks.check((correct[:, :, 3] == baseline[:, None]).all(), f"final-epoch column != baseline: {correct[:, :, 3]} {baseline}")
    acc, drop, base_acc = f["accuracy"][()], f["drop"][()], f["baseline_accuracy"][()]
    checks.check(np.allclose(acc, correct / 999.0) and np.allclose(base_acc, baseline / 999.0), "accuracy != correct / n")
    checks.check(np.allclose(drop, (base_acc[:, None, None] - acc) / base_acc[:, None, None]), "drop formula")
    checks.check(f["rerandomize_seeds"].shape == (2, 6, 2) and len(set(f["rerandomize_seeds"][()].ravel())) == 24,
                 "re-randomization seeds not recorded or not distinct")
with h5py.File(os.path.join(fused, "run.h5"), "r") as f:
    checks.check(np.array_equal(f["reinit/correct"][()], correct), "run.h5's reinit link does not reach reinit.h5")

# One cell per work item, and whole layers per item: the same counts, whatever the chunking.
for cells in ("1", "6"):
    chunked = copy_run(f"cells_{cells}")
    r = run([grid, chunked, "--rerandomize", "2", "--threads", "2", "--cells-per-item", cells])
    checks.check(r.returncode == 0, f"--cells-per-item {cells} failed: {r.stderr}")
    items = 2 * (1 + 6 * (6 // int(cells)))
    checks.check(f"{items} of {items} work items" in r.stdout, f"--cells-per-item {cells}: {r.stdout[:400]}")
    got, got_baseline = correct_of(chunked)
    checks.check(np.array_equal(got, correct) and np.array_equal(got_baseline, baseline),
                 f"--cells-per-item {cells}: other results")

# The farm simulation: measures this machine, prints the busy share of the simulated ranks, writes nothing.
simulated = copy_run("simulated")
before = tree_digest(simulated)
r = run([grid, simulated, "--rerandomize", "2", "--threads", "2", "--simulate-ranks", "8", "--simulate-seeds", "4"])
checks.check(r.returncode == 0 and "simulated farm: 4 seed(s) x 6 layers x 6 cells on 8 ranks" in r.stdout
             and "ranks busy at 95 % of the wall time" in r.stdout, f"--simulate-ranks: {r.stdout} {r.stderr}")
checks.check(tree_digest(simulated) == before, "--simulate-ranks wrote into the run directory")

naive = copy_run("naive")
r = run([grid, naive, "--rerandomize", "2", "--naive", "--threads", "2"])
checks.check(r.returncode == 0, f"naive grid failed: {r.stderr}")
n_correct, n_baseline = correct_of(naive)
checks.check(np.array_equal(n_correct, correct) and np.array_equal(n_baseline, baseline),
             f"fused and naive differ in {(n_correct != correct).sum()} cells")

for ranks in [2, 16]:  # 16 ranks: more ranks than (seed, layer) pairs; the plan splits layers into more items
    target = copy_run(f"ranks_{ranks}")
    r = run([mpirun, "-np", str(ranks), grid, target, "--rerandomize", "2", "--threads", "1", "--batch-size", "500"],
            timeout=600)
    checks.check(r.returncode == 0, f"{ranks} ranks failed: {r.stderr[-500:]}")
    got, got_baseline = correct_of(target)
    checks.check(np.array_equal(got, correct) and np.array_equal(got_baseline, baseline), f"{ranks} ranks: other results")

# kill -9 once some items are written (flush after every item), then restart: only the rest runs.
killed = copy_run("killed")
process = subprocess.Popen([grid, killed, "--rerandomize", "2", "--threads", "2", "--flush-seconds", "0"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.time() + 300
while not os.path.exists(os.path.join(killed, "reinit.h5")) and process.poll() is None and time.time() < deadline:
    time.sleep(0.02)
process.send_signal(signal.SIGKILL)
process.wait()
partial, _ = correct_of(killed)
done_cells = int((partial >= 0).sum())
checks.check(process.returncode == -signal.SIGKILL and done_cells < partial.size, f"kill came too late ({done_cells} cells done)")
r = run([grid, killed, "--rerandomize", "2", "--threads", "2"])
checks.check(r.returncode == 0, r.stderr)
todo = [line for line in r.stdout.splitlines() if "work items to do" in line]
left, total = (int(n) for n in todo[0].split("; ")[1].split(" work")[0].split(" of ")) if todo else (-1, -1)
checks.check(0 < left < total, f"restart did not skip the finished items: {todo}")
final, final_baseline = correct_of(killed)
checks.check(np.array_equal(final, correct) and np.array_equal(final_baseline, baseline), "resumed grid differs")

# Bad input: one line, non-zero exit, reinit.h5 untouched.
before = tree_digest(fused)
expect_one_line_error(checks, [grid, fused, "--epochs", ""], "--epochs")
expect_one_line_error(checks, [grid, fused, "--epochs", "0,7"], "beyond")
expect_one_line_error(checks, [grid, fused, "--epochs", "0,1"], "--overwrite")
expect_one_line_error(checks, [grid, os.path.join(work, "nowhere")], "not a run directory")
expect_one_line_error(checks, [grid, fused, "--device", "cuda"], "--device cuda")  # this LibTorch has no CUDA
expect_one_line_error(checks, [grid, fused, "--device", "tpu"], "--device")
expect_one_line_error(checks, [grid, fused, "--memory-mb", "1"], "--memory-mb")
expect_one_line_error(checks, [grid, fused, "--cells-per-item", "-1"], "--cells-per-item")
checks.check(tree_digest(fused) == before, "a refused grid changed the run directory")
missing = copy_run("missing")
os.remove(os.path.join(missing, "seed_2", "epoch_0002.h5"))
expect_one_line_error(checks, [grid, missing], "epoch_0002.h5")
checks.check(not os.path.exists(os.path.join(missing, "reinit.h5")), "reinit.h5 written despite a missing epoch")
schema = copy_run("schema")
with h5py.File(os.path.join(schema, "run.h5"), "r+") as f:
    f.attrs["schema_version"] = 99
expect_one_line_error(checks, [grid, schema], "version 99")
shapes = copy_run("shapes")
with h5py.File(os.path.join(shapes, "seed_1", "epoch_0003.h5"), "r+") as f:
    del f["params/features.5.weight"]
    f["params/features.5.weight"] = np.zeros((16, 6, 5, 5), np.float32)
expect_one_line_error(checks, [grid, shapes], "features.5.weight")
checks.finish()
