"""Writing results to files: unique names, atomic writes, animated strips."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once: os.umask can only be read by setting it


def write_atomic(path: Path, save: Callable[[BinaryIO], None], overwrite: bool = False) -> Path:
    """Write through a temporary file beside `path`, then move it into place.

    Readers never see a partial file, and a failure leaves nothing behind. Unless `overwrite`
    is set (the user confirmed a name), an existing file is never replaced: a name taken in
    the meantime gets the next free suffix. Returns the path written.
    """
    fd, tmp = _temporary_beside(path)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; exports should get the usual mode
            os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            save(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            path = _place_without_replacing(tmp, path)
    except OSError as exc:
        raise ExportError(f"Cannot write '{path}': {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _place_without_replacing(tmp: str, path: Path) -> Path:
    while True:
        try:
            os.link(tmp, path)  # atomic, and fails instead of replacing
            return path
        except FileExistsError:
            path = unique_path(path.parent, path.stem, path.suffix)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            break  # no hard links here (FAT, exFAT, some network shares): reserve the name
    while True:
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            path = unique_path(path.parent, path.stem, path.suffix)
            continue
        os.replace(tmp, path)
        return path


def save_result_png(result: Result, folder: Path, stem: str) -> Path:
    """Write one result as PNG with its metadata under a unique name; returns the path."""
    path = unique_path(Path(folder), stem, ".png")
    info = png_info(result)
    return write_atomic(path, lambda handle: result.image.save(handle, "PNG", pnginfo=info))


def save_animation(
    frames: Sequence[Image], path: Path, fps: float = 12.0, overwrite: bool = False
) -> Path:
    """Write frames as an animated GIF or WebP (by the suffix) that loops forever."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ANIMATION_FORMATS:
        raise ExportError(f"'{path.name}': animations are written as .gif or .webp")
    if not frames:
        raise ExportError("There are no frames to animate")
    duration = max(20, round(1000 / fps))
    first, rest = frames[0], list(frames[1:])
    options = {"save_all": True, "append_images": rest, "duration": duration, "loop": 0}
    if fmt == "webp":
        options.update(lossless=True)
    save = lambda handle: first.save(handle, fmt.upper(), **options)  # noqa: E731
    return write_atomic(path, save, overwrite=overwrite)


def save_result_as(result: Result, path: Path) -> Path:
    """Write one result to exactly `path` (the user chose it); the format follows the suffix."""
    path = Path(path)
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(path.suffix.lower())
    if fmt is None:
        raise ExportError(f"'{path.name}': choose a .png, .jpg or .webp file name")
    options: dict = {"pnginfo": png_info(result)} if fmt == "PNG" else {"quality": 95}
    image = result.image.convert("RGB") if fmt == "JPEG" else result.image
    return write_atomic(path, lambda handle: image.save(handle, fmt, **options), overwrite=True)
