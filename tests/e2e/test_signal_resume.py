"""Checkpoints inside an epoch, and resuming from them exactly.

(a) One rank: SIGUSR2 twice inside epoch 2 (each run ends with exit status 75 at a step after the
    signal and says where it stopped), then --resume to the end: every parameter of every epoch
    file, every metric computed from training, and every step's loss equal an uninterrupted run's,
    bit for bit; the log says from which epoch and step it resumed.
(b) --checkpoint-minutes: checkpoints inside epochs on a timer; kill -9 in the middle of an epoch,
    then --resume: bit-identical again, resumed at a step inside the epoch.
(c) Two ranks in one seed group under mpirun: SIGUSR2 to mpirun (which forwards it to the ranks):
    both ranks agree on the step, exit 75; --resume ends equal to an uninterrupted 2-rank run.
(d) Misuse, each one line naming the problem, exit != 0, run directory unchanged: --resume with
    other experiment options (every difference listed with both values), a truncated checkpoint, a
    checkpoint of a newer format, --checkpoint-minutes 0 or negative.

usage: test_signal_resume.py BUILD_DIR/src WORK_DIR MPIEXEC
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

bin_dir, work, mpiexec = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
train = os.path.join(bin_dir, "hpa-train")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()
EPOCHS, SEED = 3, 7
STEPS = 169  # 6000 samples, 10 % held out, batch 32
args = ["--data-dir", FASHION_MNIST, "--train-subset", "6000", "--epochs", EPOCHS, "--batch-size", "32",
        "--lr", "0.01", "--init", "torchvision", "--threads", "1", "--seeds", SEED, "--dropout", "0.5"]
MPI_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def losses(path):
    """The step rows of a loss log ('seed epoch step loss'); a resumed run's '# resumed: ...' lines left out."""
    with open(path) as f:
        return [line.split() for line in f if not line.startswith("#")]


def start(command, loss_log, **kwargs):
    return subprocess.Popen([str(a) for a in command] + ["--loss-log", loss_log], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def wait_for_step(process, loss_log, epoch, step):
    """Polls the loss log until (epoch, step) is logged; False if the process ended first."""
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if os.path.exists(loss_log):
            for row in losses(loss_log)[-3:]:
                if len(row) == 4 and (int(row[1]), int(row[2])) >= (epoch, step):
                    return True
        time.sleep(0.005)
    return False


def checkpoint_position(run_dir):
    with h5py.File(os.path.join(run_dir, f"seed_{SEED}", "checkpoint.h5"), "r") as f:
        return int(f.attrs["epoch"]), int(f.attrs["step"])


def compare_runs(reference, other, label):
    for epoch in range(EPOCHS + 1):
        name = f"seed_{SEED}/epoch_{epoch:04d}.h5"
        with h5py.File(os.path.join(reference, name), "r") as a, h5py.File(os.path.join(other, name), "r") as b:
            for param in a["params"]:
                checks.check(np.array_equal(a["params"][param][()], b["params"][param][()]),
                             f"{label}: {name}: {param} differs from the uninterrupted run")
            for metric in ("train_loss", "train_accuracy", "train_top5_accuracy", "val_loss", "test_accuracy"):
                x, y = a["metrics"][metric][()], b["metrics"][metric][()]
                checks.check(np.array_equal(x, y, equal_nan=True), f"{label}: {name}: {metric} {y} != {x}")


def interrupt(command, run_dir, loss_log, epoch, step, send):
    """Starts `command`, signals it once (epoch, step) is logged, returns its exit status and output."""
    process = start(command, loss_log, env=MPI_ENV)
    reached = wait_for_step(process, loss_log, epoch, step)
    checks.check(reached, f"{run_dir}: the run ended before epoch {epoch} step {step}")
    send(process)
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


# (a) one rank, two signals inside epoch 2.
reference = os.path.join(work, "reference")
r = run([train, "--out", reference, *args, "--loss-log", os.path.join(work, "reference.loss")])
checks.check(r.returncode == 0, f"reference run failed: {r.stderr}")
reference_losses = losses(os.path.join(work, "reference.loss"))
checks.check(len(reference_losses) == EPOCHS * STEPS, f"{len(reference_losses)} steps in the reference")

interrupted = os.path.join(work, "interrupted")
pieces = []
command = [train, "--out", interrupted, *args]
for part, at_step in enumerate([30, 100]):
    log = os.path.join(work, f"interrupted_{part}.loss")
    code, out, err = interrupt(command, interrupted, log, 2, at_step, lambda p: p.send_signal(signal.SIGUSR2))
    checks.check(code == 75, f"signal {part + 1}: exit status {code}, expected 75: {err}")
    epoch_done, step = checkpoint_position(interrupted)
    print(f"signal {part + 1} at epoch 2 step {at_step}: checkpoint after epoch {epoch_done}, step {step}")
    checks.check(epoch_done == 1 and at_step < step < STEPS,
                 f"signal {part + 1}: checkpoint at epoch {epoch_done} step {step}, expected inside epoch 2")
    checks.check(f"at step {step}/{STEPS}" in out and "exit status 75" in out,
                 f"signal {part + 1}: the log does not say where it stopped: {out}")
    checks.check(not os.path.exists(os.path.join(interrupted, f"seed_{SEED}", "epoch_0002.h5")),
                 "epoch 2 was snapshotted although it was interrupted")
    if part == 1:
        checks.check(f"resuming after epoch 1 at step {pieces[-1][1]}/{STEPS} of epoch 2" in out,
                     f"the resumed run does not say where it continued: {out}")
    pieces.append((log, step))
    command = [train, "--out", interrupted, "--resume", *args]
final_log = os.path.join(work, "interrupted_final.loss")
r = run(command + ["--loss-log", final_log])
checks.check(r.returncode == 0, f"final resume failed: {r.stderr}")
checks.check(f"resuming after epoch 1 at step {pieces[-1][1]}/{STEPS} of epoch 2" in r.stdout, r.stdout)
first_line = open(final_log).readline().strip()
checks.check(first_line == f"# resumed: seed {SEED} after epoch 1 at step {pieces[-1][1]} of epoch 2",
             f"the resumed run's loss log does not begin with where it resumed: {first_line!r}")
joined = []
for log, _ in pieces:
    joined += losses(log)
joined += losses(final_log)
checks.check(joined == reference_losses, "the step losses of the interrupted run differ from the reference")
compare_runs(reference, interrupted, "two signals")

# (b) timed checkpoints, then kill -9 inside an epoch.
timed = os.path.join(work, "timed")
timed_args = [train, "--out", timed, *args, "--checkpoint-minutes", "0.002"]
code, out, err = interrupt(timed_args, timed, os.path.join(work, "timed.loss"), 2, 120,
                           lambda p: p.send_signal(signal.SIGKILL))
checks.check(code == -signal.SIGKILL, f"kill -9: exit status {code}")
epoch_done, step = checkpoint_position(timed)
print(f"kill -9 at epoch 2 step 120: last timed checkpoint after epoch {epoch_done}, step {step}")
checks.check(epoch_done == 1 and 0 < step < STEPS, f"no checkpoint inside epoch 2 (epoch {epoch_done} step {step})")
r = run([train, "--out", timed, "--resume", *args, "--checkpoint-minutes", "0.002"])
checks.check(r.returncode == 0 and f"at step {step}/{STEPS}" in r.stdout, f"timed resume: {r.stdout} {r.stderr}")
compare_runs(reference, timed, "timed checkpoint + kill -9")

# (c) two ranks of one seed group: SIGUSR2 to mpirun.
mpi = [mpiexec, "-np", "2", "--oversubscribe"]
reference2 = os.path.join(work, "reference_2ranks")
r = run([*mpi, train, "--out", reference2, *args], env=MPI_ENV)
checks.check(r.returncode == 0, f"2-rank reference failed: {r.stderr}")
interrupted2 = os.path.join(work, "interrupted_2ranks")
code, out, err = interrupt([*mpi, train, "--out", interrupted2, *args], interrupted2,
                           os.path.join(work, "interrupted_2ranks.loss"), 1, 60,
                           lambda p: p.send_signal(signal.SIGUSR2))
checks.check(code == 75, f"mpirun: exit status {code}, expected 75: {err[-2000:]}")
epoch_done, step = checkpoint_position(interrupted2)
checks.check(epoch_done == 0 and 60 < step < STEPS, f"2 ranks: checkpoint at epoch {epoch_done} step {step}")
r = run([*mpi, train, "--out", interrupted2, "--resume", *args], env=MPI_ENV)
checks.check(r.returncode == 0, f"2-rank resume failed: {r.stderr}")
compare_runs(reference2, interrupted2, "2 ranks")

# (d) misuse: one line each, nothing changed.
before = tree_digest(interrupted)
changed = [str(a) for a in args]
changed[changed.index("--lr") + 1] = "0.02"
changed[changed.index("--batch-size") + 1] = "64"
result = expect_one_line_error(checks, [train, "--out", interrupted, "--resume", *changed], "--lr 0.01 (now 0.02)")
checks.check("--batch-size 32 (now 64)" in result.stderr, f"not every difference listed: {result.stderr}")
for bad in ["0", "-1"]:
    expect_one_line_error(checks, [train, "--out", interrupted, "--resume", *args, "--checkpoint-minutes", bad],
                          "--checkpoint-minutes")
checkpoint = os.path.join(interrupted, f"seed_{SEED}", "checkpoint.h5")
saved = os.path.join(work, "checkpoint.saved")
shutil.copy(checkpoint, saved)
with open(checkpoint, "r+b") as f:
    f.truncate(os.path.getsize(checkpoint) // 2)
truncated = tree_digest(interrupted)
expect_one_line_error(checks, [train, "--out", interrupted, "--resume", *args], "checkpoint.h5")
checks.check(tree_digest(interrupted) == truncated, "a failed resume changed the run directory (truncated)")
shutil.copy(saved, checkpoint)
with h5py.File(checkpoint, "r+") as f:
    f.attrs["schema_version"] = 99
newer = tree_digest(interrupted)
expect_one_line_error(checks, [train, "--out", interrupted, "--resume", *args], "version 99")
checks.check(tree_digest(interrupted) == newer, "a failed resume changed the run directory (newer format)")
shutil.copy(saved, checkpoint)
checks.check(tree_digest(interrupted) == before, "a refused resume changed the run directory")
checks.finish()
