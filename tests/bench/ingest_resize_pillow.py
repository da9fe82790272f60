#!/usr/bin/python3
"""The peer of "bench ingest-resize": the same work in Python with Pillow
and NumPy, as a Python pipeline would do it.  Fashion-MNIST's 10,000 test
images are read from the gzip IDX files and each resized to 32 x 32 with
BILINEAR and made RGB; the emoji PNGs named in emoji.json (skin-tone
variants and the "Component" category left out, as dfmake does) are
composited on white, resized and stacked.  Prints "WORKLOAD MEDIAN_MS
IMAGES" per workload over REPS runs (argument 2), one thread."""
import gzip
import json
import os
import sys
import time

import numpy as np
from PIL import Image

FMNIST = "/usr/share/datasets/fashion-mnist"


def fmnist():
    with gzip.open(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")) as f:
        raw = f.read()
    with gzip.open(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int32)
    n, h, w = (int.from_bytes(raw[4 * i:4 * i + 4], "big") for i in (1, 2, 3))
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(n, h, w)
    out = np.empty((n, 32, 32, 3), np.uint8)
    for i in range(n):
        im = Image.fromarray(images[i], "L").resize((32, 32), Image.BILINEAR)
        out[i] = np.asarray(im.convert("RGB"))
    return out, labels


def emoji(root):
    with open(os.path.join(root, "emoji.json")) as f:
        entries = json.load(f)
    cats = sorted({e["category"] for e in entries if e["category"] != "Component"})
    index = {c: i for i, c in enumerate(cats)}
    images, labels = [], []
    for e in entries:
        if e["category"] == "Component" or "/" in e["image"]:
            continue
        im = Image.open(os.path.join(root, "img", "google", "64", e["image"])).convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im).convert("RGB")
        images.append(np.asarray(im.resize((32, 32), Image.BILINEAR)))
        labels.append(index[e["category"]])
    return np.stack(images), np.array(labels, np.int32)


def timed(name, fn, reps):
    times, n = [], 0
    for _ in range(reps):
        start = time.perf_counter()
        images, _ = fn()
        times.append((time.perf_counter() - start) * 1e3)
        n = len(images)
    times.sort()
    print(f"{name} {times[len(times) // 2]:.1f} {n}")


def main():
    root = os.path.join(sys.argv[1], "node_modules", "emoji-datasource-google")
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    timed("fmnist", fmnist, reps)
    timed("emoji", lambda: emoji(root), reps)


if __name__ == "__main__":
    main()
