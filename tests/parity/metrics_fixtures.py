#!/usr/bin/python3
"""Writes the parity fixtures of the metric stages into tests/fixtures/metrics/.

Each reference value is computed here in float64 with numpy and scipy,
directly from the definitions, independently of the C code:

  fid_*      FID through scipy.linalg.sqrtm of S_a S_b (the usual route), or
             through numpy's eigh when a covariance is singular (fewer
             samples than dimensions, or dead units)
  is_*       Inception Score from softmax probabilities, 10 splits
  ms_*       MS-SSIM of every pair under both small-image conventions, with
             2-D correlation windows and E[x^2] - mu^2 variances

Run with Debian's python3 from the top of the repository:
    /usr/bin/python3 tests/parity/metrics_fixtures.py
"""
import json
import os
import struct

import numpy as np
import scipy.linalg
import scipy.ndimage
import scipy.signal
import scipy.special

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "metrics")
DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32", np.dtype(np.uint8): "U8"}


def write_safetensors(path, tensors, metadata):
    """The safetensors layout: 8-byte header length, JSON header, data."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, arr in sorted(tensors.items(), key=lambda kv: -kv[1].dtype.itemsize):
        arr = np.ascontiguousarray(arr)
        raw = arr.tobytes()
        header[name] = {"dtype": DTYPES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


# FID

def fid_sqrtm(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def fid_eigh(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    lam, vec = np.linalg.eigh(s1)
    root = (vec * np.sqrt(np.clip(lam, 0, None))) @ vec.T
    mid = np.linalg.eigvalsh(root @ s2 @ root)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2)
                 - 2 * np.sqrt(np.clip(mid, 0, None)).sum())


def fid_case(name, a, b, singular, refs):
    a, b = a.astype(np.float32), b.astype(np.float32)
    meta = {"network": "parity test features"}
    write_safetensors(os.path.join(OUT, name + "_a.safetensors"), {"features": a}, meta)
    write_safetensors(os.path.join(OUT, name + "_b.safetensors"), {"features": b}, meta)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref = fid_eigh(a64, b64) if singular else fid_sqrtm(a64, b64)
    other = fid_sqrtm(a64, b64) if singular else fid_eigh(a64, b64)
    print(f"{name}: fid {ref:.12g} (other route {other:.12g})")
    refs[name] = {"fid": ref, "n_a": len(a), "n_b": len(b), "dims": a.shape[1]}


def fid_fixtures(rng, refs):
    d = 64
    fid_case("fid_random", rng.normal(size=(300, d)),
             rng.normal(0.3, 1.2, size=(260, d)), False, refs)
    # Correlated, non-negative, sparse-ish features, as pooled activations are.
    mix = rng.normal(size=(8, d))
    lat_a, lat_b = rng.normal(size=(400, 8)), rng.normal(0.5, 1.0, size=(350, 8))
    feat_a = np.maximum(lat_a @ mix + 0.1 * rng.normal(size=(400, d)), 0)
    feat_b = np.maximum(lat_b @ mix + 0.1 * rng.normal(size=(350, d)), 0)
    fid_case("fid_corr", feat_a, feat_b, False, refs)
    fid_case("fid_few", rng.normal(size=(40, d)), rng.normal(size=(50, d)), True, refs)
    # Dead units: constant columns make both covariances singular although
    # there are more samples than dimensions.
    dead_a, dead_b = feat_a[:300].copy(), feat_b[:300].copy()
    dead_a[:, :3], dead_b[:, :3] = 0.0, 0.25
    fid_case("fid_dead", dead_a, dead_b, True, refs)
    # Real features: the 64 pixels of scikit-learn's handwritten digits
    # (Debian's python3-sklearn ships them), digits 0-4 against 5-9.  Some
    # pixels are always blank, so both covariances are singular.
    import gzip
    path = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
    digits = np.loadtxt(gzip.open(path), delimiter=",")
    pixels, labels = digits[:, :64], digits[:, 64]
    fid_case("fid_digits", pixels[labels < 5], pixels[labels >= 5], True, refs)


# Inception Score

def inception_score(p, splits=10):
    n, scores = len(p), []
    for k in range(splits):
        part = p[k * n // splits:(k + 1) * n // splits]
        py = part.mean(0, keepdims=True)
        kl = np.where(part > 0, part * (np.log(np.where(part > 0, part, 1)) - np.log(py)), 0)
        scores.append(np.exp(kl.sum(1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def is_fixtures(rng, refs):
    n, k = 500, 10
    cls = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k)) + 4.0 * np.eye(k)[cls]
    logits[:5] *= 30  # confident rows whose smallest probabilities underflow float32
    logits = logits.astype(np.float32)
    probs = scipy.special.softmax(logits.astype(np.float64), axis=1).astype(np.float32)
    write_safetensors(os.path.join(OUT, "is_logits.safetensors"),
                      {"logits": logits, "probs": probs},
                      {"network": "parity test logits"})
    m, s = inception_score(scipy.special.softmax(logits.astype(np.float64), axis=1))
    pm, ps = inception_score(probs.astype(np.float64) /
                             probs.astype(np.float64).sum(1, keepdims=True))
    print(f"is: {m:.10g} +- {s:.10g}; from probs {pm:.10g} +- {ps:.10g}")
    refs["is"] = {"mean": m, "std": s, "probs_mean": pm, "probs_std": ps, "n": n}


# MS-SSIM

WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def gauss(taps):
    k = np.arange(taps) - (taps - 1) / 2
    g = np.exp(-k ** 2 / (2 * 1.5 ** 2))
    return g / g.sum()


def scale_means(x, y):
    """Mean c*s and mean l*c*s over the valid positions of a 2-D window."""
    win = np.outer(gauss(min(11, x.shape[0])), gauss(min(11, x.shape[1])))
    f = lambda img: scipy.signal.correlate2d(img, win, mode="valid")
    mx, my = f(x), f(y)
    vx, vy, cxy = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
    cs = (2 * cxy + C2) / (vx + vy + C2)
    lum = (2 * mx * my + C1) / (mx ** 2 + my ** 2 + C1)
    return cs.mean(), (lum * cs).mean()


def halve(x):
    h, w = x.shape[0] // 2, x.shape[1] // 2
    return x[:2 * h, :2 * w].reshape(h, 2, w, 2).mean(axis=(1, 3))


def msssim_plane(x, y, convention):
    sizes, h, w = [], x.shape[0], x.shape[1]
    for _ in range(5):
        if h < 1 or w < 1 or (convention == "fit" and min(h, w) < 11):
            break
        sizes.append((h, w))
        h, w = h // 2, w // 2
    weights = WEIGHTS[:len(sizes)] / WEIGHTS[:len(sizes)].sum()
    value = 1.0
    for s in range(len(sizes)):
        cs, ssim = scale_means(x, y)
        term = ssim if s == len(sizes) - 1 else cs
        value *= max(term, 0.0) ** weights[s]
        x, y = halve(x), halve(y)
    return value


def msssim(a, b, convention):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.mean([msssim_plane(a[..., c], b[..., c], convention)
                          for c in range(a.shape[2])]))


def smooth_field(rng, h, w, c, sigma):
    f = scipy.ndimage.gaussian_filter(rng.normal(size=(h, w, c)), (sigma, sigma, 0))
    f = (f - f.min()) / (f.max() - f.min() + 1e-12)
    return np.round(255 * f).astype(np.uint8)


def ms_images(rng, h, w, c):
    yy, xx = np.mgrid[0:h, 0:w]
    imgs = [smooth_field(rng, h, w, c, s) for s in (1.0, 1.5, 2.0, 3.0, 0.7)]
    imgs.append(imgs[0].copy())                                   # duplicate
    imgs.append(255 - imgs[1])                                    # inverted
    grad = (255 * (xx + yy) / (h + w - 2)).astype(np.uint8)
    imgs.append(np.repeat(grad[..., None], c, axis=2))            # gradient
    imgs.append(np.full((h, w, c), 97, np.uint8))                 # flat
    check = ((xx // 4 + yy // 4) % 2 * 200 + 30).astype(np.uint8)
    imgs.append(np.repeat(check[..., None], c, axis=2))           # checks
    imgs.append(rng.integers(0, 256, (h, w, c)).astype(np.uint8))  # noise
    imgs.append(np.clip(imgs[2].astype(int) + rng.integers(-20, 21, (h, w, c)), 0,
                        255).astype(np.uint8))                    # noisy copy
    return np.stack(imgs)


def ms_case(name, images, labels, refs):
    write_safetensors(os.path.join(OUT, name + ".safetensors"),
                      {"images": images, "labels": labels.astype(np.int32)},
                      {"classes": json.dumps([f"c{k}" for k in range(labels.max() + 1)]),
                       "source": "metrics parity fixture"})
    n, out = len(images), {}
    for conv in ("shrink", "fit"):
        pairs = [[i, j, msssim(images[i], images[j], conv)]
                 for i in range(n) for j in range(i + 1, n)]
        within = [v for i, j, v in pairs if labels[i] == labels[j]]
        out[conv] = {"pairs": pairs, "mean": float(np.mean([v for _, _, v in pairs])),
                     "within_mean": float(np.mean(within))}
        print(f"{name} {conv}: mean {out[conv]['mean']:.9f}, "
              f"within {out[conv]['within_mean']:.9f}")
    refs[name] = out


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20200207)
    refs = {}
    fid_fixtures(rng, refs)
    is_fixtures(rng, refs)
    rgb = ms_images(rng, 32, 32, 3)
    ms_case("ms_rgb32", rgb, np.arange(len(rgb)) % 3, refs)
    grey = ms_images(rng, 28, 28, 1)[:8]
    ms_case("ms_grey28", grey, np.array([0, 1, 0, 1, 0, 1, 0, 1]), refs)
    wide = ms_images(rng, 20, 36, 2)[[0, 2, 3, 5, 8, 10]]
    ms_case("ms_wide20x36", wide, np.array([0, 0, 1, 1, 0, 1]), refs)
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(refs, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
