"""Writing results to files: unique names, name templates, atomic writes, animated strips."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import string
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, BinaryIO

from studio.core.metadata import png_info

if TYPE_CHECKING:
    from PIL.Image import Image

    from studio.core.generator import Result

ANIMATION_FORMATS = ("gif", "webp")
TOKENS = {
    "index": "position in this export, 0001, 0002, …",
    "seed": "the image's seed",
    "generator": "the generator's id",
    "model": "the model's name",
    "prompt": "the prompt (or the generator's title), shortened",
    "date": "creation date, YYYY-MM-DD",
    "time": "creation time, HH-MM-SS",
    "w": "width in pixels after scaling",
    "h": "height in pixels after scaling",
    "source": "the input image's file name, without its extension (batches over files)",
}
PROMPT_CHARS = 60
NAME_BYTES = 180  # leaves room for a "-123" suffix and the extension under 255 bytes

_ILLEGAL = re.compile(r'[<>:"/\\|?*]')  # illegal on Windows; "/" and "\" are separators too
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul"} | {
    f"{p}{n}" for p in ("com", "lpt") for n in "123456789"
}
_UNDERSCORES = re.compile(r"_{2,}")
_EDGES = " ._-"  # stripped from both ends: no hidden files, no dangling separators


class ExportError(OSError):
    """A file could not be written; the message says which and why."""


def _export_error(message: str, cause: OSError) -> ExportError:
    error = ExportError(message)
    error.errno = cause.errno  # callers tell a full disk from a read-only one by it
    return error


def check_writable(folder: Path) -> Path:
    """Create `folder` if needed and prove we can write there, or raise ExportError."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".studio-probe-"):
            pass
    except OSError as exc:
        raise _export_error(f"Cannot write to '{folder}': {exc.strerror or exc}", exc) from None
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
        raise _export_error(f"Cannot write '{path}': {exc.strerror or exc}", exc) from None


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
    return place_file(write_temporary(path, save), path, overwrite)


def write_temporary(path: Path, save: Callable[[BinaryIO], None]) -> str:
    """Write a hidden temporary file beside `path` and flush it to the disk; returns its name.

    The caller then moves it into place with place_file, or removes it with discard_temporary;
    a failure here leaves nothing behind.
    """
    fd, tmp = _temporary_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; exports should get the usual mode
                os.fchmod(handle.fileno(), 0o666 & ~_UMASK)
            save(handle)
            handle.flush()
            os.fsync(handle.fileno())  # the data is on the disk before the name appears
    except OSError as exc:
        discard_temporary(tmp)
        raise _export_error(f"Cannot write '{path}': {exc.strerror or exc}", exc) from None
    except BaseException:
        discard_temporary(tmp)
        raise
    return tmp


def place_file(tmp: str, path: Path, overwrite: bool = False) -> Path:
    """Give a file from write_temporary its name, `path` or (unless `overwrite`) the next free
    one; returns the path. The temporary name is gone afterwards, whatever happened."""
    try:
        if overwrite:
            os.replace(tmp, path)
        else:
            path = _place_without_replacing(tmp, path)
    except OSError as exc:
        raise _export_error(f"Cannot write '{path}': {exc.strerror or exc}", exc) from None
    finally:
        discard_temporary(tmp)
    return path


def discard_temporary(tmp: str) -> None:
    """Remove a temporary file that will not be placed (it may be gone already)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)


def _place_without_replacing(tmp: str, path: Path) -> Path:
    folder, stem, suffix = path.parent, path.stem, path.suffix  # "x-2", never "x-2-2"
    while True:
        try:
            os.link(tmp, path)  # atomic, and fails instead of replacing
            return path
        except FileExistsError:
            path = unique_path(folder, stem, suffix)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            break  # no hard links here (FAT, exFAT, some network shares): reserve the name
    while True:
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            path = unique_path(folder, stem, suffix)
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
    from studio.core.metadata import result_record

    return save_image_as(result.image, result_record(result), path)


def save_image_as(image: Image, record: dict, path: Path) -> Path:
    """Write an image with its metadata to exactly `path` (chosen by the user, so an existing
    file is replaced); the format follows the suffix."""
    from studio.core.metadata import save_options

    path = Path(path)
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(path.suffix.lower())
    if fmt is None:
        raise ExportError(f"'{path.name}': choose a .png, .jpg or .webp file name")
    options = save_options(record, fmt)
    if fmt != "PNG":
        options["quality"] = 95
    if fmt == "JPEG":
        image = image.convert("RGB")
    return write_atomic(path, lambda handle: image.save(handle, fmt, **options), overwrite=True)


# ---------------------------------------------------------------- name templates


def template_tokens(template: str) -> list[str]:
    """The tokens a name template uses; raises ExportError for an unusable template."""
    if not template.strip():
        raise ExportError("The name template is empty; try {index}-{generator}-{seed}.")
    known = ", ".join("{" + name + "}" for name in TOKENS)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        raise ExportError(
            f"The name template '{template}' has an unmatched brace; tokens are {known}."
        ) from None
    tokens = []
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in TOKENS or spec or conversion:
            token = "{" + name + ("!" + conversion if conversion else "")
            token += (":" + spec if spec else "") + "}"
            raise ExportError(f"Unknown token {token} in the name template; use {known}.")
        tokens.append(name)
    return tokens


def render_name(template: str, record: dict, index: int, when: datetime) -> str:
    """The file name (without extension) `template` gives one image, safe to use in a folder.

    `index` is the image's 1-based position in the export; {date} and {time} come from the
    record's "created" time, or from `when` (the export's start) for a record without one.
    Token values and the result are sanitised: never a path, never hidden, never empty.
    Raises ExportError for a template template_tokens refuses.
    """
    template_tokens(template)
    moment = _created(record) or when
    values = {
        "index": f"{index:04d}",
        "seed": record.get("seed"),
        "generator": record.get("generator"),
        "model": record.get("model"),
        "prompt": _shorten(sanitise(prompt_of(record)), PROMPT_CHARS),
        "date": moment.strftime("%Y-%m-%d"),
        "time": moment.strftime("%H-%M-%S"),
        "w": record.get("width"),
        "h": record.get("height"),
        "source": _source_of(record),
    }
    parts = []
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        parts.append(literal)
        if name is not None:
            parts.append(sanitise("" if values.get(name) is None else str(values[name])))
    return _finish("".join(parts))


def _source_of(record: dict) -> str:
    params = record.get("params") or {}
    source = params.get("image") or params.get("source") or params.get("name") or ""
    if not source:  # the first input image it names (e.g. image to image's init image)
        inputs = record.get("inputs") or {}
        first = next((v for v in inputs.values() if isinstance(v, dict) and v.get("file")), None)
        source = first["file"] if first else ""
    return PurePath(str(source).replace("\\", "/")).stem if source else ""


def sanitise(text: str) -> str:
    """`text` as one safe piece of a file name: no separators, control or illegal characters,
    and runs of whitespace or underscores as a single underscore."""
    return _UNDERSCORES.sub("_", _clean(text))


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", " ".join(text.split()))  # tabs and newlines too
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")  # control, format
    return _ILLEGAL.sub("_", text).replace(" ", "_")


def _created(record: dict) -> datetime | None:
    created = record.get("created")
    if not isinstance(created, int | float):
        return None
    try:
        return datetime.fromtimestamp(created)
    except (OverflowError, OSError, ValueError):  # a damaged record must not stop an export
        return None


def prompt_of(record: dict) -> str:
    """The record's prompt, or its generator's title when it has none."""
    params = record.get("params")
    prompt = params.get("prompt") if isinstance(params, dict) else None
    if isinstance(prompt, str) and prompt.strip():
        return prompt
    return str(record.get("generator_title") or record.get("generator") or "")


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind("_", 0, limit + 1)
    return text[: cut if cut >= limit // 2 else limit].rstrip(_EDGES)


def _finish(name: str) -> str:
    name = _clean(name).strip(_EDGES)
    name = name.encode("utf-8")[:NAME_BYTES].decode("utf-8", "ignore").strip(_EDGES)
    if name.split(".")[0].lower() in _WINDOWS_DEVICES:  # CON.png cannot exist on Windows
        name = "_" + name
    return name or "image"
