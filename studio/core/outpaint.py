"""Outpainting's pictures: a picture extended by margins, the margins pre-filled so that a model
continues the picture rather than paints on grey, and the mask over them with a feathered seam.

The sizes are grown to multiples of 8 (what Stable Diffusion takes); the margins grow, never
the picture. Pre-fills: "stretch" repeats each edge row or column outwards (A1111's "fill"
of its resize modes), "blur" does that and then blurs the margins heavily, so that only the
colours carry over. The mask is white over the margins and ramps down to black over
`feather` pixels inside the old picture, so the new pixels blend into the old. PIL and
numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

FILLS = ("stretch", "blur")
MAX_SIDE = 4096


class OutpaintError(ValueError):
    """Margins that make no picture: none at all, negative, or too large."""


@dataclass(frozen=True)
class Margins:
    left: int = 0
    right: int = 0
    top: int = 0
    bottom: int = 0

    def size(self, width: int, height: int) -> tuple[int, int]:
        return width + self.left + self.right, height + self.top + self.bottom


def margins_for_ratio(width: int, height: int, ratio: float) -> Margins:
    """Margins that bring width × height to the aspect ratio `ratio` (width / height), added
    evenly to both sides of the short dimension."""
    if not 0.1 <= ratio <= 10:
        raise OutpaintError(f"An aspect ratio of {ratio:g} is out of range (0.1 to 10)")
    if width / height < ratio:
        grow = round(height * ratio) - width
        return Margins(left=grow // 2, right=grow - grow // 2)
    grow = round(width / ratio) - height
    return Margins(top=grow // 2, bottom=grow - grow // 2)


def parse_ratio(text: str) -> float:
    """ "16:9", "16/9", "1.5" as a number; a clear error otherwise."""
    cleaned = text.strip().replace("/", ":").replace("x", ":").replace("×", ":")
    try:
        if ":" in cleaned:
            w, _, h = cleaned.partition(":")
            return float(w) / float(h)
        return float(cleaned)
    except (ValueError, ZeroDivisionError):
        raise OutpaintError(f"'{text}' is not an aspect ratio (try 16:9 or 1.5)") from None


def to_multiple(margins: Margins, width: int, height: int, multiple: int = 8) -> Margins:
    """The margins grown (on the sides that are extended, else on the far side) so that the
    extended picture's sides are multiples of `multiple`."""
    new_w, new_h = margins.size(width, height)
    more_w, more_h = -new_w % multiple, -new_h % multiple
    left, right, top, bottom = margins.left, margins.right, margins.top, margins.bottom
    if more_w:
        if left and not right:
            left += more_w
        else:
            right += more_w
    if more_h:
        if top and not bottom:
            top += more_h
        else:
            bottom += more_h
    return Margins(left, right, top, bottom)


def extend(
    image: Image.Image, margins: Margins, fill: str = "stretch", feather: int = 16
) -> tuple[Image.Image, Image.Image]:
    """(the extended, pre-filled picture, its mask); sides rounded up to multiples of 8."""
    values = (margins.left, margins.right, margins.top, margins.bottom)
    if min(values) < 0:
        raise OutpaintError("Margins cannot be negative")
    if not any(values):
        raise OutpaintError("Extend by at least one side (pixels or an aspect ratio)")
    if fill not in FILLS:
        raise OutpaintError(f"Unknown fill '{fill}' (one of: {', '.join(FILLS)})")
    margins = to_multiple(margins, image.width, image.height)
    new_w, new_h = margins.size(image.width, image.height)
    if max(new_w, new_h) > MAX_SIDE:
        raise OutpaintError(f"{new_w}×{new_h} is too large (at most {MAX_SIDE} a side)")
    pixels = np.asarray(image.convert("RGB"))
    pad = ((margins.top, margins.bottom), (margins.left, margins.right), (0, 0))
    filled = Image.fromarray(np.pad(pixels, pad, mode="edge"))
    box = (margins.left, margins.top, margins.left + image.width, margins.top + image.height)
    if fill == "blur":
        radius = max(8, max(values) // 4)
        blurred = filled.filter(ImageFilter.GaussianBlur(radius))
        blurred.paste(image.convert("RGB"), box[:2])
        filled = blurred
    return filled, _mask((new_w, new_h), box, margins, feather)


def _mask(
    size: tuple[int, int], box: tuple[int, int, int, int], margins: Margins, feather: int
) -> Image.Image:
    """White over the margins; inside the old picture, a ramp from white to black over
    `feather` pixels from each extended side (the sides not extended stay black)."""
    width, height = size
    x1, y1, x2, y2 = box
    xs, ys = np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    # distance into the old picture from each extended side (inf where not extended)
    into = np.full((height, width), np.inf, dtype=np.float32)
    if margins.left:
        into = np.minimum(into, (xs - x1)[None, :])
    if margins.right:
        into = np.minimum(into, (x2 - 1 - xs)[None, :])
    if margins.top:
        into = np.minimum(into, (ys - y1)[:, None])
    if margins.bottom:
        into = np.minimum(into, (y2 - 1 - ys)[:, None])
    ramp = 1.0 - np.clip((into + 1) / max(1, feather + 1), 0.0, 1.0) if feather else (into < 0)
    alpha = np.asarray(ramp, dtype=np.float32)
    outside = np.ones((height, width), dtype=bool)
    outside[y1:y2, x1:x2] = False
    alpha[outside] = 1.0
    return Image.fromarray((alpha * 255).round().astype(np.uint8), "L")
