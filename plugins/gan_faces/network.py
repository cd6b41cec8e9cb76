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
