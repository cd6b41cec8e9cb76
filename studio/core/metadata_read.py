"""Reading generation settings back from image files: ours, A1111, ComfyUI, InvokeAI and more.

Only the metadata is read: PNG text chunks are walked by hand (Pillow's `.text` decodes the
pixels to reach chunks after them), JPEG and WebP are opened for their EXIF and XMP only.
sd-parsers (imported on first use) recognises the other tools' formats; two of its limits are
worked around here: its A1111 reader splits the pairs line on every comma, so the pairs are
re-read with A1111's own pattern (`split_a1111`); and its ComfyUI reader needs the UI
`workflow`, so images saved through the API (the `prompt` graph only) get links built from that
graph. Its `ParserManager` is not used: its EXIF reader caches by `id(image)` and can hand one
image's text to the next.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from studio.core.metadata import SOURCE_FORMATS, STUDIO_KEY, ImageMetadata, record_from_xmp

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_MAX_TEXT = 64 * 1024 * 1024  # all text of one image, decompressed: a bound for hostile files
_SIZE = re.compile(r"^(\d+)x(\d+)$")
# AUTOMATIC1111's own pattern for one `Key: value` pair (modules/infotext_utils.py).
_PAIR = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_A1111_NAMES = {
    "Steps": "steps",
    "Sampler": "sampler",
    "CFG scale": "cfg",
    "Seed": "seed",
    "Model hash": "model_hash",
    "Model": "model",
    "Schedule type": "scheduler",
}
_RENAMES = {"cfg_scale": "cfg", "noise_seed": "seed", "guidance_scale": "cfg"}
# Other tools' settings are listed in this order (A1111's), then as found.
_ORDER = ("prompt", "negative_prompt", "steps", "sampler", "scheduler", "cfg", "seed", "width")


def read_metadata(source: str | os.PathLike[str] | bytes) -> ImageMetadata:
    """Read the generation settings of an image file or its bytes, without decoding pixels.

    Anything that is not an image, or carries no settings, gives `source_format` None and a
    note; only a file that cannot be opened at all raises `ImageLoadError`.
    """
    with _open(source) as stream:
        meta, chunks = _read_container(stream)
    if not (_read_studio(meta, chunks) or _read_other(meta, chunks)) and meta.file_format:
        if meta.raw:
            meta.notes.append(f"Found {', '.join(meta.raw)}, but no settings Studio can read.")
        else:
            meta.notes.append("The image carries no generation settings.")
    return meta


# ---------------------------------------------------------------- containers


@contextmanager
def _open(source: str | os.PathLike[str] | bytes) -> Iterator[BinaryIO]:
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


def _read_container(stream: BinaryIO) -> tuple[ImageMetadata, dict[str, str]]:
    """The metadata shell plus the text the parsers look at (by PNG chunk name)."""
    if stream.read(len(_PNG_SIGNATURE)) == _PNG_SIGNATURE:
        texts = _png_texts(stream)
        chunks = dict(texts)
        if STUDIO_KEY not in chunks and "XML:com.adobe.xmp" in chunks:
            _add_xmp_record(chunks, chunks["XML:com.adobe.xmp"])
        return ImageMetadata(file_format="PNG", raw=texts), chunks
    stream.seek(0)
    return _pillow_container(stream)


def _png_texts(stream: BinaryIO) -> dict[str, str]:
    texts: dict[str, str] = {}
    budget = _MAX_TEXT
    while True:
        header = stream.read(8)
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IEND":
            break
        if kind not in _TEXT_CHUNKS or length > budget:
            stream.seek(length + 4, io.SEEK_CUR)  # the data and its CRC, unread
            continue
        data = stream.read(length)
        stream.seek(4, io.SEEK_CUR)
        if len(data) < length:
            break
        item = _text_chunk(kind, data, budget)
        if item is not None:
            budget -= len(item[1])
            texts.setdefault(*item)
    return texts


def _text_chunk(kind: bytes, data: bytes, limit: int) -> tuple[str, str] | None:
    key, sep, rest = data.partition(b"\0")
    if not sep or not key:
        return None
    try:
        if kind == b"tEXt":
            return key.decode("latin-1"), rest.decode("latin-1")
        if kind == b"zTXt":
            return key.decode("latin-1"), _inflate(rest[1:], limit).decode("latin-1")
        compressed = rest[:1] == b"\1"
        _language, _, rest = rest[2:].partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        text = _inflate(text, limit) if compressed else text
        return key.decode("latin-1"), text.decode("utf-8", "replace")
    except (zlib.error, ValueError):
        return None


def _inflate(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit)
    if inflater.unconsumed_tail:
        raise ValueError("text chunk too large")
    return out


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
        raw = {k: v for k, v in image.info.items() if isinstance(v, str)}
        chunks = dict(raw)
        comment = _user_comment(image)
        if comment:
            raw["EXIF UserComment"] = comment
            chunks.setdefault("parameters", comment)
        xmp = image.info.get("xmp")
        if isinstance(xmp, bytes | str) and xmp:
            raw["XMP"] = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
            _add_xmp_record(chunks, xmp)
        return ImageMetadata(file_format=image.format, raw=raw), chunks


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


# ---------------------------------------------------------------- formats


def _read_studio(meta: ImageMetadata, chunks: dict[str, str]) -> bool:
    if STUDIO_KEY not in chunks:
        return False
    record = _json_object(chunks[STUDIO_KEY])
    if (
        not record
        or not isinstance(record.get("generator"), str)
        or not isinstance(record.get("params"), dict)
    ):
        meta.notes.append("The studio record is damaged; read the other metadata instead.")
        return False
    params = dict(record["params"])
    seed = record.get("seed")
    if isinstance(seed, int) and "seed" in params:
        params["seed"] = seed  # this image's own seed, so restoring remakes this very image
    meta.source_format, meta.generator, meta.record = "studio", record["generator"], record
    meta.params, meta.seed = params, seed if isinstance(seed, int) else None
    return True


def _read_other(meta: ImageMetadata, chunks: dict[str, str]) -> bool:
    if not chunks:
        return False
    info = _sd_parse(chunks)
    if info is None and "prompt" in chunks:
        links = _comfyui_links(chunks["prompt"])
        if links:  # an API-saved ComfyUI image, or a workflow in a layout sd-parsers rejects
            info = _sd_parse({**chunks, "workflow": {"links": links}})
    prompts, pairs = split_a1111(chunks.get("parameters", ""))
    if info is None and pairs:
        meta.notes.append("Read the A1111 text with Studio's own reader (sd-parsers refused it).")
        meta.source_format = "a1111"
        meta.params.update(prompts)
    elif info is None:
        return False
    else:
        name = str(info.generator.value).lower().replace("automatic1111", "a1111")
        meta.source_format = name if name in SOURCE_FORMATS else None
        _take_prompt_info(meta, info)
    if meta.source_format == "a1111":
        _take_a1111_pairs(meta, pairs)
    if meta.source_format == "invokeai" and "model" not in meta.params:
        _take_invokeai_model(meta, chunks.get("invokeai_metadata", ""))
    rank = {name: i for i, name in enumerate(_ORDER)}
    meta.params = dict(sorted(meta.params.items(), key=lambda item: rank.get(item[0], len(rank))))
    seed = meta.params.get("seed")
    meta.seed = seed if isinstance(seed, int) else None
    return meta.source_format is not None


@functools.cache
def _parsers() -> tuple[Any, ...]:
    from sd_parsers.parsers import MANAGED_PARSERS

    return tuple(parser() for parser in MANAGED_PARSERS)


def _sd_parse(chunks: dict[str, Any]) -> Any:
    for parser in _parsers():
        try:
            return parser.parse(dict(chunks))
        except Exception:  # sd-parsers raises TypeError, AttributeError... on odd input
            continue
    return None


def _take_prompt_info(meta: ImageMetadata, info: Any) -> None:
    params = meta.params
    if not info.samplers:
        return
    first = info.samplers[0]
    if len(info.samplers) > 1:
        meta.notes.append(f"The image names {len(info.samplers)} samplers; read the first.")
    if first.prompts:
        params["prompt"] = ", ".join(prompt.value for prompt in first.prompts)
    if first.negative_prompts:
        params["negative_prompt"] = ", ".join(prompt.value for prompt in first.negative_prompts)
    if first.name and first.name != "unknown":
        params["sampler"] = first.name
    for key, value in first.parameters.items():
        params.setdefault(_RENAMES.get(key, key), value)
    if first.model is not None and isinstance(first.model.name, str):
        params["model"] = first.model.name
    if first.model is not None and first.model.hash:
        params["model_hash"] = first.model.hash
    extra = info.metadata if isinstance(info.metadata, dict) else {}
    for key in ("steps", "seed"):
        if key not in params and isinstance(extra.get(key), int):
            params[key] = extra[key]
    size = _size_from(extra)
    if size and "width" not in params:
        params["width"], params["height"] = size
    if meta.source_format == "comfyui" and "seed" not in params:
        meta.notes.append("The sampler's seed comes from another node and was not read.")


def _size_from(metadata: dict[str, Any]) -> tuple[int, int] | None:
    width, height = metadata.get("width"), metadata.get("height")
    if isinstance(width, int) and isinstance(height, int):
        return width, height
    match = re.fullmatch(r"\(?\s*(\d+)\s*[,x]\s*(\d+)\s*\)?", str(metadata.get("resolution", "")))
    if match:  # Fooocus writes "(896, 1152)"
        return int(match.group(1)), int(match.group(2))
    for nodes in metadata.values():  # ComfyUI: the inputs of nodes no sampler claimed, by class
        for node in nodes if isinstance(nodes, list) else ():
            size = (node.get("width"), node.get("height")) if isinstance(node, dict) else ()
            if size and all(isinstance(x, int) for x in size):
                return size
    return None


def _comfyui_links(prompt: str) -> list[list[Any]]:
    """Workflow links ([id, from, slot, to, slot, type]) rebuilt from an API `prompt` graph."""
    graph = _json_object(prompt) or {}
    links = []
    for target, node in graph.items():
        inputs = node.get("inputs") if isinstance(node, dict) else None
        for name, value in inputs.items() if isinstance(inputs, dict) else ():
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int):
                # The input name stands in for the link type: sd-parsers only needs "CLIP".
                links.append([0, str(value[0]), value[1], str(target), 0, str(name).upper()])
    return links


def _take_invokeai_model(meta: ImageMetadata, text: str) -> None:
    model = (_json_object(text) or {}).get("model")
    # InvokeAI 4 and later call it "name"; sd-parsers 0.6 only knows "model_name".
    name = model.get("name") or model.get("model_name") if isinstance(model, dict) else model
    if isinstance(name, str) and name:
        meta.params["model"] = name


def _take_a1111_pairs(meta: ImageMetadata, pairs: list[tuple[str, str]]) -> None:
    for key, value in pairs:
        size = _SIZE.match(value) if key == "Size" else None
        if size:
            meta.params["width"], meta.params["height"] = int(size[1]), int(size[2])
        elif key == "Studio generator":
            meta.generator = value
        else:
            # `Studio x` is our param x whose plain key would repeat one of A1111's.
            plain = key.removeprefix("Studio ")
            name = _A1111_NAMES.get(key) or re.sub(r"\W+", "_", plain.lower()).strip("_")
            is_number = name in ("steps", "seed", "cfg")
            meta.params[name] = _number(value) if is_number else value


def split_a1111(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """A1111 text read A1111's way: ({prompt, negative_prompt}, unquoted `Key: value` pairs).

    The pairs are those of the last line when it has at least three, as in A1111; else [].
    """
    lines = text.strip().split("\n") if isinstance(text, str) else []
    found = _PAIR.findall(lines[-1]) if lines else []
    pairs = [(key.strip(), _unquote(value.strip())) for key, value in found]
    if len(pairs) >= 3:
        lines = lines[:-1]
    else:
        pairs = []
    prompt, _, negative = "\n".join(["", *lines]).partition("\nNegative prompt:")
    texts = {"prompt": prompt.strip(), "negative_prompt": negative.strip()}
    return {key: value for key, value in texts.items() if value}, pairs


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            text = json.loads(value)
        except ValueError:
            return value
        return text if isinstance(text, str) else value
    return value


# ---------------------------------------------------------------- small pieces


def _json_object(text: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _number(text: str) -> Any:
    # Plain decimals only: float() also takes "nan" and "inf", which JSON cannot hold.
    if re.fullmatch(r"-?\d+(\.\d*)?([eE][-+]?\d+)?", text):
        return float(text) if re.search(r"[.eE]", text) else int(text)
    return text
