"""Differentiable augmentation (Zhao et al., "Differentiable Augmentation for Data-Efficient
GAN Training", 2020): colour, translation and cutout applied to real and fake images alike
before the discriminator sees them, so a small folder does not let it memorise the data.

Every operation is made of differentiable tensor arithmetic, so the generator's gradient
flows through the augmentation of its own images. Images are [N, C, H, W] in [-1, 1].
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

TRANSLATION = 0.125  # shift by up to an eighth of the side, as in the paper
CUTOUT = 0.5  # a square of half the side set to 0


def diff_augment(x: torch.Tensor, generator: Any = None) -> torch.Tensor:
    """Colour (brightness, saturation, contrast), then translation, then cutout."""
    x = colour(x, generator)
    x = translation(x, TRANSLATION, generator)
    return cutout(x, CUTOUT, generator)


def _rand(n: int, generator: Any, device: torch.device) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=generator).to(device)


def colour(x: torch.Tensor, generator: Any = None) -> torch.Tensor:
    n = x.shape[0]
    x = x + (_rand(n, generator, x.device) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(n, generator, x.device) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(n, generator, x.device) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float, generator: Any = None) -> torch.Tensor:
    n, _c, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (n, 1, 1), generator=generator).to(x.device)
    tx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=generator).to(x.device)
    gb, gy, gx = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(h, device=x.device),
        torch.arange(w, device=x.device),
        indexing="ij",
    )
    gy = torch.clamp(gy + ty + 1, 0, h + 1)
    gx = torch.clamp(gx + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])  # what slides in is 0: mid grey
    return padded.permute(0, 2, 3, 1).contiguous()[gb, gy, gx].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float, generator: Any = None) -> torch.Tensor:
    n, _c, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=generator).to(x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=generator).to(x.device)
    gb, gy, gx = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(ch, device=x.device),
        torch.arange(cw, device=x.device),
        indexing="ij",
    )
    gy = torch.clamp(gy + oy - ch // 2, 0, h - 1)
    gx = torch.clamp(gx + ox - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gy, gx] = 0
    return x * mask.unsqueeze(1)
