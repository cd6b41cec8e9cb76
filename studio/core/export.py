"""Writing results to files: unique names, atomic writes, animated strips."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core.metadata import png_info

if TYPE_CHECKING:
    from PIL.Image import Image

    from studio.core.generator import Result

ANIMATION_FORMATS = ("gif", "webp")


class ExportError(OSError):
    """A file could not be written; the message says which and why."""


def check_writable(folder: Path) -> Path:
    """Create `folder` if needed and prove we can write there, or raise ExportError."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".studio-probe-"):
            pass
    except OSError as exc:
        raise ExportError(f"Cannot write to '{folder}': {exc.strerror or exc}") from None
    return folder


def unique_path(folder: Path, stem: str, suffix: str) -> Path:
    """`folder/stem.suffix`, or `stem-2.suffix`, `stem-3...` if taken: never overwrite."""
    candidate = folder / f"{stem}{suffix}"
    n = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{n}{suffix}"
        n += 1
    return candidate


def _temporary_beside(path: Path) -> tuple[int, str]:
    try:
        return tempfile.mkstemp(dir=path.parent, prefix=".studio-", suffix=path.suffix)
    except OSError as exc:
        raise ExportError(f"Cannot write '{path}': {exc.strerror or exc}") from None


def _atomic_save(path: Path, save) -> Path:  # noqa: ANN001 - save(file_object)
    fd, tmp = _temporary_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            save(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # link-then-unlink, not rename: a file that appeared meanwhile is never replaced
        os.link(tmp, path)
    except FileExistsError:
        os.unlink(tmp)
        return _atomic_save(unique_path(path.parent, path.stem, path.suffix), save)
    except OSError as exc:
        os.unlink(tmp)
        raise ExportError(f"Cannot write '{path}': {exc.strerror or exc}") from None
    os.unlink(tmp)
    return path


def save_result_png(result: Result, folder: Path, stem: str) -> Path:
    """Write one result as PNG with its metadata under a unique name; returns the path."""
    path = unique_path(Path(folder), stem, ".png")
    info = png_info(result)
    return _atomic_save(path, lambda handle: result.image.save(handle, "PNG", pnginfo=info))


def save_animation(
    frames: Sequence[Image], folder: Path, stem: str, fmt: str = "gif", fps: float = 12.0
) -> Path:
    """Write frames as an animated GIF or WebP that loops forever."""
    fmt = fmt.lower()
    if fmt not in ANIMATION_FORMATS:
        raise ExportError(f"Animation format '{fmt}' is not supported; use gif or webp")
    if not frames:
        raise ExportError("There are no frames to animate")
    duration = max(20, round(1000 / fps))
    path = unique_path(Path(folder), stem, f".{fmt}")
    first, rest = frames[0], list(frames[1:])
    options = {"save_all": True, "append_images": rest, "duration": duration, "loop": 0}
    if fmt == "webp":
        options.update(lossless=True)
    return _atomic_save(path, lambda handle: first.save(handle, fmt.upper(), **options))


def save_result_as(result: Result, path: Path) -> Path:
    """Write one result to exactly `path` (the user chose it); the format follows the suffix."""
    path = Path(path)
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(path.suffix.lower())
    if fmt is None:
        raise ExportError(f"'{path.name}': choose a .png, .jpg or .webp file name")
    options: dict = {"pnginfo": png_info(result)} if fmt == "PNG" else {"quality": 95}
    image = result.image.convert("RGB") if fmt == "JPEG" else result.image
    fd, tmp = _temporary_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            image.save(handle, fmt, **options)
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        raise ExportError(f"Cannot write '{path}': {exc.strerror or exc}") from None
    return path
