"""Generation metadata written into saved images, and the model of what is read back.

Every saved image carries two things:

- A1111's `parameters` text (prompt line, `Negative prompt:`, then one line of `Key: value`
  pairs that starts `Steps: N, Sampler: ...`), because that is the only layout the readers
  artists use (Civitai, sd-parsers, sd-prompt-reader) accept. PNG stores it in a `parameters`
  text chunk; JPEG and WebP in EXIF UserComment as A1111 does (`UNICODE\\0` + UTF-16-BE,
  type UNDEFINED).
- Our full JSON record (`result_record`): in PNG an iTXt chunk `studio`; in JPEG and WebP an
  XMP packet (element `studio:record` in the namespace `XMP_NAMESPACE`). XMP rather than a
  second EXIF tag because in JPEG it sits in its own APP1 segment, so the record and the
  UTF-16 UserComment each get the full 64 KB a segment allows; it is plain text other tools
  (exiftool, photo managers) show and keep; and EXIF has no tag meant for free-form data.

Local paths never reach a written file: `save_options` writes `public_record(record)`, in
which input and model files are named by file name only (`metadata_inputs`).

Reading is elsewhere, so that writing stays light at start-up: `metadata_read.read_metadata`
reads files into `ImageMetadata` (defined here), `metadata_restore.restore_values` and
`describe` put what was read to use.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from studio.core.metadata_inputs import input_files, public_record

if TYPE_CHECKING:
    from PIL.PngImagePlugin import PngInfo

    from studio.core.generator import Result

__all__ = [
    "STUDIO_KEY",
    "XMP_NAMESPACE",
    "ImageMetadata",
    "a1111_text",
    "png_info",
    "read_studio_record",
    "result_record",
    "save_options",
]

log = logging.getLogger(__name__)

STUDIO_KEY = "studio"
PARAMETERS_KEY = "parameters"
USER_COMMENT_PREFIX = b"UNICODE\0"
EXIF_IFD = 0x8769
USER_COMMENT = 0x9286
# .invalid is reserved (RFC 2606), so no one else can ever own this namespace.
XMP_NAMESPACE = "https://studio.invalid/ns/1.0/"
SOURCE_FORMATS = ("studio", "a1111", "comfyui", "invokeai", "novelai", "fooocus")
FORMAT_TITLES = {
    "studio": "Studio",
    "a1111": "AUTOMATIC1111 parameters",
    "comfyui": "ComfyUI",
    "invokeai": "InvokeAI",
    "novelai": "NovelAI",
    "fooocus": "Fooocus",
}
# A JPEG APP1 segment holds 65533 bytes; Pillow raises instead of splitting.
_JPEG_SEGMENT = 65533
_XMP_HEADER = 29  # b"http://ns.adobe.com/xap/1.0/\0", which Pillow adds inside the segment

# Params that the fixed head of the pairs line already carries.
_WRITTEN_IN_HEAD = {"prompt", "negative_prompt", "steps", "cfg", "guidance_scale", "seed"}
# Lower-cased keys of the head: a param that would repeat one is written as `Studio <name>`.
_HEAD_KEYS = {"steps", "sampler", "cfg scale", "seed", "size", "model hash", "model"}
_A1111_KEY = re.compile(r"\w[\w \-/]+")  # what A1111's own pair regex accepts as a key
_XML_UNSAFE = re.compile(r"[\ud800-\udfff\ufffe\uffff]")


@dataclass
class ImageMetadata:
    """What `read_metadata` found in one image, in Studio's parameter names where known."""

    source_format: str | None = None  # one of SOURCE_FORMATS, or None when nothing was read
    generator: str | None = None  # our generator id, when the image says so
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    record: dict[str, Any] | None = None  # our full record, for source_format "studio"
    raw: dict[str, str] = field(default_factory=dict)  # the text found, by chunk or EXIF name
    notes: list[str] = field(default_factory=list)  # what could not be read or mapped
    file_format: str | None = None  # PNG, JPEG, WEBP, ...


def result_record(result: Result) -> dict[str, Any]:
    """Everything needed to reproduce and attribute one image, as plain JSON data."""
    record: dict[str, Any] = {
        "generator": result.generator,
        "generator_title": result.title or result.generator,
        "generator_version": result.generator_version,
        "method": result.method or result.title or result.generator,
        "index": result.index,
        "params": result.params,
        "seed": result.seed,
        "model": result.model_name,
        "model_hash": result.model_hash,
        "device": result.device,
        "width": result.image.width,
        "height": result.image.height,
        "created": round(result.created, 3),
    }
    if result.note:
        record["note"] = result.note
    if result.sequence:
        group, index, length = result.sequence
        record["sequence"] = {"group": group, "index": index, "length": length}
    if result.infotext:
        record["infotext"] = dict(result.infotext)
    if result.caption:
        record["caption"] = result.caption
    if result.grid:
        record["grid"] = dict(result.grid)
    inputs = input_files(result.params)
    if inputs:
        record["inputs"] = inputs
    return record


# ---------------------------------------------------------------- A1111 text


def a1111_text(record: dict[str, Any]) -> str:
    """The record as AUTOMATIC1111's `parameters` text (prompt, negative prompt, pairs)."""
    params = record.get("params") or {}
    lines = [_prompt_line(record)]
    negative = params.get("negative_prompt")
    if isinstance(negative, str) and negative.strip():
        lines.append(f"Negative prompt: {negative}")
    lines.append(", ".join(f"{key}: {_quote(value)}" for key, value in _pairs(record)))
    return "\n".join(lines)


def _prompt_line(record: dict[str, Any]) -> str:
    params = record.get("params") or {}
    prompt = params.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        return prompt
    # Without a prompt, say what made the image: the title plus its mode-like (text) choices;
    # file paths and long text stay out of this human summary (the pairs carry them).
    title = record.get("generator_title") or record.get("generator") or "Studio"
    words = [
        value
        for name, value in params.items()
        if name not in ("prompt", "negative_prompt")
        and isinstance(value, str)
        and value.strip()
        and len(value) <= 32
        and not any(c in value for c in "/\\\n")
    ]
    return ", ".join([title, *words])


def _pairs(record: dict[str, Any]) -> list[tuple[str, Any]]:
    params = record.get("params") or {}
    width, height = record.get("width"), record.get("height")
    # Readers reject a line without a sampler, so a one-pass generator names its method; commas,
    # colons and quotes would make sd-parsers drop the key, and the method is a label anyway.
    method = re.sub(r'[,:"\s]+', " ", str(record.get("method") or "")).strip()
    pairs: list[tuple[str, Any]] = [
        ("Steps", params.get("steps") or 1),
        ("Sampler", method or record.get("generator_title") or "Studio"),
    ]
    cfg = params.get("cfg", params.get("guidance_scale"))
    if cfg is not None:
        pairs.append(("CFG scale", cfg))
    pairs.append(("Seed", record.get("seed")))
    infotext = record.get("infotext") or {}
    if infotext.get("Size"):  # e.g. A1111's hires fix: the first pass's size
        pairs.append(("Size", infotext["Size"]))
    elif width and height:
        pairs.append(("Size", f"{width}x{height}"))
    if record.get("model_hash"):
        pairs.append(("Model hash", record["model_hash"]))
    if record.get("model"):
        pairs.append(("Model", record["model"]))
    written = {key.lower() for key, _value in pairs}
    for key, value in infotext.items():
        if key.lower() not in written and _A1111_KEY.fullmatch(key):
            pairs.append((key, value))  # None: that pair (and a param of its name) left out
            written.add(key.lower())
    # A size-like param that only repeats `Size: WxH` is left out; a differing one is kept.
    repeated = {"size": width if width == height else None, "width": width, "height": height}
    for name, value in params.items():
        if name in _WRITTEN_IN_HEAD or value is None or repeated.get(name) == value:
            continue
        key = name.replace("_", " ").capitalize()
        if key.lower() in written - _HEAD_KEYS:  # the generator's own pair says it already
            continue
        if key.lower() in _HEAD_KEYS | {"studio generator"} or not _A1111_KEY.fullmatch(key):
            key = f"Studio {name.replace('_', ' ')}"  # readers map `Studio x` back to param x
        if _A1111_KEY.fullmatch(key):  # else unreadable by A1111's pattern; the record has it
            pairs.append((key, value))
    pairs.append(("Studio generator", record.get("generator")))
    return [(key, value) for key, value in pairs if value is not None]


def _quote(value: Any) -> str:
    if isinstance(value, bool):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value).removesuffix(".0")
    elif isinstance(value, int | str):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    # A1111 quotes values with a comma, colon or newline; a quote or edge space is quoted too
    # because its reader would otherwise unquote or trim the value.
    if any(c in text for c in ',:\n"') or text != text.strip():
        return json.dumps(text, ensure_ascii=False)
    return text


# ---------------------------------------------------------------- writing


def save_options(record: dict[str, Any], fmt: str) -> dict[str, Any]:
    """Keyword arguments for `PIL.Image.save` that embed `record` in a PNG, JPEG or WEBP.

    Local paths in the record are written as file names only (`public_record`).
    """
    fmt = fmt.upper()
    record = public_record(record)
    text = _encodable(a1111_text(record))
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text(PARAMETERS_KEY, text)  # tEXt when Latin-1 allows, else iTXt, as A1111 does
        info.add_itxt(STUDIO_KEY, json.dumps(record, sort_keys=True))
        return {"pnginfo": info}
    if fmt not in ("JPEG", "WEBP"):
        raise ValueError(f"Metadata can be written to PNG, JPEG or WEBP, not {fmt!r}")
    exif = _exif_with_comment(text)
    xmp = _xmp_packet(record)
    if fmt == "JPEG":
        if len(exif) > _JPEG_SEGMENT:
            log.warning("The A1111 text is too long for JPEG EXIF (%d bytes); left out", len(exif))
            exif = _exif_with_comment(None)
        if len(xmp) > _JPEG_SEGMENT - _XMP_HEADER:
            log.warning("The studio record is too long for JPEG XMP (%d bytes); left out", len(xmp))
            return {"exif": exif}
    return {"exif": exif, "xmp": xmp}


def png_info(result: Result) -> PngInfo:
    """The PNG text chunks (`parameters` and `studio`) for one result."""
    return save_options(result_record(result), "PNG")["pnginfo"]


def _encodable(text: str) -> str:
    # A lone surrogate (e.g. from an undecodable file name) would make the encoder raise.
    return text.encode("utf-8", "replace").decode("utf-8")


def _exif_with_comment(text: str | None) -> bytes:
    """EXIF holding only UserComment, as A1111 writes it (piexif): big-endian, the comment of
    type UNDEFINED (7) as the standard says. Pillow would type a bytes value BYTE (1), which
    exiftool flags and piexif-based readers (sd-prompt-reader) cannot read."""
    from PIL import TiffImagePlugin, TiffTags

    head = b"MM\0\x2a\0\0\0\x08"
    ifd0 = TiffImagePlugin.ImageFileDirectory_v2(ifh=head)
    if text is None:
        return b"Exif\0\0" + head + ifd0.tobytes(8)
    exif_at = 8 + 2 + 12 + 4  # after IFD0: its entry count, one entry, the next-IFD offset
    ifd0[EXIF_IFD] = exif_at
    ifd0.tagtype[EXIF_IFD] = TiffTags.LONG
    comments = TiffImagePlugin.ImageFileDirectory_v2(ifh=head, group=EXIF_IFD)
    comments[USER_COMMENT] = USER_COMMENT_PREFIX + text.encode("utf-16-be")
    comments.tagtype[USER_COMMENT] = TiffTags.UNDEFINED
    return b"Exif\0\0" + head + ifd0.tobytes(8) + comments.tobytes(exif_at)


def _xmp_packet(record: dict[str, Any]) -> bytes:
    data = json.dumps(record, sort_keys=True, ensure_ascii=False)
    # Characters XML cannot hold can only sit inside JSON strings, where an escape is valid.
    data = _XML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", data)
    # By hand: xml.sax.saxutils pulls in urllib.request, ~30 ms at start-up.
    data = data.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:studio="{XMP_NAMESPACE}">'
        f"<studio:record>{data}</studio:record>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def record_from_xmp(xmp: bytes | str) -> dict[str, Any] | None:
    """Our record from an XMP packet, or None when it holds none."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(xmp)
    except (ElementTree.ParseError, ValueError, TypeError):
        return None
    tag = f"{{{XMP_NAMESPACE}}}record"
    for element in root.iter():
        text = element.text if element.tag == tag else element.attrib.get(tag)
        if text:
            return _json_record(text)
    return None


# ---------------------------------------------------------------- reading


def read_studio_record(image: Any) -> dict[str, Any] | None:
    """Our record from an opened PIL image (PNG chunk, or JPEG/WebP XMP), or None."""
    info = getattr(image, "info", {})
    text = info.get(STUDIO_KEY)
    if not text and info.get("xmp"):
        return record_from_xmp(info["xmp"])
    if not text and getattr(image, "format", None) == "PNG":
        text = image.text.get(STUDIO_KEY)  # chunks after the pixel data (loads the image)
    return _json_record(text) if text else None


def _json_record(text: str) -> dict[str, Any] | None:
    try:
        record = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None
