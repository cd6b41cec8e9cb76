"""Read the weights out of an ncnn model (.param text + .bin blob) as numpy arrays.

Only what the Real-ESRGAN releases use: Convolution (weights stored as float16 or float32
behind a 4-byte tag, float32 bias) and PReLU (float32 slopes). The layer order of the .param
file is the order of the network's forward pass, which is the order of its PyTorch
parameters, so the arrays can be matched to a network of ours by position and shape.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

MAGIC = 7767517
FP16_TAG = 0x01306B47
FP32_TAG = 0
MAX_LAYERS = 10_000


class NcnnError(ValueError):
    """The files are not an ncnn model of the kind Studio reads."""


@dataclass(frozen=True)
class Layer:
    kind: str
    name: str
    options: dict[int, str]

    def number(self, key: int, default: int = 0) -> int:
        return int(self.options.get(key, default))


def parse_param(text: str) -> list[Layer]:
    """The layers of a .param file, in order."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].strip() != str(MAGIC):
        raise NcnnError("not an ncnn .param file (no magic number 7767517)")
    count = int(lines[1].split()[0])
    if count > MAX_LAYERS or len(lines) - 2 != count:
        raise NcnnError(f"the .param file declares {count} layers but holds {len(lines) - 2}")
    layers = []
    for line in lines[2:]:
        fields = line.split()
        kind, name, inputs, outputs = fields[0], fields[1], int(fields[2]), int(fields[3])
        options = {}
        for item in fields[4 + inputs + outputs :]:
            key, _, value = item.partition("=")
            options[int(key)] = value
        layers.append(Layer(kind, name, options))
    return layers


def read_weights(param_text: str, blob: bytes) -> list[tuple[str, np.ndarray]]:
    """(role, array) for every weight in the blob, in order: a convolution gives
    ("conv.weight", OIHW) and, with a bias, ("conv.bias", O); a PReLU ("prelu", C)."""
    out: list[tuple[str, np.ndarray]] = []
    offset = 0
    for layer in parse_param(param_text):
        if layer.kind == "Convolution":
            channels, kernel = layer.number(0), layer.number(1)
            count = layer.number(6)
            weight, offset = _tagged(blob, offset, count, layer.name)
            inputs = count // (channels * kernel * kernel)
            out.append(("conv.weight", weight.reshape(channels, inputs, kernel, kernel)))
            if layer.number(5):
                bias, offset = _raw(blob, offset, channels, layer.name)
                out.append(("conv.bias", bias))
        elif layer.kind == "PReLU":
            slopes, offset = _raw(blob, offset, layer.number(0, 1), layer.name)
            out.append(("prelu", slopes))
        elif layer.kind not in {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp",
                                "PixelShuffle"}:  # fmt: skip
            raise NcnnError(f"layer {layer.name}: {layer.kind} layers are not supported")
    if offset != len(blob):
        raise NcnnError(f"the .bin file holds {len(blob) - offset} bytes more than its layers")
    return out


def _tagged(blob: bytes, offset: int, count: int, name: str) -> tuple[np.ndarray, int]:
    if offset + 4 > len(blob):
        raise NcnnError(f"layer {name}: the .bin file ends early")
    (tag,) = struct.unpack_from("<I", blob, offset)
    offset += 4
    if tag == FP16_TAG:
        size = count * 2
        data = np.frombuffer(blob, "<f2", count, offset).astype(np.float32)
        return data, offset + (size + 3) // 4 * 4
    if tag == FP32_TAG:
        return _raw(blob, offset, count, name)
    raise NcnnError(f"layer {name}: weights stored as {tag:#x} (only float16/float32 are read)")


def _raw(blob: bytes, offset: int, count: int, name: str) -> tuple[np.ndarray, int]:
    if offset + count * 4 > len(blob):
        raise NcnnError(f"layer {name}: the .bin file ends early")
    return np.frombuffer(blob, "<f4", count, offset).copy(), offset + count * 4
