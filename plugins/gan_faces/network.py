"""The DCGAN generator network (PyTorch tutorial layout: nz=100, ngf=64, 64x64 RGB, tanh)."""

from __future__ import annotations

import torch
from torch import nn

NZ = 100
NGF = 64


class DCGANGenerator(nn.Module):
    """Maps a latent vector [N, 100, 1, 1] to an image [N, 3, 64, 64] in [-1, 1]."""

    def __init__(self, nz: int = NZ, ngf: int = NGF, channels: int = 3) -> None:
        super().__init__()

        def up(cin: int, cout: int, stride: int, pad: int) -> list[nn.Module]:
            conv = nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False)
            return [conv, nn.BatchNorm2d(cout), nn.ReLU(True)]

        # Layer indices must match the published state dict (main.0 ... main.12).
        self.main = nn.Sequential(
            *up(nz, ngf * 8, 1, 0),
            *up(ngf * 8, ngf * 4, 2, 1),
            *up(ngf * 4, ngf * 2, 2, 1),
            *up(ngf * 2, ngf, 2, 1),
            nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """The DCGAN tutorial's discriminator: an image [N, 3, 64, 64] to one logit per image.

    It returns logits (no sigmoid) so the loss can use the numerically stable
    `binary_cross_entropy_with_logits`; sigmoid(logit) is the tutorial's D(x)."""

    def __init__(self, ndf: int = NGF, channels: int = 3) -> None:
        super().__init__()

        def down(cin: int, cout: int, norm: bool = True) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, 2, 1, bias=False)]
            if norm:
                layers.append(nn.BatchNorm2d(cout))
            return [*layers, nn.LeakyReLU(0.2, inplace=True)]

        self.main = nn.Sequential(
            *down(channels, ndf, norm=False),
            *down(ndf, ndf * 2),
            *down(ndf * 2, ndf * 4),
            *down(ndf * 4, ndf * 8),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


def init_weights(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: conv weights N(0, 0.02), batch norm N(1, 0.02), 0."""
    name = type(module).__name__
    if "Conv" in name:
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
