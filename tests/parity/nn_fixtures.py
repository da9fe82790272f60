#!/usr/bin/python3
"""Writes the PyTorch parity fixtures of dfmake's training library to
tests/fixtures/nn/ (one safetensors file per layer, plus one SNGAN training
step).  Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/parity/nn_fixtures.py

Images are stored NCHW as PyTorch holds them; labels as I32.  Spectrally
normalised layers store weight_orig, weight_u, weight_v before the forward
and weight_u_after, weight_v_after after it."""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resnet_torch  # noqa: E402
import sngan_torch  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "nn")


def save(name, tensors):
    """Writes tensors (name -> torch tensor) as safetensors, without the
    safetensors package: 8-byte header length, JSON header, raw bytes."""
    header, blobs, off = {}, [], 0
    for key in sorted(tensors):
        t = tensors[key].detach().contiguous()
        if t.dtype in (torch.int64, torch.int32):
            t, dtype = t.to(torch.int32), "I32"
        else:
            t, dtype = t.to(torch.float32), "F32"
        raw = t.numpy().tobytes()
        header[key] = {"dtype": dtype, "shape": list(t.shape),
                       "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(OUT, name + ".safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def sn_state(m, prefix, out):
    out[prefix + "weight_orig"] = m.weight_orig.detach().clone()
    out[prefix + "weight_u"] = m.weight_u.clone()
    out[prefix + "weight_v"] = m.weight_v.clone()


def run_layer(m, x, dy, out):
    """Forward then backward with the upstream gradient dy."""
    x = x.clone().requires_grad_(True)
    y = m(x)
    y.backward(dy)
    out["x"], out["y"], out["dy"], out["dx"] = x, y, dy, x.grad
    return y


def conv(name, cin, cout, k, stride, pad, sn, hw=6, n=2):
    m = nn.Conv2d(cin, cout, k, stride, pad)
    if sn:
        m = nn.utils.spectral_norm(m)
    out = {}
    if sn:
        sn_state(m, "", out)
    else:
        out["weight"] = m.weight.detach().clone()
    out["bias"] = m.bias.detach().clone()
    x = torch.randn(n, cin, hw, hw)
    ho = (hw + 2 * pad - k) // stride + 1
    run_layer(m, x, torch.randn(n, cout, ho, ho), out)
    w = m.weight_orig if sn else m.weight
    out["dweight"], out["dbias"] = w.grad, m.bias.grad
    if sn:
        out["weight_u_after"], out["weight_v_after"] = m.weight_u, m.weight_v
    save(name, out)


def linear(name, fin, fout, sn):
    m = nn.Linear(fin, fout)
    if sn:
        m = nn.utils.spectral_norm(m)
    out = {}
    if sn:
        sn_state(m, "", out)
    else:
        out["weight"] = m.weight.detach().clone()
    out["bias"] = m.bias.detach().clone()
    run_layer(m, torch.randn(3, fin), torch.randn(3, fout), out)
    w = m.weight_orig if sn else m.weight
    out["dweight"], out["dbias"] = w.grad, m.bias.grad
    if sn:
        out["weight_u_after"], out["weight_v_after"] = m.weight_u, m.weight_v
    save(name, out)


def batchnorm():
    m = nn.BatchNorm2d(5)
    with torch.no_grad():
        m.weight.uniform_(0.5, 1.5)
        m.bias.uniform_(-0.5, 0.5)
    out = {"weight": m.weight.detach().clone(), "bias": m.bias.detach().clone()}
    run_layer(m, torch.randn(3, 5, 4, 4) * 2 + 1, torch.randn(3, 5, 4, 4), out)
    out["dweight"], out["dbias"] = m.weight.grad, m.bias.grad
    out["running_mean"], out["running_var"] = m.running_mean, m.running_var
    m.eval()
    xe = torch.randn(2, 5, 4, 4)
    out["x_eval"], out["y_eval"] = xe, m(xe)
    save("batchnorm", out)


def cond_batchnorm():
    m = sngan_torch.CondBN(4, 3)
    with torch.no_grad():
        m.weight.weight.uniform_(0.5, 1.5)
        m.bias.weight.uniform_(-0.5, 0.5)
    labels = torch.tensor([2, 0, 2, 1])
    out = {"weight": m.weight.weight.detach().clone(),
           "bias": m.bias.weight.detach().clone(), "labels": labels}
    x = (torch.randn(4, 4, 4, 4) * 2 + 1).requires_grad_(True)
    dy = torch.randn(4, 4, 4, 4)
    y = m(x, labels)
    y.backward(dy)
    out.update({"x": x, "y": y, "dy": dy, "dx": x.grad,
                "dweight": m.weight.weight.grad, "dbias": m.bias.weight.grad,
                "running_mean": m.bn.running_mean, "running_var": m.bn.running_var})
    save("cond_batchnorm", out)


def ops():
    out = {}
    x = torch.randn(2, 3, 4, 6)
    for name, fn, shape in [
            ("relu", F.relu, (2, 3, 4, 6)),
            ("tanh", torch.tanh, (2, 3, 4, 6)),
            ("avgpool", lambda t: F.avg_pool2d(t, 2), (2, 3, 2, 3)),
            ("upsample", lambda t: F.interpolate(t, scale_factor=2, mode="nearest"),
             (2, 3, 8, 12)),
            ("gsum", lambda t: torch.sum(t, dim=(2, 3)), (2, 3))]:
        xi = x.clone().requires_grad_(True)
        dy = torch.randn(*shape)
        y = fn(xi)
        y.backward(dy)
        out[name + ".y"], out[name + ".dy"], out[name + ".dx"] = y, dy, xi.grad
    out["x"] = x
    save("ops", out)


def pools():
    out = {}
    x = torch.randn(2, 3, 7, 7)
    out["x"] = x
    for name, fn in [
            ("max3s2p1", lambda t: F.max_pool2d(t, 3, 2, 1)),
            ("max3s1p1", lambda t: F.max_pool2d(t, 3, 1, 1)),
            ("avg3s1p1x", lambda t: F.avg_pool2d(t, 3, 1, 1, count_include_pad=False)),
            ("avg3s2p0", lambda t: F.avg_pool2d(t, 3, 2, 0)),
            ("gavg", lambda t: t.mean(dim=(2, 3)))]:
        xi = x.clone().requires_grad_(True)
        y = fn(xi)
        dy = torch.randn(*y.shape)
        y.backward(dy)
        out[name + ".y"], out[name + ".dy"], out[name + ".dx"] = y, dy, xi.grad
    z = torch.randn(4, 5, requires_grad=True)
    labels = torch.tensor([4, 0, 2, 2])
    loss = F.cross_entropy(z, labels)
    loss.backward()
    out.update({"ce.logits": z, "ce.labels": labels, "ce.loss": loss.reshape(1),
                "ce.dlogits": z.grad})
    b = torch.randn(3, 2, requires_grad=True)
    t = torch.rand(3, 2)
    loss = F.binary_cross_entropy_with_logits(b, t)
    loss.backward()
    out.update({"bce.logits": b, "bce.targets": t, "bce.loss": loss.reshape(1),
                "bce.dlogits": b.grad})
    save("pools_losses", out)


def embedding():
    m = nn.utils.spectral_norm(nn.Embedding(4, 6))
    out = {}
    sn_state(m, "", out)
    labels = torch.tensor([3, 1, 3])
    y = m(labels)
    dy = torch.randn(3, 6)
    y.backward(dy)
    out.update({"labels": labels, "y": y, "dy": dy, "dweight": m.weight_orig.grad,
                "weight_u_after": m.weight_u, "weight_v_after": m.weight_v})
    save("embedding", out)


def hinge():
    d = torch.tensor([[0.5], [1.5], [-2.0], [-0.3], [0.7], [-1.2]], requires_grad=True)
    loss = F.relu(1 - d[:3]).mean() + F.relu(1 + d[3:]).mean()
    loss.backward()
    dg = d.detach().clone().requires_grad_(True)
    lg = -dg.mean()
    lg.backward()
    save("hinge", {"d": d, "loss_d": loss.reshape(1), "dd": d.grad,
                   "loss_g": lg.reshape(1), "dg": dg.grad})


def adam():
    p = nn.Parameter(torch.randn(7))
    opt = torch.optim.Adam([p], lr=2e-4, betas=(0.0, 0.9))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: 1 - it / 10)
    out = {"p0": p.detach().clone()}
    grads = torch.randn(3, 7)
    for i in range(3):
        opt.zero_grad()
        p.grad = grads[i].clone()
        opt.step()
        sched.step()
    out["grads"], out["p3"] = grads, p.detach().clone()
    q = nn.Parameter(out["p0"].clone())
    sgd = torch.optim.SGD([q], lr=0.1, momentum=0.9, weight_decay=1e-3)
    for i in range(3):
        q.grad = grads[i].clone()
        sgd.step()
    out["sgd_p3"] = q.detach().clone()
    save("adam", out)


def state(m, prefix):
    sd = {}
    for k, v in m.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            sd[prefix + k] = v.detach().clone()
    return sd


def sngan_step():
    G = sngan_torch.Generator(ch=8, ncls=3, zdim=16)
    D = sngan_torch.Discriminator(ch=8, ncls=3)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if ".b1." in name or ".b2." in name or "b5" in name:
                p.add_(torch.randn_like(p) * 0.1)
    out = {}
    out.update(state(G, "G."))
    out.update(state(D, "D."))
    n = 4
    x_real = torch.rand(n, 3, 32, 32) * 2 - 1
    y_real = torch.tensor([0, 2, 1, 2])
    z = torch.randn(n, 16)
    y_fake = torch.tensor([1, 1, 0, 2])
    z2 = torch.randn(n, 16)
    y2 = torch.tensor([2, 0, 0, 1])
    out.update({"x_real": x_real, "y_real": y_real, "z": z, "y_fake": y_fake,
                "z2": z2, "y2": y2})
    opt_d = torch.optim.Adam(D.parameters(), lr=4e-4, betas=(0.0, 0.9))
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.9))
    ld = sngan_torch.d_step(G, D, opt_d, x_real, y_real, z, y_fake)
    lg = sngan_torch.g_step(G, D, opt_g, z2, y2)
    out["loss_d"] = torch.tensor([ld])
    out["loss_g"] = torch.tensor([lg])
    for k, v in state(G, "G.").items():
        out["after." + k] = v
    for k, v in state(D, "D.").items():
        out["after." + k] = v
    save("sngan_step", out)


def resnet(name, imagenet, n, hw):
    """Forward and backward of a narrow ResNet-18 (width 2, 3 classes):
    logits, loss, every parameter gradient, running statistics after."""
    m = resnet_torch.ResNet18(3, width=2, imagenet=imagenet)
    with torch.no_grad():
        for k, p in m.named_parameters():
            if "bn" in k or "downsample.1" in k:
                p.add_(torch.randn_like(p) * 0.1)
    out = state(m, "")
    x = torch.randn(n, 3, hw, hw)
    labels = torch.tensor([2, 0][:n])
    logits = m(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    out.update({"x": x, "labels": labels, "logits": logits, "loss": loss.reshape(1)})
    for k, p in m.named_parameters():
        out["grad." + k] = p.grad
    for k, v in state(m, "after.").items():
        if "running" in k:
            out[k] = v
    save(name, out)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(20200207)
    os.makedirs(OUT, exist_ok=True)
    conv("conv3x3", 5, 7, 3, 1, 1, False)
    conv("conv3x3_sn", 5, 7, 3, 1, 1, True)
    conv("conv1x1_s2", 6, 4, 1, 2, 0, False)
    conv("conv3x3_s2", 3, 4, 3, 2, 1, True, hw=7)
    linear("linear", 6, 5, False)
    linear("linear_sn", 6, 5, True)
    batchnorm()
    cond_batchnorm()
    ops()
    pools()
    embedding()
    hinge()
    adam()
    sngan_step()
    resnet("resnet_cifar", False, 2, 32)
    resnet("resnet_imagenet", True, 1, 64)
    # Wide enough for oneDNN's blocked Winograd kernels to be worth testing;
    # last, so that the fixtures above keep their random numbers.
    conv("conv3x3_wide", 16, 32, 3, 1, 1, True, hw=8)
    # A three-channel input into blocked outputs: the layouts of a
    # discriminator's first layer, whose passes need not share one.
    conv("conv3x3_rgb", 3, 32, 3, 1, 1, True, hw=8, n=4)


if __name__ == "__main__":
    main()
