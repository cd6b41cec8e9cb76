"""Pictures Studio draws itself: a sample photo for the style grid, and a sample painting.

Deterministic, made from nothing but numpy and Pillow, so no third-party image ships with Studio.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def photo(width: int = 768, height: int = 512, seed: int = 7) -> Image.Image:
    """A landscape with sky, sun, hills, a house, trees and fine texture."""
    rng = np.random.default_rng(seed)
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    sky = (1 - yy) * np.array([0.35, 0.55, 0.9]) + yy * np.array([0.85, 0.9, 1.0])
    canvas = np.broadcast_to(sky, (height, width, 3)).copy()
    xs = np.linspace(0, 1, width, dtype=np.float32)
    for level, colour, amp in ((0.55, (0.35, 0.45, 0.6), 0.08), (0.68, (0.2, 0.5, 0.2), 0.05)):
        phase = rng.uniform(0, 6.28, 3)
        ridge = level + amp * (np.sin(xs * 7 + phase[0]) + 0.5 * np.sin(xs * 19 + phase[1]))
        mask = yy[..., 0] > ridge[None, :]
        canvas[mask] = colour
    canvas *= 0.85 + 0.3 * _clouds(rng, height, width)[..., None]
    image = Image.fromarray((np.clip(canvas, 0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    s = width / 768
    draw.ellipse((560 * s, 40 * s, 640 * s, 120 * s), fill=(255, 220, 120))
    hx, hy = 180 * s, 330 * s
    draw.rectangle((hx, hy, hx + 150 * s, hy + 110 * s), fill=(190, 70, 50))
    draw.polygon(
        [(hx - 15 * s, hy), (hx + 75 * s, hy - 70 * s), (hx + 165 * s, hy)], fill=(90, 40, 30)
    )
    for wx in (hx + 20 * s, hx + 95 * s):
        draw.rectangle((wx, hy + 25 * s, wx + 35 * s, hy + 60 * s), fill=(250, 240, 200))
        draw.line(
            (wx + 17 * s, hy + 25 * s, wx + 17 * s, hy + 60 * s),
            fill=(60, 40, 30),
            width=max(1, int(2 * s)),
        )
    for _ in range(14):
        tx, ty = rng.uniform(0.45, 0.98) * width, rng.uniform(0.62, 0.8) * height
        r = rng.uniform(18, 40) * s
        draw.rectangle((tx - 3 * s, ty, tx + 3 * s, ty + r * 1.6), fill=(80, 55, 30))
        shade = tuple(int(c) for c in rng.uniform((20, 90, 20), (60, 150, 60)))
        draw.ellipse((tx - r, ty - r * 1.4, tx + r, ty + r * 0.4), fill=shade)
    for i in range(40):  # fence: fine, regular detail
        fx = i * 18 * s
        draw.line((fx, 470 * s, fx, 505 * s), fill=(240, 235, 220), width=max(1, int(3 * s)))
    draw.line((0, 480 * s, width, 480 * s), fill=(240, 235, 220), width=max(1, int(3 * s)))
    return image.filter(ImageFilter.SMOOTH)


def painting(side: int = 512, seed: int = 3) -> Image.Image:
    """Short strokes of blue and yellow following a swirling flow: an obvious, painterly style."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (side, side), (25, 45, 110))
    draw = ImageDraw.Draw(image)
    palette = [(30, 60, 150), (60, 110, 190), (245, 200, 60), (230, 230, 200), (20, 30, 70)]
    scale = side / 512
    for _ in range(int(5000 * scale * scale)):
        x, y = rng.uniform(0, side, 2)
        angle = np.sin(x / side * 9) * 2 + np.cos(y / side * 7) * 2
        length = rng.uniform(6, 16) * scale
        dx, dy = np.cos(angle) * length, np.sin(angle) * length
        band = (np.sin(x / side * 6 + y / side * 4) + 1) / 2
        pick = int(rng.integers(2)) + (2 if rng.uniform() < band * 0.6 else 0)
        draw.line(
            (x - dx, y - dy, x + dx, y + dy), fill=palette[pick], width=max(2, int(4 * scale))
        )
    return image


def _clouds(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Fractal value noise in 0-1: texture for sky and land."""
    out = np.zeros((height, width), dtype=np.float32)
    amplitude, total = 1.0, 0.0
    for cells in (4, 8, 16, 32, 64, 128):
        grid = rng.random((cells, int(cells * width / height) + 1)).astype(np.float32)
        layer = Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)
        out += amplitude * np.asarray(layer, dtype=np.float32)
        total += amplitude
        amplitude *= 0.55
    return np.clip(out / total, 0, 1)
