"""Recognise an ESRGAN-family state dict and build the network it fits.

Three layouts: BasicSR's RRDBNet (`conv_first`, `body.N.rdb1.conv1`, ..., as Real-ESRGAN
ships), the original ESRGAN repository's (`model.0`, `model.1.sub.N.RDB1.conv1.0`, ...,
as most community .pth upscalers are), and SRVGGNetCompact (`body.N`). Checkpoints that wrap
the weights (`params_ema`, `params`, `state_dict`) or prefix them (`module.`) are unwrapped.
Shapes decide the sizes (features, blocks, growth, scale); nothing else is trusted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WRAPPERS = ("params_ema", "params", "state_dict", "model", "net_g")
_OLD_BLOCK = re.compile(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)")
_NEW_BLOCK = re.compile(r"body\.(\d+)\.rdb\d\.conv\d\.(weight|bias)")
_COMPACT = re.compile(r"body\.(\d+)\.weight")


class LayoutError(ValueError):
    """The file holds no network of a layout Studio runs; the message says what it saw."""


@dataclass(frozen=True)
class Layout:
    """What a state dict is: the architecture, its sizes, and the state in our names."""

    arch: str  # "ESRGAN" or "Compact"
    scale: int
    options: Mapping[str, Any]
    state: Mapping[str, Any]

    def build(self) -> Any:
        from studio.upscalers import nets

        if self.arch == "Compact":
            net = nets.SRVGGNetCompact(scale=self.scale, **self.options)
        else:
            net = nets.RRDBNet(scale=self.scale, **self.options)
        missing, unexpected = net.load_state_dict(dict(self.state), strict=False)
        if missing or unexpected:
            first = (missing or unexpected)[0]
            what = "lacks" if missing else "has an unexpected"
            raise LayoutError(f"the {self.arch} weights {what} tensor {first!r}")
        return net.eval()


def unwrap(state: Mapping[str, Any]) -> dict[str, Any]:
    """The tensors of a checkpoint, without its wrapper dict or `module.` prefixes."""
    for key in WRAPPERS:
        inner = state.get(key)
        if isinstance(inner, Mapping) and inner:
            state = inner
            break
    return {k.removeprefix("module."): v for k, v in state.items() if hasattr(v, "shape")}


def recognise(state: Mapping[str, Any]) -> Layout:
    state = unwrap(state)
    if "conv_first.weight" in state:
        return _rrdb(state)
    if "model.0.weight" in state and "model.1.sub.0.RDB1.conv1.0.weight" in state:
        return _rrdb(_from_old(state))
    if "body.0.weight" in state:
        return _compact(state)
    sample = ", ".join(list(state)[:3]) or "no tensors"
    raise LayoutError(
        "not an ESRGAN, Real-ESRGAN or compact upscaler (its first tensors are "
        f"{sample}); Studio runs those three layouts"
    )


def _rrdb(state: dict[str, Any]) -> Layout:
    first = state["conv_first.weight"]
    feat, in_ch = int(first.shape[0]), int(first.shape[1])
    blocks = 1 + max(int(m.group(1)) for k in state if (m := _NEW_BLOCK.fullmatch(k)))
    grow = int(state["body.0.rdb1.conv1.weight"].shape[0])
    ups = sum(1 for k in state if re.fullmatch(r"conv_up\d+\.weight", k))
    scale = {3: 4, 12: 2, 48: 1}.get(in_ch)
    if scale is None:
        raise LayoutError(f"an RRDBNet taking {in_ch} channels is not a layout Studio runs")
    if scale == 4 and ups > 2:
        scale = 2**ups
    return Layout("ESRGAN", scale, {"feat": feat, "blocks": blocks, "grow": grow}, state)


def _from_old(state: dict[str, Any]) -> dict[str, Any]:
    """The original ESRGAN names mapped onto BasicSR's."""
    out: dict[str, Any] = {}
    rest: dict[int, dict[str, Any]] = {}
    for key, value in state.items():
        if m := _OLD_BLOCK.fullmatch(key):
            block, rdb, conv, kind = m.groups()
            out[f"body.{block}.rdb{rdb}.conv{conv}.{kind}"] = value
        elif m := re.fullmatch(r"model\.1\.sub\.\d+\.(weight|bias)", key):
            out[f"conv_body.{m.group(1)}"] = value
        elif m := re.fullmatch(r"model\.(\d+)\.(weight|bias)", key):
            rest.setdefault(int(m.group(1)), {})[m.group(2)] = value
    order = sorted(rest)  # conv_first, the upsampling convs, conv_hr, conv_last
    if len(order) < 4:
        raise LayoutError("an ESRGAN file without its upsampling layers")
    names = ["conv_first"] + [f"conv_up{k}" for k in range(1, len(order) - 2)]
    names += ["conv_hr", "conv_last"]
    for name, index in zip(names, order, strict=True):
        for kind, value in rest[index].items():
            out[f"{name}.{kind}"] = value
    return out


def _compact(state: dict[str, Any]) -> Layout:
    indices = sorted(int(m.group(1)) for k in state if (m := _COMPACT.fullmatch(k)))
    last = indices[-1]
    convs = (last - 2) // 2
    first = state["body.0.weight"]
    feat, in_ch = int(first.shape[0]), int(first.shape[1])
    act = "prelu" if "body.1.weight" in state else "leakyrelu"
    out_ch = int(state[f"body.{last}.weight"].shape[0])
    scale = round((out_ch / 3) ** 0.5)
    if scale * scale * 3 != out_ch or last != 2 * convs + 2:
        raise LayoutError(f"a compact upscaler with {out_ch} output channels is not a known one")
    options = {"feat": feat, "convs": convs, "act": act, "in_ch": in_ch}
    return Layout("Compact", scale, options, state)
