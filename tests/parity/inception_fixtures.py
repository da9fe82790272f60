#!/usr/bin/python3
"""Writes the Inception-v3 parity fixtures to tests/fixtures/inception/: for
each variant (fid, keras), two 32 x 32 RGB images, the network input they
give at 75 x 75 (the smallest size the graph takes), and the reference pool
features and logits of a PyTorch model of that variant.  Run from the
repository root with Debian's python3-torch:

    /usr/bin/python3 tests/parity/inception_fixtures.py

The model is written here from the published architecture (Szegedy et al.
2016, with torchvision's layer names).  Its 24 million weights are not
stored: every weight is a pure function of its tensor's name and index
(weight_values below), which tests/unit/test_features_inception.c computes
the same way, so only images and outputs go into the fixtures.

With "state PATH" it instead saves the random FID-variant state dict as a
.pth file (for the converter's end-to-end test); with
"bench N BATCH SIZE VARIANT" it prints the median images/s of
N timed forward passes of BATCH images of SIZE x SIZE (tests/bench)."""
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                   "inception")
MASK = (1 << 64) - 1


def fnv1a(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def uniform01(name, count):
    """u[i] = top 24 bits of splitmix64's finaliser of
    fnv1a(name) + (i + 1) * golden, divided by 2^24 (exact in float32)."""
    with np.errstate(over="ignore"):
        i = np.arange(1, count + 1, dtype=np.uint64)
        x = np.uint64(fnv1a(name)) + i * np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(40)).astype(np.float64) / float(1 << 24)


def weight_range(name, shape):
    """The interval a tensor's values are drawn from, by its role."""
    if name.endswith("conv.weight"):
        fan_in = shape[1] * shape[2] * shape[3]
        b = math.sqrt(6.0 / fan_in)
        return -b, b
    if name.endswith("bn.weight") or name.endswith("bn.running_var"):
        return 0.8, 1.2
    if name.endswith(".weight"):
        b = math.sqrt(3.0 / shape[1])
        return -b, b
    return -0.1, 0.1


def weight_values(name, shape):
    lo, hi = weight_range(name, shape)
    u = uniform01(name, int(np.prod(shape)))
    return torch.from_numpy((lo + (hi - lo) * u).astype(np.float32).reshape(shape))


class ConvBN(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3), ReLU."""

    def __init__(self, cin, cout, k, stride=1, pad=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def avg3(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def max3(x):
    return F.max_pool2d(x, 3, stride=1, padding=1)


class BlockA(nn.Module):
    def __init__(self, cin, pool):
        super().__init__()
        self.branch1x1 = ConvBN(cin, 64, 1)
        self.branch5x5_1 = ConvBN(cin, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, pad=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, pad=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, pad=1)
        self.branch_pool = ConvBN(cin, pool, 1)

    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, bd, self.branch_pool(avg3(x))], 1)


class BlockB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = ConvBN(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, pad=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x):
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), bd, F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):
    def __init__(self, cin, c7):
        super().__init__()
        self.branch1x1 = ConvBN(cin, 192, 1)
        self.branch7x7_1 = ConvBN(cin, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, (1, 7), pad=(0, 3))
        self.branch7x7_3 = ConvBN(c7, 192, (7, 1), pad=(3, 0))
        self.branch7x7dbl_1 = ConvBN(cin, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, (7, 1), pad=(3, 0))
        self.branch7x7dbl_3 = ConvBN(c7, c7, (1, 7), pad=(0, 3))
        self.branch7x7dbl_4 = ConvBN(c7, c7, (7, 1), pad=(3, 0))
        self.branch7x7dbl_5 = ConvBN(c7, 192, (1, 7), pad=(0, 3))
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for i in range(1, 6):
            bd = getattr(self, "branch7x7dbl_%d" % i)(bd)
        return torch.cat([self.branch1x1(x), b7, bd, self.branch_pool(avg3(x))], 1)


class BlockD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = ConvBN(cin, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(cin, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), pad=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), pad=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = x
        for i in range(1, 5):
            b7 = getattr(self, "branch7x7x3_%d" % i)(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    def __init__(self, cin, pool):
        super().__init__()
        self.pool = pool
        self.branch1x1 = ConvBN(cin, 320, 1)
        self.branch3x3_1 = ConvBN(cin, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, (1, 3), pad=(0, 1))
        self.branch3x3_2b = ConvBN(384, 384, (3, 1), pad=(1, 0))
        self.branch3x3dbl_1 = ConvBN(cin, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, pad=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, (1, 3), pad=(0, 1))
        self.branch3x3dbl_3b = ConvBN(384, 384, (3, 1), pad=(1, 0))
        self.branch_pool = ConvBN(cin, 192, 1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                          self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd),
                          self.branch_pool(self.pool(x))], 1)


class Inception(nn.Module):
    """variant "fid": pool branch of Mixed_7c is a max pool, head fc
    (1008 logits); "keras": average pools throughout, head fc1-fc3 with
    ReLUs (256, 128, 5).  Batch norm without scale for keras is modelled by
    gamma = 1."""

    def __init__(self, variant):
        super().__init__()
        self.variant = variant
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, pad=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b = BlockE(1280, avg3)
        self.Mixed_7c = BlockE(2048, max3 if variant == "fid" else avg3)
        if variant == "fid":
            self.fc = nn.Linear(2048, 1008)
        else:
            self.fc1 = nn.Linear(2048, 256)
            self.fc2 = nn.Linear(256, 128)
            self.fc3 = nn.Linear(128, 5)

    def forward(self, x):
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, "Mixed_" + name)(x)
        feats = x.mean((2, 3))
        if self.variant == "fid":
            return feats, self.fc(feats)
        h = F.relu(self.fc2(F.relu(self.fc1(feats))))
        return feats, self.fc3(h)


def make_model(variant):
    """The model with its generated weights, and the weight list [name,
    shape] that the C test regenerates (keras' unit batch-norm scales are
    left out, as the converted nsfwjs weights leave them out)."""
    model = Inception(variant).eval()
    state, listed = {}, []
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            state[name] = t
        elif variant == "keras" and name.endswith("bn.weight"):
            state[name] = torch.ones_like(t)
        else:
            state[name] = weight_values(name, list(t.shape))
            listed.append([name, list(t.shape)])
    model.load_state_dict(state)
    return model, listed


def network_input(images, size, variant):
    """uint8 NHWC to the network's NCHW input: /255, bilinear with half-pixel
    centres, then [-1, 1] for fid."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return 2 * x - 1 if variant == "fid" else x


def save(path, tensors, meta):
    header, blobs, off = {}, [], 0
    for key in sorted(tensors):
        arr = np.ascontiguousarray(tensors[key])
        dtype = {np.uint8: "U8", np.int32: "I32", np.float32: "F32"}[arr.dtype.type]
        raw = arr.tobytes()
        header[key] = {"dtype": dtype, "shape": list(arr.shape),
                       "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def fixtures():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(7)
    images = torch.randint(0, 256, (2, 32, 32, 3), generator=gen, dtype=torch.uint8).numpy()
    for variant in ("fid", "keras"):
        model, listed = make_model(variant)
        x = network_input(images, 75, variant)
        with torch.no_grad():
            feats, logits = model(x)
        print("%s: features mean %.4g max %.4g, logits std %.4g" % (
            variant, feats.mean().item(), feats.max().item(), logits.std().item()))
        save(os.path.join(OUT, variant + ".safetensors"),
             {"images": images, "x": x.numpy(), "features": feats.numpy(),
              "logits": logits.numpy()},
             {"variant": variant, "size": "75",
              "weights": json.dumps(listed, separators=(",", ":"))})


def bench(runs, batch, size, variant):
    model = make_model(variant)[0]
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(1))
    rates = []
    with torch.no_grad():
        model(x)
        for _ in range(runs):
            t = time.perf_counter()
            model(x)
            rates.append(batch / (time.perf_counter() - t))
    print("%.3f" % statistics.median(rates))


if __name__ == "__main__":
    torch.manual_seed(0)
    if len(sys.argv) > 1 and sys.argv[1] == "state":
        torch.save(make_model("fid")[0].state_dict(), sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "bench":
        torch.set_num_threads(int(os.environ.get("THREADS", "1")))
        bench(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        torch.set_num_threads(1)
        fixtures()
