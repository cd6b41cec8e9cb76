"""The ESRGAN family's networks in PyTorch: RRDBNet (ESRGAN, Real-ESRGAN x4plus and its
anime variant) and SRVGGNetCompact (Real-ESRGAN's compact "animevideo" and "general" nets).

Written after the published architectures (xinntao's ESRGAN and BasicSR, BSD-3-Clause /
Apache-2.0), with their parameter names, so their state dicts load as they are. This module
imports torch: import it only inside functions.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the usual name


class ResidualDenseBlock(nn.Module):
    def __init__(self, feat: int, grow: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(feat, grow, 3, 1, 1)
        self.conv2 = nn.Conv2d(feat + grow, grow, 3, 1, 1)
        self.conv3 = nn.Conv2d(feat + 2 * grow, grow, 3, 1, 1)
        self.conv4 = nn.Conv2d(feat + 3 * grow, grow, 3, 1, 1)
        self.conv5 = nn.Conv2d(feat + 4 * grow, feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, feat: int, grow: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(feat, grow)
        self.rdb2 = ResidualDenseBlock(feat, grow)
        self.rdb3 = ResidualDenseBlock(feat, grow)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN's generator in BasicSR's layout. Scale 4 and 8 upsample by nearest + conv;
    scale 2 and 1 take the picture pixel-unshuffled (4 or 16 times the channels), as
    Real-ESRGAN's x2plus does. `ups` may exceed 2 for old ESRGAN x8 files."""

    def __init__(
        self, scale: int = 4, feat: int = 64, blocks: int = 23, grow: int = 32, in_ch: int = 3
    ) -> None:
        super().__init__()
        self.scale = scale
        self.unshuffle = {1: 4, 2: 2}.get(scale, 1)
        self.ups = max(2, (scale // 4).bit_length() + 1) if scale >= 4 else 2
        self.conv_first = nn.Conv2d(in_ch * self.unshuffle**2, feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(feat, grow) for _ in range(blocks)))
        self.conv_body = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(feat, feat, 3, 1, 1)
        for k in range(3, self.ups + 1):
            self.add_module(f"conv_up{k}", nn.Conv2d(feat, feat, 3, 1, 1))
        self.conv_hr = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(feat, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for k in range(1, self.ups + 1):
            up = getattr(self, f"conv_up{k}")
            feat = self.lrelu(up(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN's compact VGG-style net: convs at the input size, a pixel shuffle, and the
    nearest-upsampled input added back."""

    def __init__(
        self, scale: int = 4, feat: int = 64, convs: int = 16, act: str = "prelu", in_ch: int = 3
    ) -> None:
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(in_ch, feat, 3, 1, 1), _activation(act, feat)]
        for _ in range(convs):
            layers += [nn.Conv2d(feat, feat, 3, 1, 1), _activation(act, feat)]
        layers.append(nn.Conv2d(feat, 3 * scale * scale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        return self.upsampler(out) + F.interpolate(x, scale_factor=self.scale, mode="nearest")


def _activation(act: str, feat: int) -> nn.Module:
    if act == "prelu":
        return nn.PReLU(num_parameters=feat)
    if act == "relu":
        return nn.ReLU(inplace=True)
    return nn.LeakyReLU(0.1, inplace=True)
