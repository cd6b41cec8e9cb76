"""A1111 "stealth" PNG info: settings hidden in the lowest bit of the pixels.

The sd-webui-stealth-pnginfo extension (ashen-sensored, later neggles) writes, column by column
(x outer, y inner), a 15-byte signature, the payload length in bits (32 bits, big-endian) and
the payload: either one bit per pixel in the alpha channel (`stealth_pnginfo`, gzip-compressed
`stealth_pngcomp`) or three per pixel in red, green and blue (`stealth_rgbinfo`,
`stealth_rgbcomp`). It survives sites that strip PNG text chunks, not lossy re-encoding.
"""

from __future__ import annotations

import zlib
from typing import Any

_SIGNATURES = {
    "alpha": {b"stealth_pnginfo": False, b"stealth_pngcomp": True},
    "rgb": {b"stealth_rgbinfo": False, b"stealth_rgbcomp": True},
}
_SIGNATURE_BITS = 15 * 8
_HEADER_BITS = _SIGNATURE_BITS + 32
MAX_PIXELS = 40_000_000  # decoding more only to look for hidden text is not worth the wait


class StealthError(ValueError):
    """Hidden settings that are there but cannot be read (too large, cut off, damaged)."""


def read_stealth(image: Any, limit: int) -> str | None:
    """The text hidden in an opened PIL image, None when it hides none.

    `limit` bounds the decompressed text in bytes; StealthError says what was wrong with
    hidden text that could not be read.
    """
    if image.mode not in ("RGB", "RGBA"):
        return None
    width, height = image.size
    if width * height > MAX_PIXELS or width * height * 3 < _HEADER_BITS:
        return None
    import numpy as np

    pixels = np.asarray(image)
    channels = [("alpha", pixels[:, :, 3:4])] if image.mode == "RGBA" else []
    channels.append(("rgb", pixels[:, :, :3]))
    for mode, planes in channels:
        header = _bits(planes, _HEADER_BITS)
        compressed = _SIGNATURES[mode].get(np.packbits(header[:_SIGNATURE_BITS]).tobytes())
        if compressed is None:
            continue
        length = int.from_bytes(np.packbits(header[_SIGNATURE_BITS:]).tobytes(), "big")
        if length > planes.size - _HEADER_BITS:
            raise StealthError(
                "The hidden settings are cut off (the image was cropped or resized)."
            )
        data = np.packbits(_bits(planes, _HEADER_BITS + length)[_HEADER_BITS:]).tobytes()
        return _decode(data, compressed, limit)
    return None


def _bits(planes: Any, count: int) -> Any:
    """The first `count` lowest bits of `planes` [H, W, C], in the writer's column order."""
    height, _width, channels = planes.shape
    columns = -(-count // (height * channels))  # only as many columns as the bits need
    return (planes[:, :columns].transpose(1, 0, 2).reshape(-1)[:count] & 1).astype("uint8")


def _decode(data: bytes, compressed: bool, limit: int) -> str:
    if compressed:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing
        try:
            data = inflater.decompress(data, limit)
        except zlib.error:
            raise StealthError("The hidden settings are damaged and could not be read.") from None
        if inflater.unconsumed_tail:
            raise StealthError(_too_large(limit))
    elif len(data) > limit:
        raise StealthError(_too_large(limit))
    return data.decode("utf-8", "replace")


def _too_large(limit: int) -> str:
    return f"The hidden settings are over Studio's limit of {limit // 2**20} MB; skipped."
