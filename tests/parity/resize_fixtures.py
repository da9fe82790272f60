#!/usr/bin/python3
"""Writes the fixtures of the resize parity test: small images and what
Debian's Pillow makes of them with Image.resize(..., BILINEAR) and
Image.convert("L"), in one safetensors file (written with json and struct,
since the safetensors package is not a Debian package).

Run from the repository root: /usr/bin/python3 tests/parity/resize_fixtures.py
"""
import json
import os
import struct

import numpy as np
from PIL import Image

OUT = os.path.join("tests", "fixtures", "resize", "pillow.safetensors")

# (name, height, width, mode, out height, out width)
CASES = [
    ("down_grey", 28, 28, "L", 16, 16),       # Fashion-MNIST-like, downscale
    ("up_grey", 28, 28, "L", 32, 32),         # Fashion-MNIST to the paper's size
    ("down_rgb", 64, 64, "RGB", 32, 32),      # emoji-like, exact halving
    ("odd_rgb", 75, 50, "RGB", 32, 32),       # non-integer, different per axis
    ("big_rgb", 250, 190, "RGB", 32, 32),     # photo-like, large downscale
    ("up_rgb", 8, 8, "RGB", 32, 32),          # sklearn-digits-like upscale
    ("wide_grey", 9, 120, "L", 32, 32),       # down in x, up in y
    ("tall_grey", 100, 7, "L", 20, 20),
]


def image(h, w, mode, rng):
    """Noise over a gradient, with a sharp square: every filter tap matters."""
    c = 3 if mode == "RGB" else 1
    y, x = np.mgrid[0:h, 0:w]
    base = (255.0 * (x + y) / max(1, h + w - 2))[..., None].repeat(c, axis=2)
    noise = rng.integers(-60, 61, size=(h, w, c))
    a = np.clip(base + noise, 0, 255).astype(np.uint8)
    a[h // 4:h // 2, w // 4:w // 2] = 255 - a[h // 4:h // 2, w // 4:w // 2]
    return a


def to_pil(a, mode):
    return Image.fromarray(a[..., 0] if mode == "L" else a, mode)


def as_hwc(im):
    a = np.asarray(im, dtype=np.uint8)
    return a[..., None] if a.ndim == 2 else a


def write(path, tensors, meta):
    header, blobs, offset = {"__metadata__": meta}, [], 0
    for name, a in tensors:
        data = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": "U8", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(len(text) + 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    rng = np.random.default_rng(20200207)
    tensors = []
    for name, h, w, mode, oh, ow in CASES:
        a = image(h, w, mode, rng)
        out = to_pil(a, mode).resize((ow, oh), Image.BILINEAR)
        tensors += [(name + ".in", a), (name + ".out", as_hwc(out))]
    rgb = image(17, 13, "RGB", rng)
    tensors += [("luma.in", rgb), ("luma.out", as_hwc(to_pil(rgb, "RGB").convert("L")))]
    meta = {"cases": json.dumps([c[0] for c in CASES] + ["luma"]),
            "pillow": Image.__version__}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write(OUT, tensors, meta)


if __name__ == "__main__":
    main()
