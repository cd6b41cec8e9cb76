"""Cut a picture into overlapping tiles, run a network on each, and put the centres back.

Each tile is run with `overlap` pixels of its neighbours around it (mirrored at the picture's
edges) and only its centre is kept, as Real-ESRGAN's own tiling does, so memory depends on
the tile size alone and the seams see the same context as the inside. Only the output
image is held whole (as 8-bit pixels).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Box = tuple[int, int, int, int]  # left, top, right, bottom


def boxes(width: int, height: int, tile: int) -> list[Box]:
    """The tiles' centres covering the picture, row by row; `tile` 0: one tile."""
    if tile <= 0 or (width <= tile and height <= tile):
        return [(0, 0, width, height)]
    xs, ys = _cuts(width, tile), _cuts(height, tile)
    return [(x0, y0, x1, y1) for y0, y1 in ys for x0, x1 in xs]


def _cuts(length: int, tile: int) -> list[tuple[int, int]]:
    count = -(-length // tile)
    edges = [round(k * length / count) for k in range(count + 1)]  # even tiles, none thin
    return list(zip(edges, edges[1:], strict=False))


def run_tiled(
    pixels: np.ndarray,
    forward: Callable[[np.ndarray], np.ndarray],
    scale: int,
    tile: int,
    overlap: int,
    step: Callable[[], None] | None = None,
) -> np.ndarray:
    """`forward` (HxWx3 float32 in 0..1 -> (H*scale)x(W*scale)x3) over `pixels` tile by tile;
    `step()` after each tile (where cancel is checked). Returns uint8 pixels.

    The picture is mirrored `overlap` pixels beyond its edges first, so edge tiles get
    context too (as Real-ESRGAN's own pre-padding gives) instead of the convolutions' zeros."""
    height, width = pixels.shape[:2]
    out = np.empty((height * scale, width * scale, 3), np.uint8)
    mode = "reflect" if min(height, width) > overlap else "edge"
    source = np.pad(pixels, ((overlap, overlap), (overlap, overlap), (0, 0)), mode=mode)
    for box in boxes(width, height, tile):
        x0, y0, x1, y1 = box
        # in `source` the tile is at (x0 + overlap, y0 + overlap): with its context, from x0, y0
        result = forward(source[y0 : y1 + 2 * overlap, x0 : x1 + 2 * overlap])
        left = top = overlap * scale
        core = result[top : top + (y1 - y0) * scale, left : left + (x1 - x0) * scale]
        out[y0 * scale : y1 * scale, x0 * scale : x1 * scale] = _to_uint8(core)
        if step is not None:
            step()
    return out


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def tile_count(width: int, height: int, tile: int) -> int:
    return len(boxes(width, height, tile))
