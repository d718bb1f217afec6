"""The catalogue of bad inputs (docs/errors.md), table-driven: malformed files of every format hpa
reads, bad options, bad combinations and a wrong environment. Every case must end with exit != 0,
exactly one non-empty line on stderr that contains the expected text (which names the file or
option), and no change to any file (the hash of every file of the case's folder and of the shared
inputs, before and after). Every case id must also appear in docs/errors.md with that text.

usage: test_error_catalogue.py BUILD_DIR/src WORK_DIR DOCS_ERRORS_MD [--print]
  --print: print each case's actual message (to refresh docs/errors.md), still checking the rest
"""
import gzip
import hashlib
import io
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import zipfile

import h5py
import numpy as np

from hpa_test_util import FASHION_MNIST, Checks, run, tree_digest

bin_dir, work, docs = (os.path.abspath(a) for a in sys.argv[1:4])
show = "--print" in sys.argv
train, grid, stats, pack = (os.path.join(bin_dir, n) for n in ("hpa-train", "hpa-reinit-grid", "hpa-stats", "hpa-pack"))
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
here = os.path.dirname(os.path.abspath(__file__))
checks = Checks()
tiny = ["--width", "0.125", "--train-subset", "128", "--val-fraction", "0", "--test-subset", "64", "--epochs", "1",
        "--batch-size", "32", "--threads", "1"]

# ---- shared, valid inputs that the cases break copies of ----------------------------------------------
good_run = os.path.join(work, "shared", "run")
r = run([train, "--out", good_run, "--data-dir", FASHION_MNIST, *tiny])
assert r.returncode == 0, r.stderr
tree = os.path.join(work, "shared", "tree")
r = run(["/usr/bin/python3", os.path.join(here, "..", "imagenet", "make_tree.py"), tree, "--classes", "2",
         "--train-per-class", "2", "--val-per-class", "1", "--min-side", "40", "--max-side", "60"])
assert r.returncode == 0, r.stderr
good_pack = os.path.join(work, "shared", "train.h5")
r = run([pack, os.path.join(tree, "train"), "--out", good_pack, "--progress-seconds", "1000"])
assert r.returncode == 0, r.stderr
shared = os.path.join(work, "shared")
idx_names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz"]


def fashion_copy(d, **replace):
    """A Fashion-MNIST folder in d whose files are links to the real ones, except those in `replace`
    (name -> bytes)."""
    os.makedirs(d)
    for name in idx_names:
        if name in replace:
            open(os.path.join(d, name), "wb").write(replace[name])
        else:
            os.symlink(os.path.join(FASHION_MNIST, name), os.path.join(d, name))
    return d


def real_labels():
    return gzip.open(os.path.join(FASHION_MNIST, "train-labels-idx1-ubyte.gz")).read()


def copy_run(d):
    shutil.copytree(good_run, d)
    return d


def packs_dir(d):
    """train.h5 and val.h5 (both the small training pack: enough to reach the option checks)."""
    os.makedirs(d)
    for name in ("train.h5", "val.h5"):
        shutil.copy(good_pack, os.path.join(d, name))
    return d


def edit_h5(path, edit):
    with h5py.File(path, "r+") as f:
        edit(f)


def grid_on_run_with(d, attribute, value):
    """hpa-reinit-grid on a copy of the run whose run.h5 has `attribute` set to `value`."""
    copy_run(f"{d}/run")
    edit_h5(f"{d}/run/run.h5", lambda f: f.attrs.__setitem__(attribute, value))
    return [grid, f"{d}/run"]


def cifar_dir(d, record_bytes=3073, label=3, count=2):
    os.makedirs(d)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        data = b"".join(bytes([label]) + bytes(3072) for _ in range(count))
        open(os.path.join(d, name), "wb").write(data[: record_bytes * count])
    return d


def state_dict_bytes(obj, legacy=False):
    import torch
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue()


def lenet_state():
    import torch
    torch.manual_seed(0)
    return {"features.0.weight": torch.randn(6, 1, 5, 5), "features.0.bias": torch.zeros(6)}


# Each case: id, command (a function of its folder d), expected text, optional env.
CASES = [
    # --- options
    ("opt-unknown", lambda d: [train, "--out", f"{d}/r", "--epoch", "3"], "--epoch"),
    ("opt-epochs-zero", lambda d: [train, "--out", f"{d}/r", "--epochs", "0"], "--epochs must be in 1..100000"),
    ("opt-lr-negative", lambda d: [train, "--out", f"{d}/r", "--lr", "-0.1"], "--lr must be > 0"),
    ("opt-dropout-range", lambda d: [train, "--out", f"{d}/r", "--dropout", "1.5"], "--dropout must be in [0, 1)"),
    ("opt-val-fraction", lambda d: [train, "--out", f"{d}/r", "--val-fraction", "1"], "--val-fraction"),
    ("opt-width-zero", lambda d: [train, "--out", f"{d}/r", "--width", "0"], "--width must be in (0, 16]"),
    ("opt-arch-unknown", lambda d: [train, "--out", f"{d}/r", "--arch", "resnet50"], "resnet50"),
    ("opt-batch-not-number", lambda d: [train, "--out", f"{d}/r", "--batch-size", "lots"], "--batch-size"),
    ("opt-out-missing", lambda d: [train, "--epochs", "1"], "--out is required"),
    ("opt-seeds-duplicate", lambda d: [train, "--out", f"{d}/r", "--seeds", "1,1"], "--seeds"),
    ("opt-snapshot-epochs", lambda d: [train, "--out", f"{d}/r", "--epochs", "5", "--snapshot-epochs", "0-9"],
     "--snapshot-epochs"),
    ("opt-config-missing", lambda d: [train, "--config", f"{d}/none.cfg", "--out", f"{d}/r"], "none.cfg"),
    ("opt-config-malformed", lambda d: (open(f"{d}/bad.cfg", "w").write("epochs 3\n"),
                                        [train, "--config", f"{d}/bad.cfg", "--out", f"{d}/r"])[1], "bad.cfg"),
    ("opt-grid-rerandomize", lambda d: [grid, good_run, "--rerandomize", "-1"], "--rerandomize"),
    ("opt-grid-epochs", lambda d: [grid, good_run, "--epochs", "7"], "--epochs"),
    ("opt-pack-no-out", lambda d: [pack, os.path.join(tree, "train")], "--out"),
    ("opt-stats-arch", lambda d: [stats, "--arch", "vgg99"], "vgg99"),
    ("opt-flag-value", lambda d: [train, "--out", f"{d}/r", "--pixel-shuffle", "maybe"],
     "unexpected argument 'maybe' after --pixel-shuffle"),
    # --- combinations
    ("combo-resume-overwrite", lambda d: [train, "--out", f"{d}/r", "--resume", "--overwrite"],
     "--resume and --overwrite exclude each other"),
    ("combo-existing-run", lambda d: [train, "--out", copy_run(f"{d}/run"), "--data-dir", FASHION_MNIST, *tiny],
     "--resume"),
    ("combo-resume-changed", lambda d: [train, "--out", copy_run(f"{d}/run"), "--data-dir", FASHION_MNIST, *tiny[:-2],
                                        "--threads", "1", "--lr", "0.5", "--resume"], "--lr"),
    ("combo-imagenet-dataset-norm", lambda d: [train, "--out", f"{d}/r", "--dataset", "imagenet", "--data-dir",
                                               packs_dir(f"{d}/p"), "--normalize", "dataset"], "--normalize dataset"),
    ("combo-eval-resize", lambda d: [train, "--out", f"{d}/r", "--dataset", "imagenet", "--data-dir", packs_dir(f"{d}/p"),
                                     "--image-size", "64", "--eval-resize", "60"], "--eval-resize"),
    ("combo-pack-val-classes", lambda d: [pack, os.path.join(tree, "val"), "--val-solution",
                                          os.path.join(tree, "LOC_val_solution.csv"), "--out", f"{d}/val.h5"],
     "--classes-from"),
    # --- environment
    ("env-slurm-ntasks", lambda d: [train, "--out", f"{d}/r", *tiny], "SLURM_NTASKS=3", {"SLURM_NTASKS": "3"}),
    ("env-threads-over-cpus", lambda d: ["taskset", "-c", "0", train, "--out", f"{d}/r", *tiny[:-2], "--threads", "2"],
     "--threads 2 asks for 2 compute threads, but this process may run on 1 CPU(s) (0)"),
    ("env-slurm-cpus-per-task", lambda d: ["taskset", "-c", "0", train, "--out", f"{d}/r", *tiny[:-2]],
     "SLURM_CPUS_PER_TASK=2 asks for 2 compute threads", {"SLURM_CPUS_PER_TASK": "2"}),
    ("env-no-gpu", lambda d: [train, "--out", f"{d}/r", "--device", "cuda", *tiny], "--device cuda"),
    ("env-data-dir-missing", lambda d: [train, "--out", f"{d}/r", "--data-dir", f"{d}/nowhere"], "nowhere"),
    ("env-grid-no-run", lambda d: [grid, f"{d}/no_run"], "no_run"),
    # --- IDX
    ("idx-truncated", lambda d: [train, "--out", f"{d}/r", "--data-dir", fashion_copy(
        f"{d}/fm", **{"train-labels-idx1-ubyte.gz": gzip.compress(real_labels()[:5000])})], "train-labels-idx1-ubyte.gz"),
    ("idx-magic", lambda d: [train, "--out", f"{d}/r", "--data-dir", fashion_copy(
        f"{d}/fm", **{"train-labels-idx1-ubyte.gz": gzip.compress(b"\x01\x02" + real_labels()[2:])})],
     "not an IDX file"),
    ("idx-gzip-corrupt", lambda d: [train, "--out", f"{d}/r", "--data-dir", fashion_copy(
        f"{d}/fm", **{"train-labels-idx1-ubyte.gz": (lambda z: z[:40] + bytes(64) + z[104:])(
            gzip.compress(real_labels()))})], "train-labels-idx1-ubyte.gz"),
    ("idx-huge-claim", lambda d: [train, "--out", f"{d}/r", "--data-dir", fashion_copy(
        f"{d}/fm", **{"train-labels-idx1-ubyte.gz": gzip.compress(b"\0\0\x08\x01\xff\xff\xff\xf0" + bytes(100))})],
     "more than a"),
    ("idx-label-count", lambda d: [train, "--out", f"{d}/r", "--data-dir", fashion_copy(
        f"{d}/fm", **{"train-labels-idx1-ubyte.gz": gzip.compress(
            real_labels()[:4] + struct.pack(">I", 59999) + real_labels()[8:-1])})], "train-labels-idx1-ubyte.gz"),
    # --- CIFAR
    ("cifar-size", lambda d: [train, "--out", f"{d}/r", "--dataset", "cifar10", "--data-dir",
                              cifar_dir(f"{d}/c", record_bytes=3000)], "data_batch_1.bin"),
    ("cifar-label", lambda d: [train, "--out", f"{d}/r", "--dataset", "cifar10", "--data-dir",
                               cifar_dir(f"{d}/c", label=12)], "label 12"),
    # --- image packs
    ("pack-not-hdf5", lambda d: (packs_dir(f"{d}/p"), open(f"{d}/p/train.h5", "wb").write(b"not hdf5" * 100),
                                 [train, "--out", f"{d}/r", "--dataset", "imagenet", "--data-dir", f"{d}/p"])[-1],
     "train.h5"),
    ("pack-version", lambda d: (packs_dir(f"{d}/p"), edit_h5(f"{d}/p/train.h5", lambda f: f.attrs.__setitem__("schema_version", 99)),
                                [train, "--out", f"{d}/r", "--dataset", "imagenet", "--data-dir", f"{d}/p"])[-1],
     "version 99"),
    ("pack-offset", lambda d: (packs_dir(f"{d}/p"), edit_h5(f"{d}/p/train.h5", lambda f: f["offsets"].__setitem__(0, 10**12)),
                               [train, "--out", f"{d}/r", "--dataset", "imagenet", "--data-dir", f"{d}/p"])[-1],
     "past the end"),
    ("pack-show-index", lambda d: [pack, "--show", good_pack, "--index", "999", "--transform", "eval", "--png",
                                   f"{d}/x.png"], "999"),
    ("pack-src-missing", lambda d: [pack, f"{d}/no_tree", "--out", f"{d}/t.h5"], "no_tree"),
    ("pack-empty-tree", lambda d: (os.makedirs(f"{d}/empty/cls"), [pack, f"{d}/empty", "--out", f"{d}/t.h5"])[1],
     "empty"),
    ("pack-bad-jpeg", lambda d: (shutil.copytree(os.path.join(tree, "train"), f"{d}/t"),
                                 [open(os.path.join(root, f), "r+b").truncate(300)
                                  for root, _, fs in os.walk(f"{d}/t") for f in sorted(fs)[:1]],
                                 [pack, f"{d}/t", "--out", f"{d}/t.h5"])[-1], "nothing was written"),
    ("pack-val-csv", lambda d: (open(f"{d}/sol.csv", "w").write("ImageId,PredictionString\nnot a row\n"),
                                [pack, os.path.join(tree, "val"), "--val-solution", f"{d}/sol.csv", "--classes-from",
                                 good_pack, "--out", f"{d}/v.h5"])[1], "sol.csv"),
    # --- run directories
    ("run-not-hdf5", lambda d: (copy_run(f"{d}/run"), open(f"{d}/run/run.h5", "wb").write(b"x" * 4096),
                                [stats, f"{d}/run"])[-1], "run.h5"),
    ("run-schema", lambda d: (copy_run(f"{d}/run"),
                              edit_h5(f"{d}/run/run.h5", lambda f: f.attrs.__setitem__("schema_version", 99)),
                              [grid, f"{d}/run"])[-1], "version 99"),
    ("run-epoch-truncated", lambda d: (copy_run(f"{d}/run"),
                                       open(f"{d}/run/seed_0/epoch_0001.h5", "r+b").truncate(2000),
                                       [grid, f"{d}/run"])[-1], "epoch_0001.h5"),
    ("run-epoch-missing", lambda d: (copy_run(f"{d}/run"), os.remove(f"{d}/run/seed_0/epoch_0001.h5"),
                                     [grid, f"{d}/run"])[-1], "epoch_0001.h5"),
    ("run-param-extents", lambda d: (copy_run(f"{d}/run"), edit_h5(f"{d}/run/seed_0/epoch_0001.h5", lambda f: (
        f.__delitem__("params/features.0.bias"), f.create_dataset("params/features.0.bias", shape=(2**40,),
                                                                  dtype="f4"))), [grid, f"{d}/run"])[-1],
     "features.0.bias"),
    ("run-epochs-attribute", lambda d: grid_on_run_with(d, "epochs", 2**40), "run.h5"),
    ("run-width-attribute", lambda d: grid_on_run_with(d, "width", 1e6), "attribute width"),
    # --- model files
    ("model-not-zip", lambda d: (open(f"{d}/m.pt", "wb").write(b"hello" * 10), [stats, f"{d}/m.pt"])[1], "m.pt"),
    ("model-zip-truncated", lambda d: (open(f"{d}/m.pt", "wb").write(state_dict_bytes(lenet_state())[:700]),
                                       [stats, f"{d}/m.pt"])[1], "m.pt"),
    ("model-whole-module", lambda d: (open(f"{d}/m.pt", "wb").write(state_dict_bytes(__import__("torch").nn.Linear(2, 2))),
                                      [stats, f"{d}/m.pt"])[1], "not part of a state_dict"),
    ("model-zip-record-claim", lambda d: (open(f"{d}/m.pt", "wb").write(claim_in_directory(state_dict_bytes(lenet_state()))),
                                         [stats, f"{d}/m.pt"])[1], "claims 2147483647 bytes"),
    ("model-zip-crc", lambda d: (open(f"{d}/m.pt", "wb").write(flip_in_record(state_dict_bytes(lenet_state()), "data/0")),
                                [stats, f"{d}/m.pt"])[1], "CRC-32"),
    ("model-legacy-truncated", lambda d: (open(f"{d}/m.pt", "wb").write(state_dict_bytes(lenet_state(), legacy=True)[:-100]),
                                          [stats, f"{d}/m.pt"])[1], "m.pt"),
    ("model-torchscript-code", lambda d: (open(f"{d}/m.pt", "wb").write(scripted_with(".py", break_code)),
                                          [stats, f"{d}/m.pt"])[1], "TorchScript"),
    ("model-torchscript-pickle", lambda d: (open(f"{d}/m.pt", "wb").write(scripted_with("/data.pkl", claim_2GiB)),
                                            [stats, f"{d}/m.pt"])[1], "data.pkl"),
]


def claim_in_directory(archive):
    """The central directory entry of the first storage (data/0) claims 2 GiB uncompressed."""
    at = archive.index(b"data/0", archive.index(b"PK\x01\x02")) - 46
    while archive[at:at + 4] != b"PK\x01\x02":  # the name follows a prefix folder
        at -= 1
    return archive[:at + 24] + (2**31 - 1).to_bytes(4, "little") + archive[at + 28:]


def flip_in_record(archive, suffix):
    """One bit of the first byte of the record whose name ends in `suffix` flipped; its CRC-32 kept."""
    item = next(i for i in zipfile.ZipFile(io.BytesIO(archive)).infolist() if i.filename.endswith(suffix))
    at = item.header_offset
    start = at + 30 + int.from_bytes(archive[at + 26:at + 28], "little") + int.from_bytes(archive[at + 28:at + 30], "little")
    return archive[:start] + bytes([archive[start] ^ 1]) + archive[start + 1:]


def break_code(source):
    return source.replace(b"def forward(", b"def forward((", 1)


def claim_2GiB(pickle):
    """The first string (BINUNICODE: 'X', 4-byte little-endian length) claims 2 GiB."""
    at = pickle.index(b"X")
    return pickle[:at + 1] + (2**31 - 1).to_bytes(4, "little") + pickle[at + 5:]


def scripted_with(suffix, edit):
    """A TorchScript archive of a Linear layer (torch.jit.save) with `edit` applied to the records
    whose names end in `suffix`."""
    import torch
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), buffer)
    source, out = zipfile.ZipFile(io.BytesIO(buffer.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, edit(data) if item.filename.endswith(suffix) else data)
    return out.getvalue()


doc_text = open(docs).read()
ids = [case[0] for case in CASES]
checks.check(len(set(ids)) == len(ids), "case ids repeat")
checks.check(len(CASES) >= 40, f"only {len(CASES)} cases, the catalogue needs at least 40")
for case in CASES:
    case_id, command, needle = case[:3]
    env = dict(os.environ, **(case[3] if len(case) > 3 else {}))
    d = os.path.join(work, case_id)
    os.makedirs(d)
    args = command(d)
    before = (tree_digest(d), tree_digest(shared))
    result = run(args, env=env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    message = lines[0] if lines else ""
    if show:
        print(f"{case_id}\t{message}")
    checks.check(result.returncode != 0, f"{case_id}: exit 0, expected an error")
    checks.check(len(lines) == 1, f"{case_id}: expected one line on stderr, got {len(lines)}: {lines[:4]}")
    checks.check(needle in message, f"{case_id}: {message!r} does not contain {needle!r}")
    checks.check((tree_digest(d), tree_digest(shared)) == before, f"{case_id}: files changed")
    row = next((line for line in doc_text.splitlines() if f"`{case_id}`" in line), None)
    checks.check(row is not None, f"{case_id}: not in {docs}")
    checks.check(row is None or needle.replace("|", "\\|") in row, f"{case_id}: its row in {docs} lacks {needle!r}")
    # The row shows the message itself: folders as DIR, long numbers (storage keys that torch.save
    # draws at random, sizes) as N.
    shown = message.replace(d, "DIR").replace(os.path.join(work, "shared"), "DIR").replace("|", "\\|")
    shown = shown.replace(f" on {socket.gethostname()}:", " on HOST:")  # a rank's label names its host
    documented = row.split(" | ")[-1].strip(" |`") if row else ""
    checks.check(re.sub(r"\d{6,}", "N", documented) == re.sub(r"\d{6,}", "N", shown),
                 f"{case_id}: {docs} shows {documented!r}, the program prints {shown!r}")
print(f"{len(CASES)} error cases")
checks.finish()
