"""Tileable faces: the DCGAN's upsampling layers computed circularly, so the picture repeats
without a seam. PyTorch's transposed convolutions only pad with zeros; a circular one is the
plain one without padding, with what spills over each edge added onto the opposite edge. The
first layer (1 × 1 → 4 × 4) is left as it is: its 4 × 4 output is one period of the tiling.
Imported on the worker only (torch)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional


def forward(net: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """`net` (a DCGAN generator: `net.main` a Sequential) run with circular upsampling."""
    x = z
    for layer in net.main:
        if isinstance(layer, nn.ConvTranspose2d) and layer.padding != (0, 0):
            x = circular_conv_transpose(x, layer)
        else:
            x = layer(x)
    return x


def circular_conv_transpose(x: torch.Tensor, conv: nn.ConvTranspose2d) -> torch.Tensor:
    """`conv` over `x` as if `x` repeated in every direction: the output is `stride` times
    the input's size and wraps around exactly."""
    full = functional.conv_transpose2d(x, conv.weight, conv.bias, stride=conv.stride)
    for axis in (0, 1):
        dim = 2 + axis
        full = _fold(full, conv.padding[axis], x.shape[dim] * conv.stride[axis], dim)
    return full


def _fold(t: torch.Tensor, pad: int, size: int, dim: int) -> torch.Tensor:
    """Cut `size` after `pad` along `dim`; add the `pad` before it onto the end and what lies
    after it onto the start (the spill-over of a circular layer)."""
    core = t.narrow(dim, pad, size).clone()
    head = t.narrow(dim, 0, pad)
    tail = t.narrow(dim, pad + size, t.shape[dim] - pad - size)
    core.narrow(dim, size - pad, pad).add_(head)
    core.narrow(dim, 0, tail.shape[dim]).add_(tail)
    return core
