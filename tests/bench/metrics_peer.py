#!/usr/bin/python3
"""Data and peers of the metric benchmarks (msssim-5000, fid-2048).

  metrics_peer.py msssim-data OUT N        N smooth random 32x32 RGB images
  metrics_peer.py msssim DATA PAIRS RUNS   batched PyTorch MS-SSIM on PAIRS
                                           random pairs, extrapolated to all
  metrics_peer.py fid-data A B N D         two correlated feature sets
  metrics_peer.py fid A B RUNS             FID the pytorch-fid way (sqrtm)

Peers print "seconds MEDIAN value VALUE cpu CPU [measured M pairs]", CPU
being the process's CPU seconds per run (scaled like the wall time).
"""
import json
import statistics
import struct
import sys
import time

import numpy as np

DTYPES = {"F32": np.float32, "U8": np.uint8, "I32": np.int32}
NAMES = {np.dtype(np.float32): "F32", np.dtype(np.uint8): "U8", np.dtype(np.int32): "I32"}


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, arr in sorted(tensors.items(), key=lambda kv: -kv[1].dtype.itemsize):
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": NAMES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * ((-len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for b in blobs:
            f.write(b)


def read_tensor(path, name):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    info = json.loads(raw[8:8 + n])[name]
    lo, hi = info["data_offsets"]
    return np.frombuffer(raw[8 + n + lo:8 + n + hi],
                         dtype=DTYPES[info["dtype"]]).reshape(info["shape"])


def msssim_data(out, n):
    import scipy.ndimage
    rng = np.random.default_rng(5000)
    imgs = np.empty((n, 32, 32, 3), np.uint8)
    for i in range(n):
        f = scipy.ndimage.gaussian_filter(rng.normal(size=(32, 32, 3)),
                                          (rng.uniform(0.5, 3), rng.uniform(0.5, 3), 0))
        f = (f - f.min()) / (f.max() - f.min())
        imgs[i] = np.round(255 * f).astype(np.uint8)
    write_safetensors(out, {"images": imgs, "labels": (np.arange(n) % 10).astype(np.int32)},
                      {"classes": json.dumps([str(k) for k in range(10)]),
                       "source": "benchmark"})


def msssim_peer(data, npairs, runs):
    """The 'shrink' convention of docs/metrics.md, batched over pairs."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(2)
    imgs = torch.from_numpy(read_tensor(data, "images").copy()).permute(0, 3, 1, 2).float()
    n, ch = imgs.shape[0], imgs.shape[1]
    weights = torch.tensor([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def gauss(t):
        k = torch.arange(t, dtype=torch.float32) - (t - 1) / 2
        g = torch.exp(-k ** 2 / (2 * 1.5 ** 2))
        return g / g.sum()

    def band(size):
        # The valid window as a banded matrix: filtering is two batched
        # matrix products, much faster in torch than a one-channel conv2d.
        taps = min(11, size)
        m = torch.zeros(size - taps + 1, size)
        for r in range(size - taps + 1):
            m[r, r:r + taps] = gauss(taps)
        return m

    bands = {size: band(size) for size in (32, 16, 8, 4, 2)}

    def batch(x, y):
        b = x.shape[0]
        terms = []
        for s in range(5):
            wv, wh = bands[x.shape[2]], bands[x.shape[3]]
            f = torch.matmul(torch.matmul(wv, torch.stack([x, y, x * x, y * y, x * y])),
                             wh.t())
            mx, my, exx, eyy, exy = f
            vx, vy, cxy = exx - mx * mx, eyy - my * my, exy - mx * my
            cs = (2 * cxy + c2) / (vx + vy + c2)
            if s == 4:
                cs = cs * (2 * mx * my + c1) / (mx * mx + my * my + c1)
            terms.append(cs.mean(dim=(2, 3)))
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
        t = torch.relu(torch.stack(terms, dim=-1))
        return torch.prod(t ** weights, dim=-1).mean(dim=1)

    rng = np.random.default_rng(1)
    i = rng.integers(0, n, npairs)
    j = (i + rng.integers(1, n, npairs)) % n
    times, total, c0 = [], 0.0, time.process_time()
    for _ in range(runs):
        t0, total = time.perf_counter(), 0.0
        with torch.no_grad():
            for k in range(0, npairs, 512):
                total += float(batch(imgs[i[k:k + 512]], imgs[j[k:k + 512]]).sum())
        times.append(time.perf_counter() - t0)
    scale = n * (n - 1) / 2 / npairs
    cpu = (time.process_time() - c0) / runs * scale
    print(f"seconds {statistics.median(times) * scale:.3f} value {total / npairs:.10g} "
          f"cpu {cpu:.3f} measured {npairs} pairs")


def fid_data(a, b, n, d):
    rng = np.random.default_rng(2048)
    mix = rng.normal(size=(128, d)) / 8
    for path, shift in ((a, 0.0), (b, 0.3)):
        lat = rng.normal(shift, 1.0, size=(n, 128))
        feat = np.maximum(lat @ mix + 0.2 * rng.normal(size=(n, d)), 0).astype(np.float32)
        write_safetensors(path, {"features": feat}, {"network": "benchmark features"})


def fid_peer(a, b, runs):
    import scipy.linalg
    fa, fb = read_tensor(a, "features"), read_tensor(b, "features")
    times, c0 = [], time.process_time()
    for _ in range(runs):
        t0 = time.perf_counter()
        mu1, mu2 = np.mean(fa, axis=0), np.mean(fb, axis=0)
        s1, s2 = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
        covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
        covmean = covmean.real
        diff = mu1 - mu2
        fid = diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
        times.append(time.perf_counter() - t0)
    cpu = (time.process_time() - c0) / runs
    print(f"seconds {statistics.median(times):.3f} value {fid:.10g} cpu {cpu:.3f}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "msssim-data":
        msssim_data(args[0], int(args[1]))
    elif cmd == "msssim":
        msssim_peer(args[0], int(args[1]), int(args[2]))
    elif cmd == "fid-data":
        fid_data(args[0], args[1], int(args[2]), int(args[3]))
    elif cmd == "fid":
        fid_peer(args[0], args[1], int(args[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
