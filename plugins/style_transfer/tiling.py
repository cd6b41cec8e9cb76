"""Full-resolution stylisation with a fixed-size network: overlapping tiles, feathered blending,
and one global pass that keeps the tiles' tones in agreement.

A network that sees one tile at a time normalises each tile on its own, so neighbouring tiles
drift apart in tone. The global pass (the whole photo at the network's size, one style vector)
fixes the low frequencies; the tiles supply the detail. Pure numpy and Pillow.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

Network = Callable[[np.ndarray], np.ndarray]  # HxWx3 float 0-1 -> same shape


def starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: evenly spread, covering [0, length), each `tile` long."""
    if length <= tile:
        return [0]
    count = -(-(length - overlap) // (tile - overlap))  # ceil
    span = length - tile
    return [round(i * span / (count - 1)) for i in range(count)]


def ramp(tile: int, overlap: int, first: bool, last: bool) -> np.ndarray:
    """Blend weights along one axis of a tile: a raised cosine over the overlap on inner edges."""
    weights = np.ones(tile, dtype=np.float32)
    if overlap <= 0:
        return weights
    rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap, dtype=np.float32) + 0.5) / overlap)
    if not first:
        weights[:overlap] = rise
    if not last:
        weights[-overlap:] = np.minimum(weights[-overlap:], rise[::-1])
    return weights


def grid(height: int, width: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    return [(y, x) for y in starts(height, tile, overlap) for x in starts(width, tile, overlap)]


def stylise_tiled(
    image: np.ndarray,
    network: Network,
    tile: int,
    overlap: int,
    on_tile: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Run `network` over overlapping `tile`-sized windows of `image` and blend the outputs.

    Images smaller than a tile are reflect-padded up to it. `on_tile(done, total)` is called
    after every tile (progress, and the place to check for cancellation).
    """
    height, width = image.shape[:2]
    pad_h, pad_w = max(0, tile - height), max(0, tile - width)
    if pad_h or pad_w:
        image = pad_to(image, pad_h, pad_w)
    full_h, full_w = image.shape[:2]
    acc = np.zeros((full_h, full_w, 3), dtype=np.float32)
    weight = np.zeros((full_h, full_w, 1), dtype=np.float32)
    ys, xs = starts(full_h, tile, overlap), starts(full_w, tile, overlap)
    total, done = len(ys) * len(xs), 0
    for y in ys:
        wy = ramp(tile, overlap, y == ys[0], y == ys[-1])
        for x in xs:
            wx = ramp(tile, overlap, x == xs[0], x == xs[-1])
            out = network(np.ascontiguousarray(image[y : y + tile, x : x + tile]))
            w = (wy[:, None] * wx[None, :])[..., None]
            acc[y : y + tile, x : x + tile] += out * w
            weight[y : y + tile, x : x + tile] += w
            done += 1
            if on_tile is not None:
                on_tile(done, total)
    return (acc / weight)[:height, :width]


ANCHOR_SIGMA = 6.0  # pixels of the global pass: broad tone only, never strokes


def single_pass(
    photo: np.ndarray, network: Network, tile: int, fixed_size: bool = True
) -> np.ndarray:
    """The whole photo shrunk to fit one tile (never enlarged), through `network`, at that
    size. A `fixed_size` network gets its input padded to exactly `tile`."""
    height, width = photo.shape[:2]
    scale = min(1.0, tile / max(height, width))
    small_w, small_h = max(1, round(width * scale)), max(1, round(height * scale))
    small = resize_8bit(photo, small_w, small_h)
    if fixed_size:
        small = pad_to(small, tile - small_h, tile - small_w)
    return network(np.ascontiguousarray(small))[:small_h, :small_w]


def full_resolution(
    photo: np.ndarray,
    network: Network,
    tile: int,
    overlap: int,
    detail: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
    fixed_size: bool = True,
) -> np.ndarray:
    """Stylise `photo` at its own size with a network that sees `tile` pixels at a time
    (exactly `tile` when `fixed_size`; a fully convolutional network takes any size).

    detail: the scale at which the network sees the photo. 1.0 tiles it at full resolution
    (finest strokes); 0.5 tiles it at half size and upscales; 0 is one pass at `tile` pixels,
    upscaled (soft: the baseline). Tiles are anchored to the one-pass result's broad tones.
    """
    height, width = photo.shape[:2]
    overall = single_pass(photo, network, tile, fixed_size)
    if detail <= 0 or max(height, width) * detail <= tile:
        if progress is not None:
            progress(1, 1)
        return resize_8bit(overall, width, height)
    work = photo
    if detail < 1.0:
        work = resize_8bit(photo, round(width * detail), round(height * detail))
    styled = stylise_tiled(work, network, tile, overlap, progress)
    styled = anchor(styled, overall, sigma=ANCHOR_SIGMA)
    if styled.shape[:2] != (height, width):
        styled = resize_8bit(styled, width, height)
    return styled


def anchor(detail: np.ndarray, overall: np.ndarray, sigma: float) -> np.ndarray:
    """Give `detail` (full size) the low frequencies of `overall` (a small global pass).

    Both are compared at `overall`'s size; their difference is blurred with `sigma` (pixels of
    `overall`) and added back at full size, so only broad tone moves, never the strokes.
    """
    height, width = detail.shape[:2]
    small_h, small_w = overall.shape[:2]
    shrunk = resize(detail, small_w, small_h, Image.Resampling.BOX)
    difference = blur(overall - shrunk, sigma)
    return np.clip(detail + resize(difference, width, height, Image.Resampling.BILINEAR), 0, 1)


def resize(array: np.ndarray, width: int, height: int, method: Image.Resampling) -> np.ndarray:
    """Resize an HxWx3 float array channel by channel (Pillow's float mode keeps precision)."""
    if array.shape[1] == width and array.shape[0] == height:
        return array
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(array[..., c])).resize((width, height), method)
        )
        for c in range(array.shape[2])
    ]
    return np.stack(channels, axis=-1).astype(np.float32)


def resize_8bit(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Lanczos resize of an image in 0-1 through 8 bits: one Pillow call for all channels, and
    exact for photos (they are 8-bit to begin with); results end as 8 bits anyway."""
    if array.shape[1] == width and array.shape[0] == height:
        return array
    image = Image.fromarray((np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    resized = image.resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.float32) / 255.0


def blur(array: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with reflected edges (for small arrays)."""
    if sigma <= 0:
        return array
    radius = max(1, int(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).astype(np.float32)
    taps /= taps.sum()
    out = array
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        mode = "reflect" if out.shape[axis] > radius else "edge"
        padded = np.pad(out, pad, mode=mode)
        out = np.apply_along_axis(lambda v: np.convolve(v, taps, mode="valid"), axis, padded)
    return out.astype(np.float32)


def pad_to(image: np.ndarray, pad_h: int, pad_w: int) -> np.ndarray:
    mode = "reflect" if pad_h < image.shape[0] and pad_w < image.shape[1] else "symmetric"
    if mode == "symmetric" and (pad_h >= 2 * image.shape[0] or pad_w >= 2 * image.shape[1]):
        mode = "edge"
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode=mode)
