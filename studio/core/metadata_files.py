"""The metadata of one image file, read without decoding its pixels, with every text bounded.

PNG text chunks are walked by hand (Pillow's `.text` decodes the pixels to reach chunks after
them); JPEG and WebP are opened with Pillow for their EXIF and XMP only. A text over
`TEXT_LIMIT`, or past `TOTAL_LIMIT` for the whole image, is skipped with a note saying so.
"""

from __future__ import annotations

import io
import json
import os
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from studio.core.metadata import STUDIO_KEY, ImageMetadata, record_from_xmp

TEXT_LIMIT = 16 * 2**20  # one text, decompressed; A1111 texts are a few KB, workflows < 1 MB
TOTAL_LIMIT = 32 * 2**20  # all text of one image
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_MAX_CHUNKS = 200_000  # a PNG of millions of empty chunks is not an image anyone made


@contextmanager
def open_image(source: str | os.PathLike[str] | bytes) -> Iterator[BinaryIO]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(source))
        return
    path = os.fsdecode(os.fspath(source))
    name = os.path.basename(os.path.normpath(path)) or path
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise _load_error(path, name, exc) from None
    with stream:
        try:
            yield stream
        except OSError as exc:  # a read failing half-way (unplugged disk, network share)
            raise _load_error(path, name, exc) from None


def _load_error(path: str, name: str, exc: OSError) -> Exception:
    from studio.core.images import ImageLoadError

    if isinstance(exc, FileNotFoundError):
        return ImageLoadError(f"'{name}' was not found.", "not_found", path)
    if isinstance(exc, IsADirectoryError):
        return ImageLoadError(f"'{name}' is a folder, not an image file.", "unreadable", path)
    return ImageLoadError(f"'{name}' could not be read: {exc.strerror or exc}.", "unreadable", path)


def read_container(stream: BinaryIO) -> tuple[ImageMetadata, dict[str, str]]:
    """The metadata shell plus the text the parsers look at (by PNG chunk name)."""
    if stream.read(len(_PNG_SIGNATURE)) == _PNG_SIGNATURE:
        meta = ImageMetadata(file_format="PNG")
        meta.raw = _png_texts(stream, meta.notes)
        chunks = dict(meta.raw)
        if STUDIO_KEY not in chunks and "XML:com.adobe.xmp" in chunks:
            _add_xmp_record(chunks, chunks["XML:com.adobe.xmp"])
        return meta, chunks
    stream.seek(0)
    return _pillow_container(stream)


def _png_texts(stream: BinaryIO, notes: list[str]) -> dict[str, str]:
    texts: dict[str, str] = {}
    budget = TOTAL_LIMIT
    for _ in range(_MAX_CHUNKS):
        header = stream.read(8)
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IEND":
            break
        if kind not in _TEXT_CHUNKS:
            stream.seek(length + 4, io.SEEK_CUR)  # the data and its CRC, unread
            continue
        limit = min(TEXT_LIMIT, budget)
        if length > limit:
            key = stream.read(min(length, 80)).partition(b"\0")[0].decode("latin-1")
            notes.append(_too_large(key, f"is {_megabytes(length)}", TEXT_LIMIT, budget))
            stream.seek(length - min(length, 80) + 4, io.SEEK_CUR)
            continue
        data = stream.read(length)
        stream.seek(4, io.SEEK_CUR)
        if len(data) < length:
            break
        item = _text_chunk(kind, data, limit, notes)
        if item is not None:
            budget -= len(item[1])
            texts.setdefault(*item)
    else:
        notes.append(f"The PNG has over {_MAX_CHUNKS:,} chunks; read the first {_MAX_CHUNKS:,}.")
    return texts


def _text_chunk(kind: bytes, data: bytes, limit: int, notes: list[str]) -> tuple[str, str] | None:
    raw_key, sep, rest = data.partition(b"\0")
    if not sep or not raw_key:
        return None
    key = raw_key.decode("latin-1")
    try:
        if kind == b"tEXt":
            return key, rest.decode("latin-1")
        if kind == b"zTXt":
            return key, _inflate(rest[1:], limit).decode("latin-1")
        compressed = rest[:1] == b"\1"
        _language, _, rest = rest[2:].partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        text = _inflate(text, limit) if compressed else text
        return key, text.decode("utf-8", "replace")
    except zlib.error:
        return None
    except _TooLarge:
        notes.append(_too_large(key, f"inflates to more than {_megabytes(limit)}", limit, limit))
        return None


class _TooLarge(ValueError):
    pass


def _inflate(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit)
    if inflater.unconsumed_tail:
        raise _TooLarge
    return out


def _too_large(key: str, size: str, limit: int, budget: int) -> str:
    if budget < limit:  # this one is within the limit, but not with the texts before it
        return (
            f"The settings text '{key}' {size}, more than the {_megabytes(budget)} left of "
            f"Studio's limit of {_megabytes(TOTAL_LIMIT)} for all texts of an image; skipped."
        )
    return f"The settings text '{key}' {size}, over Studio's limit of {_megabytes(limit)}; skipped."


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f}".removesuffix(".0") + " MB"


def _pillow_container(stream: BinaryIO) -> tuple[ImageMetadata, dict[str, str]]:
    from PIL import Image, UnidentifiedImageError

    Image.init()
    formats = [f for f in Image.OPEN if f != "EPS"]  # EPS runs Ghostscript: not for a drop
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=formats)
    except UnidentifiedImageError:
        return ImageMetadata(notes=["This is not an image Studio can read."]), {}
    except Exception as exc:  # Pillow raises many kinds on damaged headers
        return ImageMetadata(notes=[f"The image could not be read ({exc})."]), {}
    with image:
        meta = ImageMetadata(file_format=image.format)
        found = {k: v for k, v in image.info.items() if isinstance(v, str)}
        comment = _user_comment(image)
        if comment:
            found["EXIF UserComment"] = comment
        xmp = image.info.get("xmp")
        if isinstance(xmp, bytes | str) and xmp:
            found["XMP"] = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
        for key, text in found.items():
            if len(text) > TEXT_LIMIT:
                size = f"is {_megabytes(len(text))}"
                meta.notes.append(_too_large(key, size, TEXT_LIMIT, TEXT_LIMIT))
            else:
                meta.raw[key] = text
        chunks = {k: v for k, v in meta.raw.items() if k not in ("EXIF UserComment", "XMP")}
        if "EXIF UserComment" in meta.raw:
            chunks.setdefault("parameters", meta.raw["EXIF UserComment"])
        if "XMP" in meta.raw:
            _add_xmp_record(chunks, meta.raw["XMP"])
        return meta, chunks


def _user_comment(image: Any) -> str | None:
    try:
        value = image.getexif().get_ifd(0x8769).get(0x9286)
    except Exception:  # broken EXIF must not hide the rest
        return None
    if isinstance(value, str):
        return value.strip("\0") or None
    if not isinstance(value, bytes) or len(value) <= 8:
        return None
    prefix, body = value[:8], value[8:]
    if prefix == b"UNICODE\0":
        # A1111 writes big-endian; a few tools write little-endian, seen as ASCII's zero bytes.
        little = body[1:2] == b"\0" and body[:1] != b"\0"
        codec = "utf-16-le" if little else "utf-16-be"
        if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
            codec = "utf-16"
    else:
        codec = "utf-8"  # ASCII, or "undefined", which in practice is UTF-8
    return body.decode(codec, "replace").strip("\0") or None


def _add_xmp_record(chunks: dict[str, str], xmp: bytes | str) -> None:
    record = record_from_xmp(xmp)
    if record is not None:
        chunks[STUDIO_KEY] = json.dumps(record)
