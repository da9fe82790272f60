#!/usr/bin/python3
"""Converts pytorch-fid's standard FID Inception weights into the weights
file of stages/nn/inception.h, for users who have the .pth file (it is not
packaged anywhere dfmake can install from):

    /usr/bin/python3 stages/nn/convert_fid_weights.py \\
        pt_inception-2015-12-05-6726825d.pth fid-inception.safetensors

and then, in the rules, `weights: fid-inception.safetensors` on a
`features` stage.  The .pth holds a state dict with torchvision's names, so
tensors are copied as they are (float32, OIHW), without the batch-norm step
counters.  Torch hub names the file after the first hex digits of its
SHA-256; when the digest does not start with them the file is converted but
labelled as other weights, so that its FID values never pass for standard
ones.  Needs Debian's python3-torch (for torch.load) and nothing else."""
import hashlib
import json
import os
import re
import struct
import sys

STANDARD = "Inception-v3, pytorch-fid FID weights (pt_inception-2015-12-05)"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def label(path, digest):
    """The network label: standard only for the file torch hub names."""
    m = re.search(r"pt_inception-2015-12-05-([0-9a-f]{8,})\.pth$", os.path.basename(path))
    if m and digest.startswith(m.group(1)):
        return STANDARD
    return "Inception-v3, FID-variant weights from %s (sha256 %s); not the standard " \
           "FID network" % (os.path.basename(path), digest[:16])


def load(path):
    import torch
    state = torch.load(path, map_location="cpu")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    out = {}
    for name, t in state.items():
        if name.endswith("num_batches_tracked") or name.startswith("AuxLogits."):
            continue
        out[name] = t.detach().to(torch.float32).contiguous().numpy()
    if "fc.weight" not in out or "Mixed_7c.branch_pool.conv.weight" not in out:
        sys.exit("convert_fid_weights: %s is not an Inception-v3 state dict" % path)
    return out


def save(path, tensors, meta):
    header, off = {"__metadata__": meta}, 0
    for name in sorted(tensors):
        n = tensors[name].nbytes
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [off, off + n]}
        off += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in sorted(tensors):
            f.write(tensors[name].tobytes())
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: convert_fid_weights.py WEIGHTS.pth OUT.safetensors")
    src, dst = sys.argv[1], sys.argv[2]
    digest = sha256(src)
    network = label(src, digest)
    save(dst, load(src), {"variant": "fid", "network": network,
                          "source": "%s, sha256 %s" % (os.path.basename(src), digest)})
    print("%s: %s" % (dst, network))


if __name__ == "__main__":
    main()
