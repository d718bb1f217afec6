"""Makes an ImageNet-format tree from the real photographs of Debian's mate-backgrounds package
(nothing is downloaded): OUT/train/<synset>/<synset>_<k>.JPEG, the flat OUT/val/ILSVRC2012_val_<k>.JPEG
and OUT/LOC_val_solution.csv, as the Kaggle ImageNet download lays them out.

Each class draws random crops from its own photograph (so classes can be learned), re-encoded at
ImageNet-typical sizes (longer side 300..500) and JPEG qualities (75..95). With --quirks the tree also
holds every oddity of real ImageNet: CMYK JPEGs (Adobe-inverted, as Photoshop writes them),
grayscale JPEGs, a PNG file named .JPEG, progressive JPEGs, 4:4:4 chroma, images smaller than the
224 crop, very elongated images, a nested folder, and non-image files (.DS_Store, Thumbs.db, a text
file) that packing must skip and count.

usage: make_tree.py OUT [--classes 6] [--train-per-class 12] [--val-per-class 4] [--quirks]
                        [--min-side 300 --max-side 500] [--quality 75 95] [--seed 0]
prints a JSON summary (classes, counts, the quirk files) on stdout.
"""
import argparse
import glob
import io
import json
import os
import random
import sys

from PIL import Image

PHOTOS = "/usr/share/backgrounds/mate/nature"


def photographs():
    paths = sorted(glob.glob(os.path.join(PHOTOS, "*.jpg")))
    if not paths:
        sys.exit(f"make_tree.py: no photographs in {PHOTOS} (install mate-backgrounds: env/debian.sh does)")
    return paths


def random_view(photo, rng, min_side, max_side, shape=None):
    """A random crop of `photo`, resized so its longer side is in [min_side, max_side] (or `shape`)."""
    w, h = photo.size
    cw = rng.randint(w // 4, w)
    ch = min(h, max(h // 4, int(cw * rng.uniform(0.6, 1.4) * h / w)))
    left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
    crop = photo.crop((left, top, left + cw, top + ch))
    if shape is None:
        longer = rng.randint(min_side, max_side)
        scale = longer / max(cw, ch)
        shape = (max(1, round(cw * scale)), max(1, round(ch * scale)))
    return crop.resize(shape, Image.BILINEAR)


QUALITY = [75, 95]


def save_jpeg(image, path, rng, **extra):
    options = {"quality": rng.randint(*QUALITY)}
    options.update(extra)
    image.save(path, "JPEG", **options)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--train-per-class", type=int, default=12)
    parser.add_argument("--val-per-class", type=int, default=4)
    parser.add_argument("--quirks", action="store_true")
    parser.add_argument("--min-side", type=int, default=300)
    parser.add_argument("--max-side", type=int, default=500)
    parser.add_argument("--quality", type=int, nargs=2, default=list(QUALITY), metavar=("LOW", "HIGH"),
                        help="JPEG qualities drawn uniformly (ImageNet's Flickr files are mostly 90..96)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    QUALITY[:] = args.quality
    rng = random.Random(args.seed)
    paths = photographs()
    if args.classes > len(paths):
        sys.exit(f"make_tree.py: only {len(paths)} photographs for {args.classes} classes")
    synsets = [f"n{1440764 + 1000 * k:08d}" for k in range(args.classes)]
    train_dir, val_dir = os.path.join(args.out, "train"), os.path.join(args.out, "val")
    os.makedirs(val_dir, exist_ok=True)
    quirks = {}
    solution = ["ImageId,PredictionString"]
    val_index = 0
    for c, synset in enumerate(synsets):
        photo = Image.open(paths[c])
        photo.draft("RGB", (photo.size[0] // 2, photo.size[1] // 2))  # decoded at half size: faster
        photo = photo.convert("RGB")
        class_dir = os.path.join(train_dir, synset)
        os.makedirs(class_dir, exist_ok=True)
        for k in range(args.train_per_class):
            save_jpeg(random_view(photo, rng, args.min_side, args.max_side),
                      os.path.join(class_dir, f"{synset}_{k}.JPEG"), rng)
        for k in range(args.val_per_class):
            val_index += 1
            image_id = f"ILSVRC2012_val_{val_index:08d}"
            save_jpeg(random_view(photo, rng, args.min_side, args.max_side), os.path.join(val_dir, image_id + ".JPEG"), rng)
            # Kaggle's format: every box of the image, the first synset is the label.
            solution.append(f"{image_id},{synset} 10 20 200 180 {synset} 5 5 50 60 ")
    if args.quirks:
        photo = Image.open(paths[0]).convert("RGB")
        a, b = os.path.join(train_dir, synsets[0]), os.path.join(train_dir, synsets[1])
        view = lambda **kw: random_view(photo, rng, args.min_side, args.max_side, **kw)
        cases = {
            "cmyk": (a, "quirk_cmyk.JPEG", lambda p: save_jpeg(view().convert("CMYK"), p, rng)),
            "cmyk_progressive": (b, "quirk_cmyk_progressive.JPEG",
                                 lambda p: save_jpeg(view().convert("CMYK"), p, rng, progressive=True)),
            "grayscale": (a, "quirk_gray.JPEG", lambda p: save_jpeg(view().convert("L"), p, rng)),
            "png_named_jpeg": (b, "quirk_png.JPEG", lambda p: view().save(p, "PNG")),
            "png_rgba": (a, "quirk_rgba.png", lambda p: view().convert("RGBA").save(p, "PNG")),
            "progressive": (a, "quirk_progressive.JPEG", lambda p: save_jpeg(view(), p, rng, progressive=True)),
            "chroma_444": (b, "quirk_444.jpg", lambda p: save_jpeg(view(), p, rng, subsampling=0)),
            "smaller_than_crop": (a, "quirk_small.JPEG", lambda p: save_jpeg(view(shape=(97, 61)), p, rng)),
            "tiny": (b, "quirk_tiny.JPEG", lambda p: save_jpeg(view(shape=(9, 13)), p, rng)),
            "elongated_wide": (a, "quirk_wide.JPEG", lambda p: save_jpeg(view(shape=(1500, 41)), p, rng)),
            "elongated_tall": (b, "quirk_tall.JPEG", lambda p: save_jpeg(view(shape=(33, 900)), p, rng)),
            "large": (a, "quirk_large.JPEG", lambda p: save_jpeg(view(shape=(1400, 1050)), p, rng)),
            "huge": (b, "quirk_huge.JPEG", lambda p: save_jpeg(view(shape=(2400, 1800)), p, rng)),
            "nested": (os.path.join(b, "sub"), "quirk_nested.JPEG", lambda p: save_jpeg(view(), p, rng)),
        }
        for name, (folder, file_name, write) in cases.items():
            os.makedirs(folder, exist_ok=True)
            write(os.path.join(folder, file_name))
            quirks[name] = os.path.relpath(os.path.join(folder, file_name), train_dir)
        for junk in (".DS_Store", "Thumbs.db", "README.txt"):
            with open(os.path.join(a, junk), "wb") as f:
                f.write(b"not an image\n")
        with open(os.path.join(train_dir, "LICENSE.txt"), "w") as f:  # beside the class folders
            f.write("photographs from Debian's mate-backgrounds\n")
        with open(os.path.join(val_dir, ".DS_Store"), "wb") as f:
            f.write(b"junk")
    with open(os.path.join(args.out, "LOC_val_solution.csv"), "w") as f:
        f.write("\n".join(solution) + "\n")
    json.dump({"classes": synsets, "train_per_class": args.train_per_class, "val_images": val_index,
               "quirks": quirks, "ignored_files": 4 if args.quirks else 0}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
