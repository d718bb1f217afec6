"""Crash harness: kill -9 a 2-rank hpa-train run (one seed group, timed checkpoints inside epochs)
at random moments in random processes (rank 0, rank 1 or mpirun), resume, repeat, and check every
time that run.h5 opens, no committed epoch is lost or changed, and that the finished run is
bit-identical to an uninterrupted one.

usage: crash_harness.py BUILD_DIR/src WORK_DIR MPIEXEC [--trials N] [--seed S]
Prints one line per trial and a summary "N/N trials passed, K with a kill"; exit status 1 if any
failed or if no trial killed a process (every run finished first: nothing was tested).
"""
import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from hpa_test_util import mpi_rank_pids  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("bin_dir")
parser.add_argument("work")
parser.add_argument("mpiexec")
parser.add_argument("--trials", type=int, default=20)
parser.add_argument("--seed", type=int, default=0)
options = parser.parse_args()
train = os.path.join(os.path.abspath(options.bin_dir), "hpa-train")
work = os.path.abspath(options.work)
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
env.pop("HPA_TEST_FAULT", None)
EPOCHS, SEED = 3, 2
mpi = [options.mpiexec, "-np", "2", "--oversubscribe"]
args = ["--data-dir", "/usr/share/datasets/fashion-mnist", "--train-subset", "3000", "--test-subset", "500",
        "--epochs", str(EPOCHS), "--batch-size", "32", "--lr", "0.01", "--init", "torchvision", "--threads", "1",
        "--seeds", str(SEED), "--checkpoint-minutes", "0.003"]
rng = random.Random(options.seed)


TIMINGS = {"epoch_seconds", "images_per_second", "data_wait_fraction"}


def digest(path):
    """Hash of an epoch file's contents: every dataset but the timing metrics (a resume from an
    earlier checkpoint recomputes, and atomically replaces, later epoch files)."""
    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and name.split("/")[-1] not in TIMINGS:
                h.update(name.encode())
                h.update(obj[()].tobytes())
        f.visititems(visit)
    return h.hexdigest()


def committed(run_dir):
    folder = os.path.join(run_dir, f"seed_{SEED}")
    if not os.path.isdir(folder):
        return {}
    return {n: digest(os.path.join(folder, n)) for n in os.listdir(folder) if n.startswith("epoch_") and n.endswith(".h5")}


start = time.time()
reference = os.path.join(work, "reference")
r = subprocess.run([*mpi, train, "--out", reference, *args], env=env, capture_output=True, text=True)
if r.returncode != 0:
    sys.exit(f"reference run failed: {r.stderr}")
duration = time.time() - start
print(f"reference run: {duration:.1f} s", flush=True)

passed = killed_trials = 0
for trial in range(options.trials):
    run_dir = os.path.join(work, f"trial_{trial:02d}")
    problems, kills = [], []
    for attempt in range(rng.randint(1, 3)):
        command = [*mpi, train, "--out", run_dir, *args] + (["--resume"] if os.path.exists(os.path.join(run_dir, "run.h5")) else [])
        before = committed(run_dir)
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        delay = rng.uniform(0.3, duration)
        target = rng.choice(["rank 0", "rank 1", "mpirun"])
        time.sleep(delay)
        pid = process.pid if target == "mpirun" else mpi_rank_pids(run_dir).get(int(target[-1]))
        if process.poll() is None and pid:
            os.kill(pid, signal.SIGKILL)
            kills.append(f"{target}@{delay:.1f}s")
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            problems.append(f"the job did not end 120 s after killing {target}")
            process.kill()
            process.wait()
        for pid in mpi_rank_pids(run_dir).values():  # ranks orphaned by killing mpirun itself
            os.kill(pid, signal.SIGKILL)
        if os.path.exists(os.path.join(run_dir, "run.h5")):
            try:
                with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
                    f["stats/neg_fraction"][()]
            except Exception as error:  # noqa: BLE001 - any failure to read is the finding
                problems.append(f"run.h5 unreadable after the kill: {error}")
        after = committed(run_dir)
        lost = [n for n in before if after.get(n) != before[n]]
        if lost:
            problems.append(f"committed epochs lost or changed: {lost}")
    resume = ["--resume"] if os.path.exists(os.path.join(run_dir, "run.h5")) else []
    r = subprocess.run([*mpi, train, "--out", run_dir, *args, *resume], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        problems.append(f"final run failed: {r.stderr.strip()[-300:]}")
    else:
        with h5py.File(os.path.join(reference, "run.h5"), "r") as a, h5py.File(os.path.join(run_dir, "run.h5"), "r") as b:
            for name in a["params"]:
                if not np.array_equal(a["params"][name][()], b["params"][name][()]):
                    problems.append(f"{name} differs from the uninterrupted run")
            for name in ("train_loss", "val_accuracy", "test_accuracy"):
                if not np.array_equal(a["metrics"][name][()], b["metrics"][name][()], equal_nan=True):
                    problems.append(f"metric {name} differs")
        leftovers = [n for n in os.listdir(os.path.join(run_dir, f"seed_{SEED}")) if ".tmp" in n]
        if leftovers:
            problems.append(f"temporaries left: {leftovers}")
    status = "ok" if not problems else "FAILED: " + "; ".join(problems)
    passed += not problems
    killed_trials += bool(kills)
    print(f"trial {trial + 1}: kills {', '.join(kills) or 'none (the run finished first)'}: {status}", flush=True)
    if not problems:
        shutil.rmtree(run_dir)
print(f"{passed}/{options.trials} trials passed, {killed_trials} with a kill ({time.time() - start:.0f} s)")
if killed_trials == 0:
    print("FAIL: every run finished before its kill: nothing was tested")
sys.exit(0 if passed == options.trials and killed_trials > 0 else 1)
