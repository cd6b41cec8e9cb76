"""Pictures of one simple subject, drawn here: training data for tests, benchmarks and a first
try of the trainer (a warm disc on a dark, cool background, anywhere, of any size)."""

from __future__ import annotations

from pathlib import Path


def disc(seed: int, side: int = 64):  # noqa: ANN201 - a PIL image
    """One picture: a disc of radius 10 to 20 px (at 64 px) in a warm colour, on a cool one."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    scale = side / 64
    background = tuple(int(c) for c in rng.integers((10, 20, 50), (40, 60, 110)))
    colour = tuple(int(c) for c in rng.integers((200, 120, 0), (256, 210, 60)))
    radius = rng.uniform(10, 20) * scale
    x, y = rng.uniform(radius, side - radius, 2)
    image = Image.new("RGB", (side, side), background)
    ImageDraw.Draw(image).ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    return image


def disc_folder(folder: Path, count: int = 200, seed: int = 0, side: int = 64) -> Path:
    """Write `count` disc pictures as PNGs into `folder` (in two sub-folders) and return it."""
    folder = Path(folder)
    for i in range(count):
        sub = folder / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        disc(seed * 100_003 + i, side).save(sub / f"disc-{i:04d}.png")
    return folder
