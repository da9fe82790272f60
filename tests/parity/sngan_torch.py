"""The 32x32 conditional SNGAN (ResNet generator with conditional batch
norm, projection discriminator with spectral norm) in PyTorch, written from
the architecture in Miyato and Koyama 2018; the reference the parity
fixtures and the benchmark peer use.  Parameter names are the ones dfmake
writes."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

SN = nn.utils.spectral_norm


class CondBN(nn.Module):
    def __init__(self, ch, ncls):
        super().__init__()
        self.bn = nn.BatchNorm2d(ch, affine=False)
        self.weight = nn.Embedding(ncls, ch)
        self.bias = nn.Embedding(ncls, ch)
        nn.init.ones_(self.weight.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x, y):
        h = self.bn(x)
        g = self.weight(y)[:, :, None, None]
        b = self.bias(y)[:, :, None, None]
        return g * h + b


def glorot(m, gain):
    nn.init.xavier_uniform_(m.weight, gain)
    if getattr(m, "bias", None) is not None:
        nn.init.zeros_(m.bias)
    return m


class GBlock(nn.Module):
    def __init__(self, cin, cout, ncls):
        super().__init__()
        self.b1 = CondBN(cin, ncls)
        self.c1 = glorot(nn.Conv2d(cin, cout, 3, 1, 1), math.sqrt(2))
        self.b2 = CondBN(cout, ncls)
        self.c2 = glorot(nn.Conv2d(cout, cout, 3, 1, 1), math.sqrt(2))
        self.c_sc = glorot(nn.Conv2d(cin, cout, 1, 1, 0), 1)

    def forward(self, x, y):
        h = F.relu(self.b1(x, y))
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.c1(h)
        h = self.c2(F.relu(self.b2(h, y)))
        sc = self.c_sc(F.interpolate(x, scale_factor=2, mode="nearest"))
        return h + sc


class Generator(nn.Module):
    def __init__(self, ch=256, ncls=10, zdim=128):
        super().__init__()
        self.ch = ch
        self.l1 = glorot(nn.Linear(zdim, 4 * 4 * ch), 1)
        self.block2 = GBlock(ch, ch, ncls)
        self.block3 = GBlock(ch, ch, ncls)
        self.block4 = GBlock(ch, ch, ncls)
        self.b5 = nn.BatchNorm2d(ch)
        self.c5 = glorot(nn.Conv2d(ch, 3, 3, 1, 1), 1)

    def forward(self, z, y):
        h = self.l1(z).view(z.shape[0], self.ch, 4, 4)
        h = self.block2(h, y)
        h = self.block3(h, y)
        h = self.block4(h, y)
        return torch.tanh(self.c5(F.relu(self.b5(h))))


class DBlock(nn.Module):
    def __init__(self, cin, cout, down):
        super().__init__()
        self.down = down
        self.c1 = SN(glorot(nn.Conv2d(cin, cin, 3, 1, 1), math.sqrt(2)))
        self.c2 = SN(glorot(nn.Conv2d(cin, cout, 3, 1, 1), math.sqrt(2)))
        self.learn_sc = cin != cout or down
        if self.learn_sc:
            self.c_sc = SN(glorot(nn.Conv2d(cin, cout, 1, 1, 0), 1))

    def forward(self, x):
        h = self.c2(F.relu(self.c1(F.relu(x))))
        sc = x
        if self.learn_sc:
            sc = self.c_sc(x)
        if self.down:
            h = F.avg_pool2d(h, 2)
            sc = F.avg_pool2d(sc, 2)
        return h + sc


class OptBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.c1 = SN(glorot(nn.Conv2d(cin, cout, 3, 1, 1), math.sqrt(2)))
        self.c2 = SN(glorot(nn.Conv2d(cout, cout, 3, 1, 1), math.sqrt(2)))
        self.c_sc = SN(glorot(nn.Conv2d(cin, cout, 1, 1, 0), 1))

    def forward(self, x):
        h = F.avg_pool2d(self.c2(F.relu(self.c1(x))), 2)
        return h + self.c_sc(F.avg_pool2d(x, 2))


class Discriminator(nn.Module):
    def __init__(self, ch=128, ncls=10):
        super().__init__()
        self.block1 = OptBlock(3, ch)
        self.block2 = DBlock(ch, ch, True)
        self.block3 = DBlock(ch, ch, False)
        self.block4 = DBlock(ch, ch, False)
        self.l5 = SN(glorot(nn.Linear(ch, 1), 1))
        self.l_y = SN(nn.Embedding(ncls, ch))
        nn.init.xavier_uniform_(self.l_y.weight_orig)

    def forward(self, x, y):
        h = self.block4(self.block3(self.block2(self.block1(x))))
        h = torch.sum(F.relu(h), dim=(2, 3))
        out = self.l5(h)
        return out + torch.sum(self.l_y(y) * h, dim=1, keepdim=True)


def d_step(G, D, opt_d, x_real, y_real, z, y_fake):
    """One discriminator update: real and fake scored in one batch."""
    with torch.no_grad():
        fake = G(z, y_fake)
    d = D(torch.cat([x_real, fake]), torch.cat([y_real, y_fake]))
    n = x_real.shape[0]
    loss = F.relu(1 - d[:n]).mean() + F.relu(1 + d[n:]).mean()
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    return loss.item()


def g_step(G, D, opt_g, z, y_fake):
    loss = -D(G(z, y_fake), y_fake).mean()
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    return loss.item()
