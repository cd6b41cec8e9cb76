"""Init images and masks the way AUTOMATIC1111 prepares them, and inpainting's paste-back.

Resize modes (A1111's `images.resize_image`): "just resize" stretches to the size; "crop and
resize" fills the size and crops what sticks out, centred; "resize and fill" fits the image
inside and fills the two margins by stretching its edge rows or columns. Inpainting keeps the
original outside the (blurred) mask, as A1111 and InvokeAI do; "only masked" crops around the
mask with padding, grown to the output's aspect ratio, inpaints that crop at the full
Width × Height, and pastes it back into the untouched original. PIL and numpy only.
"""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageFilter

from .choices import RESIZE_LABELS, RESIZE_MODES

__all__ = ["RESIZE_LABELS", "RESIZE_MODES", "resize", "composite", "crop_region", "paste_back"]
LANCZOS = Image.Resampling.LANCZOS


def resize(image: Image.Image, width: int, height: int, mode: str) -> Image.Image:
    """`image` at exactly width × height, by one of RESIZE_MODES."""
    if mode == "just_resize" or image.size == (width, height):
        return image.resize((width, height), LANCZOS)
    ratio, source = width / height, image.width / image.height
    if mode == "crop_resize":
        scale = width / image.width if ratio > source else height / image.height
        w, h = max(width, round(image.width * scale)), max(height, round(image.height * scale))
        left, top = (w - width) // 2, (h - height) // 2
        return image.resize((w, h), LANCZOS).crop((left, top, left + width, top + height))
    if mode != "resize_fill":
        raise ValueError(f"unknown resize mode {mode}")
    scale = width / image.width if ratio < source else height / image.height
    w = max(1, min(width, round(image.width * scale)))
    h = max(1, min(height, round(image.height * scale)))
    inner = image.resize((w, h), LANCZOS)
    out = Image.new(image.mode, (width, height))
    left, top = (width - w) // 2, (height - h) // 2
    out.paste(inner, (left, top))
    if h < height:  # stretch the first and last rows over the top and bottom margins
        if top:
            out.paste(inner.crop((0, 0, w, 1)).resize((width, top)), (0, 0))
        rest = height - top - h
        if rest:
            out.paste(inner.crop((0, h - 1, w, h)).resize((width, rest)), (0, top + h))
        if w < width:
            out.paste(inner.resize((width, h)), (0, top))
    elif w < width:
        if left:
            out.paste(inner.crop((0, 0, 1, h)).resize((left, height)), (0, 0))
        rest = width - left - w
        if rest:
            out.paste(inner.crop((w - 1, 0, w, h)).resize((rest, height)), (left + w, 0))
    return out


def blurred(mask: Image.Image, radius: int) -> Image.Image:
    """The mask softened as A1111's "Mask blur" softens it (a Gaussian of that radius)."""
    mask = mask.convert("L")
    return mask.filter(ImageFilter.GaussianBlur(radius)) if radius > 0 else mask


def composite(generated: Image.Image, original: Image.Image, mask: Image.Image) -> Image.Image:
    """The generated pixels where the mask is white, the original where it is black, and a
    blend of the two on a soft edge."""
    original = original.convert("RGB").resize(generated.size, LANCZOS)
    alpha = mask.convert("L").resize(generated.size, Image.Resampling.BILINEAR)
    return Image.composite(generated.convert("RGB"), original, alpha)


def crop_region(
    mask: Image.Image, padding: int, width: int, height: int
) -> tuple[int, int, int, int] | None:
    """The box around the mask's painted pixels with `padding`, grown to width:height (within
    the image); None when nothing is painted."""
    box = mask.convert("L").point(lambda v: 255 if v > 0 else 0).getbbox()
    if box is None:
        return None
    x1, y1, x2, y2 = box
    x1, y1 = max(0, x1 - padding), max(0, y1 - padding)
    x2, y2 = min(mask.width, x2 + padding), min(mask.height, y2 + padding)
    return _grow_to_ratio((x1, y1, x2, y2), width / height, mask.width, mask.height)


def _grow_to_ratio(
    box: tuple[int, int, int, int], ratio: float, limit_w: int, limit_h: int
) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    if w / h < ratio:
        want = min(limit_w, round(h * ratio))
        x1, x2 = _widen(x1, x2, want, limit_w)
    else:
        want = min(limit_h, round(w / ratio))
        y1, y2 = _widen(y1, y2, want, limit_h)
    return x1, y1, x2, y2


def _widen(lo: int, hi: int, want: int, limit: int) -> tuple[int, int]:
    grow = want - (hi - lo)
    lo -= grow // 2
    hi += grow - grow // 2
    if lo < 0:
        hi, lo = min(limit, hi - lo), 0
    if hi > limit:
        lo, hi = max(0, lo - (hi - limit)), limit
    return lo, hi


def paste_back(
    patch: Image.Image, original: Image.Image, mask: Image.Image, box: tuple[int, int, int, int]
) -> Image.Image:
    """The inpainted crop scaled back into its box of the original, blended by the mask."""
    x1, y1, x2, y2 = box
    scaled = patch.convert("RGB").resize((x2 - x1, y2 - y1), LANCZOS)
    placed = original.convert("RGB").copy()
    placed.paste(scaled, (x1, y1))
    return Image.composite(placed, original.convert("RGB"), mask.convert("L"))


def neutral_init(width: int, height: int) -> tuple[Any, Any]:
    """A mid-grey picture and a full mask: how an inpainting model runs text to image."""
    return Image.new("RGB", (width, height), (127, 127, 127)), Image.new("L", (width, height), 255)
