"""Seamless tiles: every convolution of the UNet and the VAE pads circularly, so the picture
wraps around at its edges and repeats without a seam (A1111's "Tiling", which sets the same
padding mode on the same layers). Switched per run on the shared weights; off by default."""

from __future__ import annotations

from typing import Any

from studio.core.generator import BoolParam, Param

PARAM = "tiling"


def params() -> tuple[Param, ...]:
    return (
        BoolParam(
            name=PARAM, label="Tileable",
            help="Seamless tiles: the picture wraps around at its edges, so copies of it "
            "side by side show no seam (right-click the result → Show tiled). As A1111's "
            "Tiling.",
        ),
    )  # fmt: skip


def apply(loaded: Any, on: bool) -> None:
    """Circular (on) or zero (off) padding in the model's UNet and VAE convolutions."""
    import torch

    mode = "circular" if on else "zeros"
    pipe = loaded.text2img
    for model in (getattr(pipe, "unet", None), getattr(pipe, "vae", None)):
        if model is None:
            continue
        for layer in model.modules():
            if isinstance(layer, torch.nn.Conv2d) and layer.padding_mode != mode:
                layer.padding_mode = mode


def infotext(p: Any) -> dict[str, Any]:
    """A1111 writes `Tiling: True` only when it is on."""
    return {"Tiling": "True" if p.get(PARAM) else None}
