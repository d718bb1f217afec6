"""Every PNG colour type and bit depth an ImageFolder tree can hold, decoded as PIL does
(`PIL.Image.open(f).convert("RGB")`, what torchvision's loader calls) and checked pixel for pixel:
palette with and without transparency (one transparent index, and a full alpha table), palette at
1, 2 and 4 bits, grey at 1, 2, 4, 8 and 16 bits (16-bit grey is PIL mode "I": convert("RGB") clips at
255, it does not take the high byte), grey with a tRNS colour, grey+alpha at 8 and 16 bits, RGB and
RGBA at 8 and 16 bits (PIL takes the high byte), RGB with a tRNS colour, and an interlaced 16-bit
grey and palette image. Every image is made here from a real photograph of Debian's
mate-backgrounds, written by PIL where PIL writes that type and by the small encoder below where it
does not (16-bit colour, grey+alpha at 16 bits, 2- and 4-bit grey, tRNS colours, Adam7 interlacing).

hpa-pack packs them; `hpa-pack --show --transform eval --dct-scaling false` gives what the network
sees, compared with torchvision's Resize(256) + CenterCrop(224) of PIL's RGB image. The images'
shorter side is 256, so the resize is the identity and the check is of the decoded pixels themselves.

usage: test_png_modes.py BUILD_DIR/src WORK_DIR
"""
import os
import shutil
import struct
import sys
import zlib

import numpy as np
from PIL import Image
import torchvision.transforms as T

from hpa_test_util import Checks, run

bin_dir, work = map(os.path.abspath, sys.argv[1:3])
pack_exe = os.path.join(bin_dir, "hpa-pack")
PHOTO = "/usr/share/backgrounds/mate/nature/Aqua.jpg"
shutil.rmtree(work, ignore_errors=True)
folder = os.path.join(work, "tree", "n00000001")
os.makedirs(folder)
checks = Checks()

photo = Image.open(PHOTO).convert("RGB").resize((300, 256), Image.BILINEAR)  # a real photograph, 256 high
rgb8 = np.asarray(photo).astype(np.uint16)
grey8 = np.asarray(photo.convert("L")).astype(np.uint16)
rng = np.random.default_rng(0)


# --- a minimal PNG encoder for what PIL does not write -----------------------------------------------
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_rows(samples, bit_depth):
    """samples: [h, w, channels] integers -> the PNG's filtered scanlines (filter 0)."""
    h, w, c = samples.shape
    rows = []
    for y in range(h):
        if bit_depth == 16:
            row = samples[y].astype(">u2").tobytes()
        elif bit_depth == 8:
            row = samples[y].astype(np.uint8).tobytes()
        else:  # 1, 2, 4 bits, one channel: packed from the most significant bit
            values = samples[y, :, 0].astype(np.uint8)
            per_byte = 8 // bit_depth
            padded = np.zeros(((w + per_byte - 1) // per_byte) * per_byte, np.uint8)
            padded[:w] = values
            groups = padded.reshape(-1, per_byte)
            row = bytes(int(sum(int(v) << (8 - bit_depth * (k + 1)) for k, v in enumerate(g))) for g in groups)
        rows.append(b"\0" + row)
    return b"".join(rows)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, samples, color_type, bit_depth, palette=None, trns=None, interlace=False):
    h, w, _ = samples.shape
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    if interlace:
        data = b"".join(pack_rows(samples[y0::dy, x0::dx], bit_depth)
                        for x0, y0, dx, dy in ADAM7 if samples[y0::dy, x0::dx].size)
    else:
        data = pack_rows(samples, bit_depth)
    body = chunk(b"IHDR", ihdr)
    if palette is not None:
        body += chunk(b"PLTE", bytes(palette))
    if trns is not None:
        body += chunk(b"tRNS", trns)
    body += chunk(b"IDAT", zlib.compress(data, 6)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + body)


# --- the images ------------------------------------------------------------------------------------
quantized = photo.quantize(colors=200, method=Image.Quantize.MEDIANCUT)
palette = quantized.getpalette()[:600]
indices = np.asarray(quantized).astype(np.uint16)[..., None]
grey16 = (grey8 * 3 + rng.integers(0, 3, grey8.shape)).astype(np.uint16)  # about a third of it at or below 255
alpha8 = rng.integers(0, 256, grey8.shape).astype(np.uint16)
cases = {
    "palette": lambda p: quantized.save(p),
    "palette_transparent_index": lambda p: quantized.save(p, transparency=3),
    "palette_alpha_table": lambda p: write_png(p, indices, 3, 8, palette, bytes(range(0, 200))),
    "palette_1bit": lambda p: photo.convert("1").convert("P").save(p, bits=1),
    "palette_4bit": lambda p: photo.quantize(colors=16).save(p, bits=4),
    "palette_interlaced": lambda p: write_png(p, indices, 3, 8, palette, bytes([0, 128]), interlace=True),
    "grey_1bit": lambda p: photo.convert("1").save(p),
    "grey_2bit": lambda p: write_png(p, (grey8 >> 6)[..., None], 0, 2),
    "grey_4bit": lambda p: write_png(p, (grey8 >> 4)[..., None], 0, 4),
    "grey_8bit": lambda p: photo.convert("L").save(p),
    "grey_trns": lambda p: write_png(p, grey8[..., None], 0, 8, trns=struct.pack(">H", int(grey8[0, 0]))),
    "grey_16bit": lambda p: write_png(p, grey16[..., None], 0, 16),
    "grey_16bit_interlaced": lambda p: write_png(p, grey16[..., None], 0, 16, interlace=True),
    "grey_alpha_8bit": lambda p: photo.convert("LA").save(p),
    "grey_alpha_16bit": lambda p: write_png(p, np.stack([grey16 * 60, alpha8 * 257], -1), 4, 16),
    "rgb_8bit": lambda p: photo.save(p),
    "rgb_trns": lambda p: write_png(p, rgb8, 2, 8, trns=struct.pack(">HHH", *map(int, rgb8[0, 0]))),
    "rgb_16bit": lambda p: write_png(p, rgb8 * 257 + rng.integers(0, 256, rgb8.shape).astype(np.uint16), 2, 16),
    "rgba_8bit": lambda p: photo.convert("RGBA").save(p),
    "rgba_16bit": lambda p: write_png(p, np.concatenate([rgb8 * 251, alpha8[..., None] * 257], -1), 6, 16),
}
for name, write in cases.items():
    write(os.path.join(folder, name + ".png"))
modes = {name: Image.open(os.path.join(folder, name + ".png")).mode for name in cases}
print("PIL modes:", modes)
checks.check(modes["grey_16bit"] in ("I", "I;16", "I;16B"), f"16-bit grey opened as {modes['grey_16bit']}")
checks.check(modes["palette_alpha_table"] == "P", "the palette test image is not a palette image")
checks.check("transparency" in Image.open(os.path.join(folder, "palette_transparent_index.png")).info,
             "the palette image with a transparent index has no tRNS")
checks.check(np.asarray(Image.open(os.path.join(folder, "grey_16bit.png"))).max() > 255, "no 16-bit grey above 255")

# --- hpa against PIL -------------------------------------------------------------------------------
pack = os.path.join(work, "pngs.h5")
r = run([pack_exe, os.path.join(work, "tree"), "--out", pack])
checks.check(r.returncode == 0, f"hpa-pack refused a PNG: {r.stderr.strip()}")
if r.returncode == 0:
    pattern = os.path.join(work, "show_{index}.png")
    r = run([pack_exe, "--show", pack, "--index", f"0-{len(cases) - 1}", "--transform", "eval", "--dct-scaling",
             "false", "--png", pattern])
    checks.check(r.returncode == 0, f"--show failed: {r.stderr.strip()}")
    evaluate = T.Compose([T.Resize(256), T.CenterCrop(224)])
    for i, name in enumerate(sorted(cases)):  # ImageFolder order: sorted file names
        expected = np.asarray(evaluate(Image.open(os.path.join(folder, name + ".png")).convert("RGB"))).astype(int)
        mine = np.asarray(Image.open(pattern.replace("{index}", str(i)))).astype(int)
        worst = np.abs(mine - expected).max()
        print(f"{name:24s} PIL mode {modes[name]:5s} largest difference {worst}")
        checks.check(worst == 0, f"{name}: decoded pixels differ from PIL's convert('RGB') by up to {worst}")
checks.finish()
