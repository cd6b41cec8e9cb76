"""The one safe loader for images a user hands to Studio (files on disk or raw bytes)."""

from __future__ import annotations

import io
import os
import re
import stat
import warnings
from typing import BinaryIO, Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["MAX_PIXELS", "ImageLoadError", "load_image"]

MAX_PIXELS = 100_000_000

Reason = Literal["empty", "not_image", "truncated", "too_large", "unreadable", "not_found"]

# EPS is decoded by running Ghostscript on the file, which is far too much attack surface for
# a drag-and-drop loader.
_BLOCKED_FORMATS = frozenset({"EPS"})
# Modes whose ICC profile still describes the pixels after conversion to RGB/RGBA.
_RGB_FAMILY = frozenset({"RGB", "RGBA", "RGBa", "RGBX", "P", "PA"})


class ImageLoadError(Exception):
    """An image could not be loaded; the message is written for the user."""

    def __init__(self, message: str, reason: Reason, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.path = path

    def __reduce__(self) -> tuple[type, tuple[str, str, str | None]]:
        # The keyword-free default pickling would lose reason/path across worker processes.
        return (type(self), (self.message, self.reason, self.path))


def load_image(
    source: str | os.PathLike[str] | bytes,
    *,
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
) -> Image.Image:
    """Load a path or encoded bytes into a detached, upright RGB or RGBA image."""
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if isinstance(source, (bytes, bytearray, memoryview)):
        path = None
        label = name or "image"
        data = bytes(source)
        if not data:
            raise ImageLoadError(f"'{label}' is empty (0 bytes).", "empty")
        stream: BinaryIO = io.BytesIO(data)
    else:
        path = os.fsdecode(os.fspath(source))
        label = name or os.path.basename(os.path.normpath(path)) or path
        stream = _open_file(path, label)
    with stream:
        try:
            frame = _decode(stream, label, path, max_pixels)
            left_out = 0
        except _TextTooLarge:
            # The pixels are fine; only an embedded text is over Pillow's limit: read the
            # image without its text chunks (their settings are read, bounded, elsewhere).
            stream.seek(0)
            stripped, left_out = _without_png_text(stream)
            frame = _decode(stripped, label, path, max_pixels)
    try:
        out = _to_rgb_or_rgba(frame)
    except Exception as exc:
        raise _unreadable(label, path, exc) from exc
    out.info = _clean_info(frame.info, frame.mode)
    if left_out:
        out.info[TEXT_LEFT_OUT] = left_out
    return out


# The number of bytes of embedded text left out of an image whose text was too large to read
# (the pixels are complete); callers tell the user.
TEXT_LEFT_OUT = "studio_text_left_out"
_PILLOW_TEXT_LIMITS = ("decompressed data too large", "too much memory used in text chunks")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


class _TextTooLarge(Exception):
    """Pillow refused a PNG's text chunk as too large (the pixels may well be fine)."""


def _without_png_text(stream: BinaryIO) -> tuple[BinaryIO, int]:
    """The PNG with its text chunks dropped, and how many bytes they held. One pass over the
    chunk headers; chunk data are copied or skipped, never inflated."""
    import struct

    out = io.BytesIO()
    signature = stream.read(8)
    if signature != _PNG_SIGNATURE:
        raise _TextTooLarge("not a PNG")
    out.write(signature)
    dropped = 0
    while header := stream.read(8):
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I4s", header)
        body = stream.read(length + 4)  # data and CRC
        if kind in _PNG_TEXT_CHUNKS:
            dropped += length
            continue
        out.write(header + body)
        if kind == b"IEND":
            break
    out.seek(0)
    return out, dropped


def probe_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> str | None:
    """Why `path` cannot be opened as an image (missing, empty, not an image, too large,
    a damaged header), or None when it looks fine. Reads the header only: quick enough to
    check a batch of hundreds of files before queueing it."""
    path = os.fsdecode(os.fspath(path))
    label = os.path.basename(os.path.normpath(path)) or path
    try:
        with _open_file(path, label) as stream:
            Image.init()
            formats = [f for f in Image.OPEN if f not in _BLOCKED_FORMATS]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(stream, formats=formats) as im:
                    width, height = im.size
    except ImageLoadError as exc:
        return str(exc)
    except (Image.DecompressionBombError, UnidentifiedImageError):
        return f"'{label}' is not an image format Studio can read. Convert it to PNG or JPEG."
    except Exception as exc:  # noqa: BLE001 - a damaged header
        return str(_unreadable(label, path, exc))
    if width * height > max_pixels:
        return (
            f"'{label}' is {width}x{height} pixels ({_megapixels(width * height)} megapixels); "
            f"Studio opens images up to {_megapixels(max_pixels)} megapixels."
        )
    return None


def _open_file(path: str, label: str) -> BinaryIO:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImageLoadError(
            f"'{label}' was not found. It may have been moved or deleted.", "not_found", path
        ) from None
    except OSError as exc:
        raise _unreadable(label, path, exc) from exc
    if stat.S_ISDIR(st.st_mode):
        raise ImageLoadError(f"'{label}' is a folder, not an image file.", "unreadable", path)
    if stat.S_ISREG(st.st_mode) and st.st_size == 0:
        raise ImageLoadError(f"'{label}' is empty (0 bytes).", "empty", path)
    try:
        return open(path, "rb")
    except FileNotFoundError:
        # Deleted between stat() and open().
        raise ImageLoadError(
            f"'{label}' was not found. It may have been moved or deleted.", "not_found", path
        ) from None
    except PermissionError:
        raise ImageLoadError(
            f"Studio does not have permission to read '{label}'. Check the file's permissions.",
            "unreadable",
            path,
        ) from None
    except OSError as exc:
        raise _unreadable(label, path, exc) from exc


def _decode(stream: BinaryIO, label: str, path: str | None, max_pixels: int) -> Image.Image:
    """Decode the first frame of ``stream`` into an upright image detached from the file."""
    Image.init()
    formats = [f for f in Image.OPEN if f not in _BLOCKED_FORMATS]
    try:
        # Our own size check below is the authoritative guard, so Pillow's softer warning
        # (which fires from ~89 MP, under our default limit) is only noise here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream, formats=formats) as im:
                # Image.open only parsed the header, so nothing big has been decoded yet.
                width, height = im.size
                if width * height > max_pixels:
                    raise ImageLoadError(
                        f"'{label}' is {width}x{height} pixels "
                        f"({_megapixels(width * height)} megapixels); "
                        f"Studio opens images up to {_megapixels(max_pixels)} megapixels.",
                        "too_large",
                        path,
                    )
                try:
                    im.load()
                except (OSError, EOFError, SyntaxError) as exc:
                    raise ImageLoadError(
                        f"'{label}' is incomplete or damaged ({_detail(exc)}). "
                        "Try exporting or downloading it again.",
                        "truncated",
                        path,
                    ) from exc
                return _upright(im)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _pillow_bomb(label, path, max_pixels, exc) from exc
    except ValueError as exc:
        if any(limit in str(exc).lower() for limit in _PILLOW_TEXT_LIMITS):
            raise _TextTooLarge(str(exc)) from exc
        raise _unreadable(label, path, exc) from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(
            f"'{label}' is not an image format Studio can read. Convert it to PNG or JPEG.",
            "not_image",
            path,
        ) from exc
    except Exception as exc:
        raise _unreadable(label, path, exc) from exc


def _upright(im: Image.Image) -> Image.Image:
    """Apply and drop the EXIF orientation, always returning a copy detached from the file."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception:
        # Broken EXIF should not make an otherwise good picture unopenable; show it as stored
        # and drop the metadata so nothing downstream trips over it again.
        plain = im.copy()
        plain.info.pop("exif", None)
        return plain


def _to_rgb_or_rgba(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        out = _high_depth_to_8bit(im)
    else:
        if mode == "La":
            # Pillow has no direct La->RGBA path; La->LA un-premultiplies correctly.
            im = im.convert("LA")
        target = "RGBA" if im.has_transparency_data else "RGB"
        out = im if im.mode == target else im.convert(target)
    if out.mode == "RGBA" and out.getchannel("A").getextrema() == (255, 255):
        # An alpha channel that is opaque everywhere is not real transparency.
        out = out.convert("RGB")
    return out


def _high_depth_to_8bit(im: Image.Image) -> Image.Image:
    arr = np.asarray(im)
    wide_ints = im.mode == "I" and (arr.size == 0 or arr.min() < 0 or arr.max() > 65535)
    if im.mode == "F" or wide_ints:
        gray = _stretch_float(arr.astype(np.float32))
    else:
        # 16-bit data (Pillow also uses "I" for 16-bit PGM): 65535 must map to 255, so divide
        # by 257 instead of clipping, which is what Image.convert("L") does.
        gray = np.rint(arr.astype(np.float32) / 257.0)
    lum = Image.fromarray(gray.astype(np.uint8))
    key = im.info.get("transparency")
    if isinstance(key, int) and not isinstance(key, bool):
        alpha = Image.fromarray(np.where(arr == key, 0, 255).astype(np.uint8))
        return Image.merge("RGBA", (lum, lum, lum, alpha))
    return lum.convert("RGB")


def _stretch_float(arr: np.ndarray) -> np.ndarray:
    """Map float or wide-integer samples onto 0..255, keeping 0..1 and 0..255 data as is."""
    finite = np.isfinite(arr)
    if not finite.any():
        return np.zeros(arr.shape, dtype=np.float32)
    lo, hi = float(arr[finite].min()), float(arr[finite].max())
    if lo >= 0.0 and hi <= 1.0:
        scaled = arr * 255.0
    elif lo >= 0.0 and hi <= 255.0:
        scaled = arr
    elif hi > lo:
        scaled = (arr - lo) * (255.0 / (hi - lo))
    else:
        scaled = np.zeros_like(arr)
    return np.rint(np.clip(np.where(finite, scaled, 0.0), 0.0, 255.0))


def _clean_info(info: dict, source_mode: str) -> dict:
    info = dict(info)
    # The transparency key is already baked into the alpha channel; left behind it would make
    # a later save add transparency to an opaque RGB image.
    info.pop("transparency", None)
    if source_mode not in _RGB_FAMILY:
        # A CMYK or gray profile does not describe the RGB pixels we now hold.
        info.pop("icc_profile", None)
    return info


def _pillow_bomb(label: str, path: str | None, max_pixels: int, exc: Exception) -> ImageLoadError:
    # Pillow refuses huge images inside Image.open, before the size is visible to us, and its
    # message only carries the pixel count.
    limit = max_pixels
    if Image.MAX_IMAGE_PIXELS:
        limit = min(limit, 2 * Image.MAX_IMAGE_PIXELS)
    match = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{_megapixels(int(match.group(1)))} megapixels" if match else "too large"
    return ImageLoadError(
        f"'{label}' is {size}; Studio opens images up to {_megapixels(limit)} megapixels.",
        "too_large",
        path,
    )


def _unreadable(label: str, path: str | None, exc: BaseException) -> ImageLoadError:
    return ImageLoadError(f"'{label}' could not be read: {_detail(exc)}.", "unreadable", path)


def _detail(exc: BaseException) -> str:
    return str(exc).rstrip(".") or type(exc).__name__


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}".rstrip("0").rstrip(".")
