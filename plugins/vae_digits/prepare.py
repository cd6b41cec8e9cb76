"""Turning any image into an MNIST-like digit, and digits back into pictures (numpy + Pillow).

MNIST digits are white ink on black, scaled to fit a 20x20 box and placed in a 28x28 field so
that their centre of mass is at the centre. A dropped photo or a drawing is brought to the same
form, because the encoder has only ever seen digits like that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

SIDE = 28
CENTRE = 14.0
BOX = 20  # MNIST fits each digit in a 20x20 box inside the 28x28 field
INK = 0.1  # a pixel darker than this (on the 0..1 ink scale) counts as background when cropping


def to_digit(image: Image.Image) -> np.ndarray:
    """A 28x28 float32 array in [0, 1], white ink on black, from an image of any mode and size.

    Light backgrounds are inverted. A 28x28 input is taken as an MNIST digit already (only
    the inversion applies); anything else is cropped to its ink, scaled into a 20x20 box and
    centred by mass, as MNIST was made.
    """
    ink = _ink(image)
    if ink.shape == (SIDE, SIDE):
        return ink
    return _normalise(ink)


def inverted(image: Image.Image) -> bool:
    """Whether `to_digit` treats this image as dark ink on a light background."""
    return _has_alpha_ink(image) is False and _background(_gray(image)) > 0.5


def _ink(image: Image.Image) -> np.ndarray:
    alpha = _has_alpha_ink(image)
    if alpha:  # strokes on a transparent sheet: opacity is the ink, whatever its colour
        return np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    gray = _gray(image)
    if _background(gray) > 0.5:
        gray = 1.0 - gray
    return gray


def _has_alpha_ink(image: Image.Image) -> bool:
    if image.mode not in ("RGBA", "LA", "PA"):
        return False
    lo, hi = image.getchannel("A").getextrema()
    return lo < 128 <= hi


def _gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _background(gray: np.ndarray) -> float:
    """The median of the border pixels: a digit rarely touches the edge of its picture."""
    return float(np.median(_border(gray)))


def _normalise(ink: np.ndarray) -> np.ndarray:
    ink = np.clip(ink - np.median(_border(ink)), 0.0, None)
    peak = float(ink.max())
    if peak <= 0.0:
        return np.zeros((SIDE, SIDE), np.float32)  # a blank picture stays blank
    ink = ink / peak
    rows = np.flatnonzero(ink.max(axis=1) > INK)
    cols = np.flatnonzero(ink.max(axis=0) > INK)
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = BOX / max(crop.shape)
    height = max(1, round(crop.shape[0] * scale))
    width = max(1, round(crop.shape[1] * scale))
    small = Image.fromarray(crop, "F").resize((width, height), Image.Resampling.LANCZOS)
    digit = np.clip(np.asarray(small, dtype=np.float32), 0.0, 1.0)
    return _centre_by_mass(digit)


def _border(array: np.ndarray) -> np.ndarray:
    return np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])


def _centre_by_mass(digit: np.ndarray) -> np.ndarray:
    height, width = digit.shape
    mass = digit.sum()
    cy = float((digit.sum(axis=1) * np.arange(height)).sum() / mass)
    cx = float((digit.sum(axis=0) * np.arange(width)).sum() / mass)
    # MNIST's digits have their centre of mass at pixel (14, 14) (measured on these 5,000);
    # the box goes where its centre lands there, kept inside the field
    top = int(np.clip(round(CENTRE - cy), 0, SIDE - height))
    left = int(np.clip(round(CENTRE - cx), 0, SIDE - width))
    field = np.zeros((SIDE, SIDE), np.float32)
    field[top : top + height, left : left + width] = digit
    return field


def to_gray_image(pixels: np.ndarray) -> Image.Image:
    """A [28, 28] array in [0, 1] as an 8-bit grayscale (L) image."""
    return Image.fromarray(to_bytes(pixels), "L")


def to_bytes(pixels: np.ndarray) -> np.ndarray:
    return np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)


def to_picture(pixels: np.ndarray, size: int = SIDE) -> Image.Image:
    """A digit as an RGB image of `size` px (upscaled with Lanczos when bigger than 28)."""
    image = to_gray_image(pixels).convert("RGB")
    if size != SIDE:
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    return image


def grid(digits: Any, columns: int, cell: int = SIDE) -> Image.Image:
    """Digits [N, 28, 28] in [0, 1] tiled row by row into one L image, `cell` px per digit."""
    digits = np.asarray(digits)
    rows = -(-len(digits) // columns)
    sheet = np.zeros((rows * SIDE, columns * SIDE), np.float32)
    for i, digit in enumerate(digits):
        r, c = divmod(i, columns)
        sheet[r * SIDE : (r + 1) * SIDE, c * SIDE : (c + 1) * SIDE] = digit
    image = to_gray_image(sheet)
    if cell != SIDE:
        image = image.resize((columns * cell, rows * cell), Image.Resampling.LANCZOS)
    return image
