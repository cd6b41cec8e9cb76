"""The user's own PyTorch style checkpoints, in the two common formats.

- fast-neural-style (pytorch/examples): a `TransformerNet` state dict in a .pth or .model file;
  input and output are 0-255. Old files carry `in*.running_mean/var` keys, which are dropped.
- AdaIN (Huang & Belongie; the widely used pytorch-AdaIN layout): `vgg_normalised.pth` (the
  encoder, used up to relu4_1) and `decoder.pth`, side by side in one folder.

Every file is read with `torch.load(weights_only=True)`: a checkpoint can hold tensors, never code.
Imported only on the worker thread (it imports torch).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .torch_nets_names import ADAIN_FILES, FAST_SUFFIXES

__all__ = ["ADAIN_FILES", "FAST_SUFFIXES", "CheckpointError", "load_adain", "load_fast"]
_OLD_NORM_KEY = re.compile(r"(^|\.)in\d+\.running_(mean|var)$")


class CheckpointError(ValueError):
    """A file that is not a checkpoint of the expected kind; the message says which and why."""


# ---------------------------------------------------------------- fast-neural-style


class ConvLayer(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel // 2)
        self.conv2d = nn.Conv2d(channels_in, channels_out, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, 1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3, 1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(out)) + x


class UpsampleConvLayer(nn.Module):
    def __init__(
        self, channels_in: int, channels_out: int, kernel: int, stride: int, upsample: int
    ) -> None:
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel // 2)
        self.conv2d = nn.Conv2d(channels_in, channels_out, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


class TransformerNet(nn.Module):
    """Johnson et al.'s feed-forward network, as in pytorch/examples/fast_neural_style."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = ConvLayer(3, 32, 9, 1)
        self.in1 = nn.InstanceNorm2d(32, affine=True)
        self.conv2 = ConvLayer(32, 64, 3, 2)
        self.in2 = nn.InstanceNorm2d(64, affine=True)
        self.conv3 = ConvLayer(64, 128, 3, 2)
        self.in3 = nn.InstanceNorm2d(128, affine=True)
        self.res1, self.res2, self.res3 = ResidualBlock(128), ResidualBlock(128), ResidualBlock(128)
        self.res4, self.res5 = ResidualBlock(128), ResidualBlock(128)
        self.deconv1 = UpsampleConvLayer(128, 64, 3, 1, upsample=2)
        self.in4 = nn.InstanceNorm2d(64, affine=True)
        self.deconv2 = UpsampleConvLayer(64, 32, 3, 1, upsample=2)
        self.in5 = nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, 9, 1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for block in (self.res1, self.res2, self.res3, self.res4, self.res5):
            y = block(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


# ---------------------------------------------------------------- AdaIN


def _pad_conv(channels_in: int, channels_out: int) -> list[nn.Module]:
    return [
        nn.ReflectionPad2d((1, 1, 1, 1)),
        nn.Conv2d(channels_in, channels_out, (3, 3)),
        nn.ReLU(),
    ]


def vgg_normalised() -> nn.Sequential:
    """The normalised VGG-19 of AdaIN (53 modules; the encoder is the first 31, to relu4_1)."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, (1, 1))]
    plan = [(3, 64), (64, 64), "pool", (64, 128), (128, 128), "pool"]
    plan += [(128, 256), (256, 256), (256, 256), (256, 256), "pool"]
    plan += [(256, 512), (512, 512), (512, 512), (512, 512), "pool"]
    plan += [(512, 512)] * 4
    for step in plan:
        if step == "pool":
            layers.append(nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True))
        else:
            layers += _pad_conv(*step)
    return nn.Sequential(*layers)


ENCODER_DEPTH = 31  # up to relu4_1


def adain_decoder() -> nn.Sequential:
    up = nn.Upsample(scale_factor=2, mode="nearest")
    layers: list[nn.Module] = [*_pad_conv(512, 256), up]
    layers += _pad_conv(256, 256) * 1 + _pad_conv(256, 256) + _pad_conv(256, 256)
    layers += [*_pad_conv(256, 128), nn.Upsample(scale_factor=2, mode="nearest")]
    layers += [
        *_pad_conv(128, 128),
        *_pad_conv(128, 64),
        nn.Upsample(scale_factor=2, mode="nearest"),
    ]
    layers += [*_pad_conv(64, 64), nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(64, 3, (3, 3))]
    return nn.Sequential(*layers)


def adain(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Give `content` features the per-channel mean and deviation of `style` features."""
    c_mean = content.mean(dim=(2, 3), keepdim=True)
    c_std = (content.var(dim=(2, 3), keepdim=True) + eps).sqrt()
    s_mean = style.mean(dim=(2, 3), keepdim=True)
    s_std = (style.var(dim=(2, 3), keepdim=True) + eps).sqrt()
    return (content - c_mean) / c_std * s_std + s_mean


# ---------------------------------------------------------------- loading


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from `path`, loaded without running any code the file might carry."""
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"'{path}' does not exist") from None
    except Exception as exc:  # noqa: BLE001 - pickle, zip and weights-only errors all mean the same
        raise CheckpointError(
            f"'{path.name}' is not a PyTorch checkpoint Studio can read safely "
            f"(weights only): {_reason(exc)}"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"'{path.name}' holds no state dict of tensors")
    return state


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _reason(exc: BaseException) -> str:
    """The line of torch's long weights-only message that says what was refused."""
    lines = [_ANSI.sub("", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if "Unsupported" in line or "WeightsUnpickler error" in line:
            return line.replace("WeightsUnpickler error:", "").strip()[:240]
    return (lines[0] if lines else type(exc).__name__)[:240]


def _load_into(module: nn.Module, state: dict, path: Path, kind: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).split("\n\t")[1] if "\n\t" in str(exc) else str(exc)
        raise CheckpointError(f"'{path.name}' is not a {kind} checkpoint: {first[:240]}") from None


def load_fast(path: Path) -> TransformerNet:
    state = {k: v for k, v in read_state(path).items() if not _OLD_NORM_KEY.search(k)}
    net = TransformerNet()
    _load_into(net, state, path, "fast-neural-style TransformerNet")
    return net.eval()


def load_adain(folder: Path) -> tuple[nn.Sequential, nn.Sequential]:
    missing = [name for name in ADAIN_FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"the AdaIN folder '{folder}' lacks {' and '.join(missing)}")
    vgg = vgg_normalised()
    state = read_state(folder / "vgg_normalised.pth")
    if len(state) < len(vgg.state_dict()):  # an encoder saved only up to relu4_1
        vgg = nn.Sequential(*list(vgg.children())[:ENCODER_DEPTH])
    _load_into(vgg, state, folder / "vgg_normalised.pth", "AdaIN VGG encoder")
    decoder = adain_decoder()
    _load_into(decoder, read_state(folder / "decoder.pth"), folder / "decoder.pth", "AdaIN decoder")
    encoder = nn.Sequential(*list(vgg.children())[:ENCODER_DEPTH])
    return encoder.eval(), decoder.eval()


# ---------------------------------------------------------------- running


def _tensor(array: np.ndarray, scale: float, like: nn.Module) -> torch.Tensor:
    """An NCHW tensor on the device of the network `like`."""
    device = next(like.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None] * scale
    return x.to(device)


def _array(tensor: torch.Tensor, scale: float) -> np.ndarray:
    return (tensor[0] / scale).clamp(0, 1).permute(1, 2, 0).float().cpu().numpy()


def fast_network(net: TransformerNet):  # noqa: ANN201 - tiling.Network
    """A function of one HxWx3 0-1 tile, for the tiler."""

    def run(tile: np.ndarray) -> np.ndarray:
        with torch.inference_mode():  # odd sizes come back a little larger: crop
            out = _array(net(_tensor(tile, 255.0, net)), 255.0)
        return out[: tile.shape[0], : tile.shape[1]]

    return run


def style_features(encoder: nn.Sequential, painting: np.ndarray) -> torch.Tensor:
    with torch.inference_mode():
        return encoder(_tensor(painting, 1.0, encoder))


def adain_network(
    encoder: nn.Sequential,
    decoder: nn.Sequential,
    styles: list[tuple[torch.Tensor, float]],
    alpha: float,
):  # noqa: ANN201 - tiling.Network
    """AdaIN under fixed style features (a weighted mix), with content/style balance `alpha`."""
    total = sum(w for _, w in styles)

    def run(tile: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            content = encoder(_tensor(tile, 1.0, encoder))
            target = sum(adain(content, feats) * (w / total) for feats, w in styles)
            mixed = alpha * target + (1 - alpha) * content
            out = _array(decoder(mixed), 1.0)
        return out[: tile.shape[0], : tile.shape[1]]

    return run
