"""Writes the awkward image files users drop: odd modes, animation, and broken files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def raw_png(width: int, height: int, bit_depth: int, color_type: int, rows: bytes) -> bytes:
    """Hand-build a PNG, for headers and bit depths Pillow cannot write itself."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def write_odd_images(folder: Path) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
    """Returns ({good file: size it should open at}, {bad file: error reason})."""
    folder.mkdir(parents=True, exist_ok=True)
    good: dict[str, tuple[int, int]] = {}
    rotated = Image.new("RGB", (40, 20), "red")
    exif = rotated.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    rotated.save(folder / "rotated.jpg", exif=exif)
    good["rotated.jpg"] = (20, 40)
    Image.new("CMYK", (30, 30), (0, 255, 255, 0)).save(folder / "cmyk.jpg")
    good["cmyk.jpg"] = (30, 30)
    Image.fromarray(np.full((12, 16), 40000, np.uint16)).save(folder / "deep.png")
    good["deep.png"] = (16, 12)
    palette = Image.new("P", (10, 10), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(0, (0, 0, 5, 10))  # the left half uses the transparent index
    palette.save(folder / "palette.png", transparency=0)
    good["palette.png"] = (10, 10)
    Image.new("LA", (8, 9), (128, 100)).save(folder / "gray_alpha.png")
    good["gray_alpha.png"] = (8, 9)
    Image.new("RGBA", (7, 7), (0, 0, 255, 60)).save(folder / "rgba.png")
    good["rgba.png"] = (7, 7)
    frames = [Image.new("RGB", (11, 11), c) for c in ("green", "blue")]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    good["anim.gif"] = (11, 11)

    bad = {
        "empty.png": "empty",
        "notes.png": "not_image",
        "cut.png": "truncated",
        "bomb.png": "too_large",
    }
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.png").write_text("these are not pixels")
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(folder / "full.png")
    data = (folder / "full.png").read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    (folder / "full.png").unlink()
    (folder / "bomb.png").write_bytes(raw_png(11000, 10000, 1, 0, b"\x00"))
    return good, bad
