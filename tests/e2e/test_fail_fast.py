"""Fail fast, never hang, under real mpirun with 2 ranks in one seed group: (a) an error on rank 1
inside the collective HDF5 write of an epoch file, (b) an error on rank 1 while the group's gradient
allreduces are in flight, (c) kill -9 of rank 1 in the middle of an epoch. Each time the whole job
ends within 60 s (errors: with one line naming the cause and the rank), run.h5 still opens, and --resume finishes
a run bit-identical to an uninterrupted one. Errors are injected with HPA_TEST_FAULT=NAME@RANK.

usage: test_fail_fast.py BUILD_DIR/src WORK_DIR MPIEXEC
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

from hpa_test_util import FASHION_MNIST, Checks, mpi_rank_pids, run

bin_dir, work, mpiexec = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
train = os.path.join(bin_dir, "hpa-train")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
mpi = [mpiexec, "-np", "2", "--oversubscribe", "-x", "HPA_TEST_FAULT"]
args = ["--data-dir", FASHION_MNIST, "--train-subset", "4000", "--epochs", "2", "--batch-size", "32", "--lr", "0.01",
        "--init", "torchvision", "--threads", "1", "--seeds", "4"]

reference = os.path.join(work, "reference")
r = run([*mpi, train, "--out", reference, *args], env=dict(env, HPA_TEST_FAULT=""))
checks.check(r.returncode == 0, f"reference failed: {r.stderr}")


def check_readable_and_resumable(run_dir, label):
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        f["params/features.0.weight"][()]  # opens and reads (NaN where no epoch is committed)
    r = run([*mpi, train, "--out", run_dir, "--resume", *args], env=dict(env, HPA_TEST_FAULT=""))
    checks.check(r.returncode == 0, f"{label}: --resume failed: {r.stderr}")
    with h5py.File(os.path.join(reference, "run.h5"), "r") as a, h5py.File(os.path.join(run_dir, "run.h5"), "r") as b:
        for name in a["params"]:
            checks.check(np.array_equal(a["params"][name][()], b["params"][name][()]),
                         f"{label}: {name} differs from the uninterrupted run after --resume")


for fault in ["epoch_write@1", "allreduce@1"]:
    run_dir = os.path.join(work, fault.replace("@", "_"))
    start = time.time()
    try:
        r = run([*mpi, train, "--out", run_dir, *args], env=dict(env, HPA_TEST_FAULT=fault), timeout=120)
        code, stderr = r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        code, stderr = None, "timed out after 120 s"
    elapsed = time.time() - start
    errors = [line for line in stderr.splitlines() if line.startswith("hpa-train: error")]
    print(f"{fault}: exit {code} after {elapsed:.1f} s: {errors}")
    checks.check(code not in (0, None), f"{fault}: the job did not fail ({stderr[-500:]})")
    checks.check(elapsed < 60, f"{fault}: the job took {elapsed:.0f} s to end")
    checks.check(len(errors) == 1 and fault.split("@")[0] in errors[0], f"{fault}: error lines {errors}")
    # The line names the rank that raised the error (world numbering, with its host).
    checks.check(len(errors) == 1 and errors[0].startswith("hpa-train: error: rank 1 of 2 on "),
                 f"{fault}: the error line does not name its rank: {errors}")
    check_readable_and_resumable(run_dir, fault)

# (c) kill -9 of rank 1 inside epoch 1.
run_dir = os.path.join(work, "kill_rank_1")
process = subprocess.Popen([*mpi, train, "--out", run_dir, *args, "--loss-log", os.path.join(work, "kill.loss")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env=dict(env, HPA_TEST_FAULT=""))
log = os.path.join(work, "kill.loss")
deadline = time.time() + 300
while time.time() < deadline and process.poll() is None:
    if os.path.exists(log) and sum(1 for _ in open(log)) >= 40:
        break
    time.sleep(0.01)


victim = mpi_rank_pids(run_dir).get(1)
checks.check(victim is not None, "rank 1 not found")
start = time.time()
if victim:
    os.kill(victim, signal.SIGKILL)
try:
    process.wait(timeout=120)
except subprocess.TimeoutExpired:
    process.kill()
elapsed = time.time() - start
print(f"kill -9 of rank 1: mpirun exit {process.returncode} after {elapsed:.1f} s")
checks.check(process.returncode not in (0, None), "the job did not fail after rank 1 was killed")
checks.check(elapsed < 60, f"the job took {elapsed:.0f} s to end after rank 1 was killed")
checks.check(not os.path.exists(os.path.join(run_dir, "seed_4", "epoch_0002.h5")), "the kill came too late")
check_readable_and_resumable(run_dir, "kill -9")
checks.finish()
