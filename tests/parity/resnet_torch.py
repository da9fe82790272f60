"""ResNet-18 in PyTorch with torchvision's parameter names, in the CIFAR
stem (3x3 first convolution, no max pool) and the ImageNet one; the
reference for dfmake's stages/nn/resnet.c.  width is the first stage's
channel count (64 in the paper)."""
import math

import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        sc = x if self.downsample is None else self.downsample(x)
        return F.relu(h + sc)


class ResNet18(nn.Module):
    def __init__(self, nclass, width=64, imagenet=False):
        super().__init__()
        self.imagenet = imagenet
        if imagenet:
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        cin = width
        for stage in range(4):
            cout = width << stage
            stride = 1 if stage == 0 else 2
            layer = nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1))
            setattr(self, "layer%d" % (stage + 1), layer)
            cin = cout
        self.fc = nn.Linear(cin, nclass)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        bound = 1 / math.sqrt(cin)
        nn.init.uniform_(self.fc.weight, -bound, bound)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        if self.imagenet:
            h = F.max_pool2d(h, 3, 2, 1)
        for stage in range(4):
            h = getattr(self, "layer%d" % (stage + 1))(h)
        return self.fc(h.mean(dim=(2, 3)))
