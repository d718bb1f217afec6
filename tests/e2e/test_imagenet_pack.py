"""hpa-pack on an ImageNet-format tree made from real photographs (tests/imagenet/make_tree.py), checked
with independent tools: h5py reads the pack, torchvision's ImageFolder gives the expected classes,
order and labels, the files' own bytes and PIL's sizes are compared, and hpa's transforms are compared
with torchvision's on PIL images:
  eval (Resize 256 + CenterCrop 224): identical pixels with --dct-scaling false, every quirk
    included (CMYK, grey, PNG named .JPEG, RGBA PNG, progressive, tiny, elongated); with DCT
    scaling (default) at most 6 levels apart and 0.5 on average on the images it applies to;
  train (RandomResizedCrop + flip): torchvision's resized_crop and hflip with the crop hpa reports
    give identical pixels where the decode was full size, at most 6 levels apart where DCT-scaled.
Then every refusal: bad images (truncated, empty, undecodable) without and with --skip-bad, an
existing output, malformed LOC_val_solution.csv rows, class folders foreign to --classes-from, and
damaged packs (newer format version, offsets past the end of the data), each one line naming the
file or option, nothing written or changed.

usage: test_imagenet_pack.py BUILD_DIR/src FIXTURE_DIR WORK_DIR
"""
import json
import os
import re
import shutil
import sys

import h5py
import numpy as np
from PIL import Image
import torchvision.transforms as T
import torchvision.transforms.functional as F
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import pil_loader

from hpa_test_util import Checks, expect_one_line_error, run, tree_digest

bin_dir, fixture, work = map(os.path.abspath, sys.argv[1:4])
pack_exe = os.path.join(bin_dir, "hpa-pack")
tree, packs = os.path.join(fixture, "tree"), os.path.join(fixture, "packs")
train_dir, val_dir = os.path.join(tree, "train"), os.path.join(tree, "val")
train_pack, val_pack = os.path.join(packs, "train.h5"), os.path.join(packs, "val.h5")
summary = json.load(open(os.path.join(fixture, "tree.json")))
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
checks = Checks()

# --- the pack against ImageFolder, the files and PIL -------------------------------------------
reference = ImageFolder(train_dir)
with h5py.File(train_pack, "r") as f:
    classes = [c.decode() for c in f["classes"][()]]
    paths = [p.decode() for p in f["paths"][()]]
    labels, offsets, lengths = f["labels"][()], f["offsets"][()], f["lengths"][()]
    checks.check(f.attrs["schema_version"] == 1, "pack format version is not 1")
    checks.check(classes == reference.classes, f"classes {classes} != ImageFolder's {reference.classes}")
    expected = [(os.path.relpath(p, train_dir), t) for p, t in reference.samples]
    checks.check([(p, int(l)) for p, l in zip(paths, labels)] == expected,
                 "paths and labels differ from torchvision ImageFolder's samples (order or labels)")
    checks.check(f.attrs["num_ignored_files"] == summary["ignored_files"],
                 f"{f.attrs['num_ignored_files']} non-image files counted, expected {summary['ignored_files']}")
    checks.check(f.attrs["num_skipped"] == 0 and f["skipped/paths"].shape == (0,), "files skipped in a clean tree")
    checks.check(np.all(offsets[1:] == offsets[:-1] + lengths[:-1]) and offsets[0] == 0, "bytes not back to back")
    data = f["data"]
    checks.check(data.shape[0] == offsets[-1] + lengths[-1], "data holds more or fewer bytes than the samples")
    for i, path in enumerate(paths):
        raw = open(os.path.join(train_dir, path), "rb").read()
        checks.check(data[offsets[i]:offsets[i] + lengths[i]].tobytes() == raw, f"{path}: packed bytes differ from the file")
        image = Image.open(os.path.join(train_dir, path))
        checks.check((f["widths"][i], f["heights"][i]) == image.size, f"{path}: size {image.size} not stored")
        checks.check(f["formats"][i] == (2 if image.format == "PNG" else 1), f"{path}: format {image.format}")
    quirk = {name: paths.index(p) for name, p in summary["quirks"].items()}
    checks.check(f["components"][quirk["cmyk"]] == 4 and f["components"][quirk["grayscale"]] == 1,
                 "CMYK and grey images not recorded as 4 and 1 components")
    checks.check(f["formats"][quirk["png_named_jpeg"]] == 2, "the PNG named .JPEG is not recorded as PNG")
h5dump = run(["h5dump", "-H", train_pack])
checks.check(h5dump.returncode == 0 and "offsets" in h5dump.stdout, "h5dump -H cannot read the pack")

with h5py.File(val_pack, "r") as f:
    checks.check([c.decode() for c in f["classes"][()]] == classes, "val pack classes differ from the train pack's")
    synset = {}
    for line in open(os.path.join(tree, "LOC_val_solution.csv")).read().splitlines()[1:]:
        image_id, prediction = line.split(",")
        synset[image_id] = prediction.split()[0]
    got = {os.path.splitext(p.decode())[0]: classes[l] for p, l in zip(f["paths"][()], f["labels"][()])}
    checks.check(got == synset, "val labels are not the first synset of each LOC_val_solution.csv row")

# Packing again with 1 thread gives the same pack (order does not depend on the thread count).
again = os.path.join(work, "train_1thread.h5")
r = run([pack_exe, train_dir, "--out", again, "--threads", "1"])
checks.check(r.returncode == 0, r.stderr)
with h5py.File(again, "r") as a, h5py.File(train_pack, "r") as b:
    for key in ["data", "offsets", "lengths", "labels", "paths", "classes"]:
        checks.check(np.array_equal(a[key][()], b[key][()]), f"1 vs all threads: '{key}' differs")
checks.check(re.search(r"files/s, .* MB/s", r.stdout) is not None or "MB/s read" in r.stdout, "no throughput line")


# --- transforms against torchvision on PIL images ----------------------------------------------
def show(pack, count, transform, dct="true", epoch=1):
    """Every sample of `pack` through hpa-pack --show; returns [(pixels, description line)]."""
    pattern = os.path.join(work, f"show_{transform}_{dct}_{epoch}_{{index}}.png")
    r = run([pack_exe, "--show", pack, "--index", f"0-{count - 1}", "--transform", transform, "--dct-scaling", dct,
             "--seed", "3", "--epoch", epoch, "--png", pattern])
    checks.check(r.returncode == 0, f"--show failed: {r.stderr}")
    lines = r.stdout.splitlines()
    return [(np.asarray(Image.open(pattern.replace("{index}", str(i)))).astype(int), lines[i]) for i in range(count)]


evaluate = T.Compose([T.Resize(256), T.CenterCrop(224)])
for pack, root in [(train_pack, train_dir), (val_pack, val_dir)]:
    with h5py.File(pack, "r") as f:
        pack_paths = [p.decode() for p in f["paths"][()]]
    expected = [np.asarray(evaluate(pil_loader(os.path.join(root, p)))).astype(int) for p in pack_paths]
    exact = show(pack, len(pack_paths), "eval", "false")
    worst = max(np.abs(mine - ref).max() for (mine, _), ref in zip(exact, expected))
    print(f"{os.path.basename(pack)} eval, full-size decode: largest difference to torchvision {worst}")
    checks.check(worst == 0, f"{pack}: eval transform differs from torchvision+PIL by up to {worst}")
    scaled = show(pack, len(pack_paths), "eval", "true")
    for (mine, line), ref, path in zip(scaled, expected, pack_paths):
        d = np.abs(mine - ref)
        if "decoded at 1/1" in line:
            checks.check(d.max() == 0, f"{path}: full-size eval differs with DCT scaling on")
        else:
            print(f"{path}: eval DCT-scaled ({line.split('decoded at ')[1].split(';')[0]}): max {d.max()}, mean {d.mean():.3f}")
            checks.check(d.max() <= 6 and d.mean() <= 0.5, f"{path}: DCT-scaled eval max {d.max()} mean {d.mean():.3f}")
checks.check(any("decoded at 1/1" not in line for _, line in show(train_pack, len(paths), "eval", "true")),
             "no image of the tree exercised DCT-scaled decoding")

full_size, scaled_count = 0, 0
for epoch in (1, 2):
    for i, (mine, line) in enumerate(show(train_pack, len(paths), "train", "true", epoch)):
        m = re.search(r"crop top (\d+) left (\d+) height (\d+) width (\d+).*flip (yes|no), decoded at 1/(\d)", line)
        top, left, height, width = map(int, m.groups()[:4])
        ref = F.resized_crop(pil_loader(os.path.join(train_dir, paths[i])), top, left, height, width, [224, 224])
        ref = np.asarray(F.hflip(ref) if m.group(5) == "yes" else ref).astype(int)
        d = np.abs(mine - ref)
        if m.group(6) == "1":
            full_size += 1
            checks.check(d.max() == 0, f"{paths[i]} epoch {epoch}: train crop differs from torchvision by {d.max()}")
        else:
            scaled_count += 1
            checks.check(d.max() <= 6, f"{paths[i]} epoch {epoch}: DCT-scaled train crop differs by {d.max()}")
print(f"train crops: {full_size} full-size decodes identical to torchvision, {scaled_count} DCT-scaled")

# --- refusals ----------------------------------------------------------------------------------
bad_tree = os.path.join(work, "bad")
shutil.copytree(train_dir, bad_tree)
first_class = os.path.join(bad_tree, classes[0])
good = open(os.path.join(first_class, f"{classes[0]}_0.JPEG"), "rb").read()
bad_files = {"truncated.JPEG": good[: len(good) // 2], "empty.JPEG": b"", "garbage.JPEG": os.urandom(3000)}
out = os.path.join(work, "bad.h5")
for name, content in bad_files.items():
    with open(os.path.join(first_class, name), "wb") as f:
        f.write(content)
    expect_one_line_error(checks, [pack_exe, bad_tree, "--out", out], name)
    checks.check(not os.path.exists(out) and not os.path.exists(out + ".tmp"), f"{name}: a pack or temporary was left")
    os.remove(os.path.join(first_class, name))
for name, content in bad_files.items():
    with open(os.path.join(first_class, name), "wb") as f:
        f.write(content)
r = run([pack_exe, bad_tree, "--out", out, "--skip-bad"])
checks.check(r.returncode == 0, f"--skip-bad failed: {r.stderr}")
checks.check("3 bad file(s) skipped" in r.stdout, f"summary does not count 3 skipped files: {r.stdout}")
with h5py.File(out, "r") as f:
    skipped = sorted(os.path.basename(p.decode()) for p in f["skipped/paths"][()])
    checks.check(skipped == sorted(bad_files), f"skipped/paths {skipped}")
    checks.check(f.attrs["num_images"] == len(paths), "a bad file was packed")

digest = tree_digest(packs)
expect_one_line_error(checks, [pack_exe, train_dir, "--out", train_pack], "--overwrite")
r = run([pack_exe, train_dir, "--out", out, "--overwrite"])
checks.check(r.returncode == 0, f"--overwrite failed: {r.stderr}")
# A failing pack with --overwrite leaves the old file as it was.
before = tree_digest(os.path.dirname(out))
expect_one_line_error(checks, [pack_exe, bad_tree, "--out", out, "--overwrite"], "empty.JPEG")
checks.check(tree_digest(os.path.dirname(out)) == before, "a failed --overwrite changed the existing pack")

csv = os.path.join(work, "solution.csv")
val = lambda: [pack_exe, val_dir, "--val-solution", csv, "--classes-from", train_pack, "--out", os.path.join(work, "v.h5")]
rows = open(os.path.join(tree, "LOC_val_solution.csv")).read().splitlines()
for name, lines, needle in [
    ("no comma", rows[:2] + ["ILSVRC2012_val_00000002 n01440764 1 2 3 4"] + rows[3:], "solution.csv:3"),
    ("unknown synset", rows[:2] + [rows[2].split(",")[0] + ",n99999999 1 2 3 4"] + rows[3:], "n99999999"),
    ("empty prediction", rows[:2] + [rows[2].split(",")[0] + ","] + rows[3:], "empty PredictionString"),
    ("duplicate", rows + [rows[1]], "listed twice"),
    ("missing row", rows[:1] + rows[2:], "has no row"),
    ("row without file", rows + ["ILSVRC2012_val_09999999,n01440764 1 2 3 4"], "ILSVRC2012_val_09999999"),
]:
    with open(csv, "w") as f:
        f.write("\n".join(lines) + "\n")
    expect_one_line_error(checks, val(), needle)
expect_one_line_error(checks, [pack_exe, val_dir, "--val-solution", csv, "--out", os.path.join(work, "v.h5")],
                      "--classes-from")
foreign = os.path.join(work, "foreign")
shutil.copytree(os.path.join(train_dir, classes[0]), os.path.join(foreign, "n77777777"))
expect_one_line_error(checks, [pack_exe, foreign, "--classes-from", train_pack, "--out", os.path.join(work, "f.h5")],
                      "n77777777")
checks.check(not os.path.exists(os.path.join(work, "v.h5")), "a refused val pack was written")

# --max-side re-encodes large images, keeps the rest byte for byte.
small = os.path.join(work, "small.h5")
r = run([pack_exe, train_dir, "--out", small, "--max-side", "400", "--quality", "88"])
checks.check(r.returncode == 0, r.stderr)
with h5py.File(small, "r") as f, h5py.File(train_pack, "r") as g:
    checks.check(f.attrs["max_side"] == 400 and f.attrs["reencode_quality"] == 88, "re-encoding not stated")
    checks.check(max(f["widths"][()].max(), f["heights"][()].max()) <= 400, "an image is still larger than 400")
    checks.check(f["data"].shape[0] < g["data"].shape[0], "re-encoding did not shrink the pack")
    i = quirk["large"]
    image = Image.open(__import__("io").BytesIO(f["data"][f["offsets"][i]:f["offsets"][i] + f["lengths"][i]].tobytes()))
    checks.check(image.size == (400, 300), f"large image re-encoded to {image.size}, expected 400x300")

# Damaged packs are refused by every reader (here --show; hpa-train uses the same reader).
newer = os.path.join(work, "newer.h5")
shutil.copy(train_pack, newer)
with h5py.File(newer, "r+") as f:
    f.attrs["schema_version"] = 99
expect_one_line_error(checks, [pack_exe, "--show", newer, "--index", "0", "--png", os.path.join(work, "x.png")],
                      "version 99")
past = os.path.join(work, "past.h5")
shutil.copy(train_pack, past)
with h5py.File(past, "r+") as f:
    f["offsets"][5] = f["data"].shape[0] - 10
expect_one_line_error(checks, [pack_exe, "--show", past, "--index", "0", "--png", os.path.join(work, "x.png")],
                      "past the end of the data")
expect_one_line_error(checks, [pack_exe, "--show", train_pack, "--index", str(len(paths)), "--png",
                               os.path.join(work, "x.png")], "out of range")
checks.check(not os.path.exists(os.path.join(work, "x.png")), "a refused --show wrote its PNG")
checks.check(tree_digest(packs) == digest, "the fixture packs were changed")
checks.finish()
