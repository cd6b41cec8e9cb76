"""A folder of the user's pictures as 64x64 training images: every readable image below it,
squared by a centre crop or by padding, with the files that could not be read listed."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.generator import GeneratorError

SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
MAX_IMAGES = 20_000  # 20,000 x 64 x 64 x 3 bytes = 245 MB in memory
MIN_IMAGES = 8
FITS = ("crop", "pad")


@dataclass
class Pictures:
    """The training images (uint8 [N, 64, 64, 3]) and what was read to make them."""

    pixels: Any
    files: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)

    def __len__(self) -> int:
        return len(self.files)


def find_images(folder: Path) -> list[Path]:
    """Image files below `folder` (sub-folders too, links to folders not followed), sorted;
    hidden files and folders are left out."""
    if not folder.is_dir():
        raise GeneratorError(f"The training folder {folder} does not exist or is not a folder.")
    found = []
    for top, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() in SUFFIXES:
                found.append(Path(top) / name)
    return sorted(found)


def square(image: Any, fit: str, side: int) -> Any:
    """`image` as side x side RGB: its centre cropped square, or all of it padded square with
    the mean colour of its border (so the padding reads as background)."""
    import numpy as np
    from PIL import Image, ImageOps

    image = image.convert("RGB")
    if fit == "crop":
        return ImageOps.fit(image, (side, side), Image.Resampling.LANCZOS)
    pixels = np.asarray(image)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    colour = tuple(int(c) for c in border.mean(axis=0).round())
    return ImageOps.pad(image, (side, side), Image.Resampling.LANCZOS, color=colour)


def load_folder(
    folder: Path,
    fit: str = "crop",
    side: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> Pictures:
    """Read every image below `folder`; unreadable ones are skipped and listed, not fatal."""
    import numpy as np

    from studio.core.images import ImageLoadError, load_image

    if fit not in FITS:
        raise GeneratorError(f"fit must be one of {', '.join(FITS)}, not {fit!r}")
    paths = find_images(Path(folder))
    if len(paths) > MAX_IMAGES:
        raise GeneratorError(
            f"{folder} holds {len(paths):,} images; Studio trains on at most {MAX_IMAGES:,}. "
            "Pick a smaller folder."
        )
    pixels, files, skipped = [], [], []
    for i, path in enumerate(paths):
        name = str(path.relative_to(folder))
        try:
            pixels.append(np.asarray(square(load_image(path), fit, side), dtype=np.uint8))
            files.append(name)
        except ImageLoadError as exc:
            skipped.append((name, exc.message))
        except (OSError, ValueError) as exc:
            skipped.append((name, f"{type(exc).__name__}: {exc}"))
        if progress is not None:
            progress(i + 1, len(paths))
    if len(files) < MIN_IMAGES:
        listed = "; ".join(f"{n}: {r}" for n, r in skipped[:3])
        raise GeneratorError(
            f"{folder} has {len(files)} readable images (of {len(paths)} image files); training "
            f"needs at least {MIN_IMAGES}." + (f" Skipped: {listed}" if listed else "")
        )
    return Pictures(np.stack(pixels), files, skipped)
