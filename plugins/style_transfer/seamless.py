"""Tileable style transfer: a photo that tiles (e.g. a texture made with Tileable in text to
image) stays tileable. The networks pad their convolutions at the picture's edges, which
leaves a seam where copies meet; here the photo is padded around with its own opposite edges
(as if tiled), stylised, and cropped back, so every edge pixel is painted with the pixels
that neighbour it in the tiling. A margin of an eighth of the longer side (at least 32 px)
measured no seam (bench/style_seamless.py)."""

from __future__ import annotations

from typing import Any

from studio.core.generator import BoolParam, Param

PARAM = "tileable"
MIN_MARGIN = 32


def params() -> tuple[Param, ...]:
    return (
        BoolParam(
            name=PARAM, label="Tileable",
            help="For a photo that tiles (a texture): paint its edges as if copies of it lay "
            "around, so the result tiles without a seam too (right-click it → Show tiled).",
        ),
    )  # fmt: skip


def margin_for(size: tuple[int, int]) -> int:
    return max(MIN_MARGIN, -(-max(size) // 8 // 4) * 4)  # a multiple of 4: the networks halve


def wrap(image: Any, margin: int) -> Any:
    """`image` with `margin` pixels of its opposite edges around it (wrapped, as tiles)."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(image)
    pad = ((margin, margin), (margin, margin)) + (((0, 0),) if pixels.ndim == 3 else ())
    return Image.fromarray(np.pad(pixels, pad, mode="wrap"), image.mode)


def crop(image: Any, margin: int, size: tuple[int, int]) -> Any:
    """The picture inside the margin, at its own size."""
    if not margin:
        return image
    return image.crop((margin, margin, margin + size[0], margin + size[1]))


def prepare(image: Any, on: bool) -> tuple[Any, int, tuple[int, int]]:
    """(the picture to stylise, its margin, the size to crop back to)."""
    size = image.size
    if not on:
        return image, 0, size
    margin = margin_for(size)
    return wrap(image, margin), margin, size
