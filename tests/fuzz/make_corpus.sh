#!/usr/bin/env bash
# Seed corpora for the fuzz targets, made from real files: hpa's own outputs of a tiny real run
# (run.h5, an epoch file, a checkpoint, reinit.h5, an image pack of real photographs), PyTorch's
# torch.save (zip and legacy) and torch.jit.save files, slices of the real Fashion-MNIST IDX files,
# CIFAR-format records of real images, and JPEG/PNG encodings (every colour mode hpa reads) of
# Debian's mate-backgrounds photographs. Nothing is downloaded.
# usage: make_corpus.sh BUILD_DIR/src OUT      -> OUT/<target>/*
set -euo pipefail
bin=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out" && mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export ASAN_OPTIONS=detect_leaks=0  # the corpus is the point here; tests/sanitizers checks leaks

# hpa's own files: a tiny LeNet run (width 1/8 keeps the files small), its grid, a pack.
"$bin/hpa-train" --out "$work/run" --width 0.125 --train-subset 256 --val-fraction 0 --test-subset 100 \
  --epochs 1 --batch-size 64 --threads 1 --seeds 0 > "$work/train.log"
"$bin/hpa-reinit-grid" "$work/run" --rerandomize 1 --threads 1 > "$work/grid.log"
/usr/bin/python3 "$here/../imagenet/make_tree.py" "$work/tree" --quirks --classes 2 --train-per-class 2 \
  --val-per-class 1 --min-side 24 --max-side 48 > /dev/null
"$bin/hpa-pack" "$work/tree/train" --out "$work/pack.h5" --max-side 32 --progress-seconds 1000 > /dev/null

/usr/bin/python3 - "$out" "$work" <<'PY'
import glob, gzip, io, os, sys, zipfile
import numpy as np
import torch
from PIL import Image

out, work = sys.argv[1], sys.argv[2]
def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)

# run-directory files; the first byte picks the reader (0 run.h5, 1 epoch, 2 checkpoint, 3 reinit)
run = os.path.join(work, "run")
for selector, path in enumerate([f"{run}/run.h5", f"{run}/seed_0/epoch_0001.h5", f"{run}/seed_0/checkpoint.h5",
                                 f"{run}/reinit.h5"]):
    put("run_files", os.path.basename(path), bytes([selector]) + open(path, "rb").read())
put("image_pack", "pack.h5", open(os.path.join(work, "pack.h5"), "rb").read())

# PyTorch model files: a small ConvNet's state_dict (zip and legacy), TorchScript, a whole module.
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8, 3))
net(torch.zeros(1, 1, 4, 4))
def saved(obj, **kw):
    buffer = io.BytesIO(); torch.save(obj, buffer, **kw); return buffer.getvalue()
put("model_file", "state_dict.pt", saved(net.state_dict()))
put("model_file", "state_dict_legacy.pt", saved(net.state_dict(), _use_new_zipfile_serialization=False))
put("model_file", "state_dict_half.pt", saved({k: v.half() for k, v in net.state_dict().items()}))
put("model_file", "module.pt", saved(net))
buffer = io.BytesIO(); torch.jit.save(torch.jit.script(net), buffer); put("model_file", "scripted.pt", buffer.getvalue())
with zipfile.ZipFile(io.BytesIO(saved(net.state_dict()))) as z:
    for name in z.namelist():
        if name.endswith("data.pkl"):
            put("pickle", "state_dict.pkl", z.read(name))
import pickle
put("pickle", "plain.pkl", pickle.dumps({"a": [1, 2.5, "x", b"y", None, True], "b": (1, 2)}, protocol=2))
put("pickle", "plain4.pkl", pickle.dumps({"k": list(range(300)), "s": "text" * 10}, protocol=4))

# IDX: the first images and labels of the real Fashion-MNIST files, raw and gzip.
fm = "/usr/share/datasets/fashion-mnist"
images = gzip.open(glob.glob(f"{fm}/train-images-idx3-ubyte*")[0]).read()
labels = gzip.open(glob.glob(f"{fm}/train-labels-idx1-ubyte*")[0]).read()
small_images = images[:4] + (3).to_bytes(4, "big") + images[8:16] + images[16:16 + 3 * 784]
small_labels = labels[:4] + (3).to_bytes(4, "big") + labels[8:11]
put("idx", "images-idx3-ubyte", small_images)
put("idx", "labels-idx1-ubyte", small_labels)
put("idx", "images-idx3-ubyte.gz", gzip.compress(small_images))
put("idx", "labels-idx1-ubyte.gz", gzip.compress(small_labels))

# CIFAR records (label byte(s) + 3x32x32 planes) of real Fashion-MNIST images.
pixels = np.frombuffer(images, np.uint8, offset=16)[:2 * 784].reshape(2, 28, 28)
planes = np.zeros((2, 3, 32, 32), np.uint8); planes[:, :, 2:30, 2:30] = pixels[:, None]
put("cifar", "cifar10.bin", b"".join(bytes([l]) + p.tobytes() for l, p in zip(labels[8:10], planes)))
put("cifar", "cifar100.bin", b"".join(bytes([1, 70 + l]) + p.tobytes() for l, p in zip(labels[8:10], planes)))

# JPEG and PNG of real photographs in every mode hpa reads, plus 4 bytes the target uses to pick
# the DCT scale and the region.
photo = Image.open(sorted(glob.glob("/usr/share/backgrounds/mate/nature/*.jpg"))[0]).convert("RGB")
small = photo.resize((40, 27))
def encoded(image, fmt, **kw):
    buffer = io.BytesIO(); image.save(buffer, fmt, **kw); return buffer.getvalue()
tail = bytes([1, 3, 2, 0x57])
put("image", "rgb.jpg", encoded(small, "JPEG", quality=90) + tail)
put("image", "progressive.jpg", encoded(small, "JPEG", quality=80, progressive=True) + tail)
put("image", "gray.jpg", encoded(small.convert("L"), "JPEG") + tail)
put("image", "cmyk.jpg", encoded(small.convert("CMYK"), "JPEG") + tail)
put("image", "444.jpg", encoded(small, "JPEG", subsampling=0) + tail)
put("image", "rgb.png", encoded(small, "PNG") + tail)
put("image", "rgba.png", encoded(small.convert("RGBA"), "PNG") + tail)
put("image", "gray.png", encoded(small.convert("L"), "PNG") + tail)
put("image", "palette.png", encoded(small.convert("P"), "PNG") + tail)
put("image", "interlaced.png", encoded(small, "PNG", interlace=1) + tail)
PY
for d in "$out"/*; do echo "$(basename "$d"): $(ls "$d" | wc -l) seeds, $(du -sb "$d" | cut -f1) bytes"; done
