#!/usr/bin/python3
"""The benchmark peer of bench-sngan: SNGAN training iterations in PyTorch
(channels_last, random data) with the same models, sizes and steps.

    sngan_peer.py G_CH D_CH BATCH N_DIS ITERS THREADS

Prints "torch median S s/iter, peak RSS M MiB"."""
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity"))
import sngan_torch  # noqa: E402


def main():
    g_ch, d_ch, batch, n_dis, iters, threads = (int(a) for a in sys.argv[1:7])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    G = sngan_torch.Generator(ch=g_ch, ncls=10).to(memory_format=torch.channels_last)
    D = sngan_torch.Discriminator(ch=d_ch, ncls=10).to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=4e-4, betas=(0.0, 0.9))

    def iteration():
        for _ in range(n_dis):
            x = (torch.rand(batch, 3, 32, 32) * 2 - 1).to(memory_format=torch.channels_last)
            y = torch.randint(0, 10, (batch,))
            z = torch.randn(batch, 128)
            yf = torch.randint(0, 10, (batch,))
            sngan_torch.d_step(G, D, opt_d, x, y, z, yf)
        sngan_torch.g_step(G, D, opt_g, torch.randn(batch, 128),
                           torch.randint(0, 10, (batch,)))

    iteration()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        iteration()
        times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("torch median %.3f s/iter, peak RSS %.0f MiB" % (statistics.median(times), rss))


if __name__ == "__main__":
    main()
