"""hpa-train streams ImageNet packs: its peak memory does not grow with the pack's image count.
Two packs of small photographs (tests/imagenet/make_tree.py: 2,000 distinct files; the 20,000-image
tree links each of them ten times under other names), one epoch of LeNet on 32-pixel crops each;
the peak resident set (the kernel's ru_maxrss of each process, the smaller of two runs: it varies by
about 10 MB from run to run) must differ by less than 20 MB. Evaluation batches are 100 images in
both (a larger validation split in one batch would raise the peak for another reason).
Loading the 20,000 encoded images would add about 10 times the 2,000-image pack's size, decoding them
far more. Prints both figures.

usage: test_imagenet_memory.py BUILD_DIR/src WORK_DIR
"""
import os
import shutil
import subprocess
import sys

from hpa_test_util import Checks, run

bin_dir, work = map(os.path.abspath, sys.argv[1:3])
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()
maker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "imagenet", "make_tree.py")
small = os.path.join(work, "tree_2k")
r = run([sys.executable, maker, small, "--classes", "10", "--train-per-class", "200", "--val-per-class", "10",
         "--min-side", "48", "--max-side", "96"])
checks.check(r.returncode == 0, r.stderr)
large = os.path.join(work, "tree_20k")
shutil.copytree(small, large, copy_function=os.link)
for folder, _, files in os.walk(os.path.join(large, "train")):
    for name in files:
        for copy in range(1, 10):
            os.link(os.path.join(folder, name), os.path.join(folder, f"copy{copy}_{name}"))


def peak_rss_mb(args):
    process = subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    output = process.stdout.read() + process.stderr.read()
    checks.check(os.waitstatus_to_exitcode(status) == 0, f"{args[0]} failed: {output[-2000:]}")
    return usage.ru_maxrss / 1024.0, output


results = {}
for name, tree in [("2k", small), ("20k", large)]:
    packs = os.path.join(work, f"packs_{name}")
    os.makedirs(packs)
    for args in ([os.path.join(tree, "train"), "--out", os.path.join(packs, "train.h5")],
                 [os.path.join(tree, "val"), "--val-solution", os.path.join(tree, "LOC_val_solution.csv"),
                  "--classes-from", os.path.join(packs, "train.h5"), "--out", os.path.join(packs, "val.h5")]):
        r = run([os.path.join(bin_dir, "hpa-pack"), *args])
        checks.check(r.returncode == 0, r.stderr)
    rss, output = min(peak_rss_mb([os.path.join(bin_dir, "hpa-train"), "--dataset", "imagenet", "--data-dir", packs,
                                   "--arch", "lenet", "--image-size", "32", "--eval-resize", "36", "--epochs", "1",
                                   "--batch-size", "128", "--eval-batch-size", "100", "--threads", "2", "--overwrite",
                                   "--out", os.path.join(work, f"run_{name}")]) for _ in range(2))
    pack_mb = os.path.getsize(os.path.join(packs, "train.h5")) / 1e6
    images = [line for line in output.splitlines() if "train, " in line]
    print(f"{name}: train.h5 {pack_mb:.1f} MB; hpa-train peak RSS {rss:.1f} MB; {images[0] if images else ''}")
    results[name] = (rss, pack_mb)
growth = results["20k"][0] - results["2k"][0]
print(f"peak RSS growth from 2,000 to 20,000 images: {growth:.1f} MB "
      f"(the 20k pack holds {results['20k'][1]:.1f} MB of encoded images)")
checks.check(growth < 20, f"peak memory grew by {growth:.1f} MB with 10x the images")
# The bound must be able to fail: holding the extra encoded images alone would exceed it.
extra_mb = results["20k"][1] - results["2k"][1]
checks.check(extra_mb > 20, f"the 20k pack holds only {extra_mb:.1f} MB more than the 2k one: the test cannot fail")
checks.finish()
