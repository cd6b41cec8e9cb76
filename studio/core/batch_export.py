"""Batch export: many project images to one folder, in a chosen format, under templated names.

Every file is written atomically and never replaces another; a full disk or a read-only folder
stops the export with a message a user can act on, keeping what was already written.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.export import (
    TOKENS,
    ExportError,
    check_writable,
    discard_temporary,
    place_file,
    render_name,
    template_tokens,
    unique_path,
    write_atomic,
    write_temporary,
)
from studio.core.metadata import save_options
from studio.core.metadata_inputs import public_record

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "TOKENS",
    "ExportItem",
    "ExportOptions",
    "ExportReport",
    "export_items",
    "preview_name",
    "render_name",
]

log = logging.getLogger(__name__)

FORMATS = {"png": ("PNG", ".png"), "jpeg": ("JPEG", ".jpg"), "jpg": ("JPEG", ".jpg")}
FORMATS["webp"] = ("WEBP", ".webp")
MIN_SCALE, MAX_SCALE = 0.1, 8.0
MAX_SIDE = {"JPEG": 65_500, "WEBP": 16_383, "PNG": 1 << 20}  # what each encoder accepts
MANIFEST_FIELDS = ("file", "item_id", "generator", "seed", "prompt", "model", "width", "height")
MANIFEST_FIELDS += ("format",)
# Encoding, resizing and fsync release the GIL, so a few threads hide the cost of writing
# safely; files still get their names one at a time, in order.
WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class ExportItem:
    """One image to export: its project id, its record, and a way to decode it when needed."""

    item_id: int
    record: dict
    load: Callable[[], Image]


@dataclass
class ExportOptions:
    """How to write the files: format, quality, scale, names and whether to add a manifest."""

    fmt: str = "png"
    quality: int = 92
    lossless: bool = False
    scale: float = 1.0
    template: str = "{index}-{generator}-{seed}"
    manifest: bool = False

    @property
    def pil_format(self) -> str:
        return FORMATS[self.fmt.lower()][0]

    @property
    def suffix(self) -> str:
        return FORMATS[self.fmt.lower()][1]

    def validate(self) -> None:
        """Raise ExportError with a message a user can act on if an option is unusable."""
        if self.fmt.lower() not in FORMATS:
            raise ExportError(f"'{self.fmt}' is not an export format; choose PNG, JPEG or WebP.")
        if not isinstance(self.quality, int) or not 1 <= self.quality <= 100:
            raise ExportError(f"Quality must be a whole number from 1 to 100, not {self.quality}.")
        if self.lossless and self.pil_format == "JPEG":
            raise ExportError("JPEG cannot be lossless; choose PNG or lossless WebP.")
        if not MIN_SCALE <= self.scale <= MAX_SCALE:
            raise ExportError(
                f"Scale must be between {MIN_SCALE:g}x and {MAX_SCALE:g}x, not {self.scale:g}x."
            )
        template_tokens(self.template)


@dataclass
class ExportReport:
    """What an export wrote, whether it was cancelled, and why it stopped if it failed."""

    written: list[Path] = field(default_factory=list)
    cancelled: bool = False
    error: str | None = None
    manifest: list[Path] = field(default_factory=list)
    total: int = 0
    folder: Path | None = None

    def summary(self) -> str:
        """One line for a status bar or a terminal."""
        if self.error:
            return self.error
        done = f"{len(self.written)} of {self.total}" if self.cancelled else len(self.written)
        noun = "image" if self.total == 1 else "images"
        text = f"Wrote {done} {noun} to {self.folder}"
        if self.manifest:
            text += " with a manifest"
        return ("Cancelled. " if self.cancelled else "") + text + "."


# ---------------------------------------------------------------- names


def preview_name(record: dict, options: ExportOptions, when: datetime | None = None) -> str:
    """The file name an image with `record` would get as the first of an export."""
    record = dict(record)
    width, height = record.get("width"), record.get("height")
    if isinstance(width, int) and isinstance(height, int):
        record["width"], record["height"] = scaled_size((width, height), options.scale)
    stem = render_name(options.template, record, 1, when or datetime.now())
    return stem + options.suffix


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """The size of an image after scaling, at least 1 px each way."""
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


# ---------------------------------------------------------------- export


def export_items(
    items: Sequence[ExportItem],
    folder: Path,
    options: ExportOptions,
    progress: Callable[[int, int], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    *,
    workers: int | None = None,
) -> ExportReport:
    """Write `items` into `folder` with their metadata; stops at a cancel or the first failure.

    Raises ExportError for invalid options only; a folder or disk problem comes back as the
    report's `error`, with the files written before it kept and listed. Files are encoded on
    `workers` threads (default WORKERS) but named in order, calling `progress(done, total)`
    after each; cancel is checked before each name is given, so nothing appears after it.
    """
    options.validate()
    folder = Path(folder)
    report = ExportReport(total=len(items), folder=folder)
    when = datetime.now()
    try:
        check_writable(folder)
    except OSError as exc:
        report.error = describe_failure(exc, folder, 0, len(items))
        return report
    rows: list[dict[str, Any]] = []
    workers = max(1, workers or WORKERS)
    queue = iter(enumerate(items, start=1))
    ahead: deque[tuple[ExportItem, Future[_Staged]]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="studio-export") as pool:
        try:
            while True:
                while len(ahead) <= workers and (entry := next(queue, None)) is not None:
                    task = pool.submit(_stage, entry[1], entry[0], folder, options, when)
                    ahead.append((entry[1], task))
                if not ahead:
                    break
                if is_cancelled is not None and is_cancelled():
                    report.cancelled = True
                    break
                item, task = ahead.popleft()
                try:
                    staged = task.result()
                    path = place_file(staged.tmp, staged.path)
                except Exception as exc:  # noqa: BLE001 - one message for the user; log the rest
                    log.warning("export of item %s failed", item.item_id, exc_info=True)
                    report.error = describe_failure(
                        exc, folder, len(report.written), len(items), item
                    )
                    break
                report.written.append(path)
                rows.append(_manifest_row(path, item.item_id, staged.record, options))
                if progress is not None:
                    progress(len(report.written), len(items))
        finally:
            _discard(ahead)
    if options.manifest and rows and report.error is None:
        try:
            report.manifest = write_manifest(rows, folder, when)
        except OSError as exc:
            report.error = describe_failure(exc, folder, len(report.written), len(items))
            report.error += " The manifest was not written."
    return report


@dataclass(frozen=True)
class _Staged:
    """An image encoded into a temporary file, waiting for its name."""

    tmp: str
    path: Path
    record: dict


def _stage(
    item: ExportItem, position: int, folder: Path, options: ExportOptions, when: datetime
) -> _Staged:
    image = prepare_image(item.load(), options)
    # Names, not paths, of input and model files: exported files and manifests get shared.
    record = public_record(
        dict(item.record, width=image.width, height=image.height, exported_from=item.item_id)
    )
    fmt = options.pil_format
    kwargs = save_options(record, fmt)
    if fmt == "JPEG":
        kwargs["quality"] = options.quality
    elif fmt == "WEBP":
        kwargs.update(
            lossless=options.lossless, quality=100 if options.lossless else options.quality
        )
    # the plain name: place_file picks the next free one in order, so names never race
    path = folder / (render_name(options.template, record, position, when) + options.suffix)
    tmp = write_temporary(path, lambda handle: image.save(handle, fmt, **kwargs))
    return _Staged(tmp, path, record)


def _discard(ahead: deque[tuple[ExportItem, Future[_Staged]]]) -> None:
    """Remove the temporary files of images encoded ahead that will not be named."""
    for _item, task in ahead:
        if task.cancel():
            continue
        with contextlib.suppress(Exception):  # a failed one already removed its own file
            discard_temporary(task.result().tmp)


def prepare_image(image: Image, options: ExportOptions) -> Image:
    """The image scaled (Lanczos) and in a mode the format can store.

    JPEG has no alpha: transparent areas are flattened onto white, the way most viewers and
    printers show them, rather than onto whatever colour the hidden pixels happen to hold.
    """
    from PIL import Image as PILImage

    fmt = options.pil_format
    if options.scale != 1.0:
        size = scaled_size(image.size, options.scale)
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        image = image.resize(size, PILImage.Resampling.LANCZOS)
    if max(image.size) > MAX_SIDE[fmt]:
        raise ExportError(
            f"{fmt} images can be at most {MAX_SIDE[fmt]} pixels on a side, and this one would "
            f"be {image.width}x{image.height}; choose a smaller scale or another format."
        )
    if fmt == "JPEG":
        if _has_alpha(image):
            rgba = image.convert("RGBA")
            flat = PILImage.new("RGB", image.size, "white")
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if fmt == "WEBP" and image.mode not in ("RGB", "RGBA"):
        return image.convert("RGBA" if _has_alpha(image) else "RGB")
    return image


def _has_alpha(image: Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


_CAUSES = {
    errno.ENOSPC: "The disk is full",
    errno.EDQUOT: "The disk quota is used up",
    errno.EROFS: "The folder is on a read-only disk",
    errno.EACCES: "Studio may not write in this folder",
    errno.EPERM: "Studio may not write in this folder",
    errno.ENOTDIR: "The folder path leads through a file",
    errno.EEXIST: "A file is in the way of the folder",
}
_ADVICE = {
    errno.ENOSPC: "free some space and export again",
    errno.EDQUOT: "free some space and export again",
}


def describe_failure(
    exc: BaseException, folder: Path, done: int, total: int, item: ExportItem | None = None
) -> str:
    """A message for the user: what went wrong, how far the export got, what to do."""
    code = getattr(exc, "errno", None)
    progress = f"wrote {done} of {total} images to {folder}"
    if code in _CAUSES:
        advice = _ADVICE.get(code, "choose another folder")
        return f"{_CAUSES[code]}: {progress}; {advice}."
    which = f"image {item.item_id}" if item is not None else f"to {folder}"
    reason = (str(exc) or type(exc).__name__).rstrip(".")
    return f"Could not export {which}: {reason}; {progress} before stopping."


# ---------------------------------------------------------------- manifest


def _manifest_row(path: Path, item_id: int, record: dict, options: ExportOptions) -> dict:
    params = record.get("params")
    return {
        "file": path.name,
        "item_id": item_id,
        "generator": record.get("generator"),
        "seed": record.get("seed"),
        "prompt": (params.get("prompt") or "") if isinstance(params, dict) else "",
        "model": record.get("model"),
        "width": record.get("width"),
        "height": record.get("height"),
        "format": options.pil_format,
    }


def write_manifest(rows: Sequence[dict], folder: Path, when: datetime) -> list[Path]:
    """Write manifest.csv and manifest.json (or the next free names); returns both paths."""
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    document = {"exported": when.isoformat(timespec="seconds"), "images": list(rows)}
    texts = {".csv": table.getvalue(), ".json": json.dumps(document, indent=2, ensure_ascii=False)}
    paths = []
    for suffix, text in texts.items():
        data = text.encode("utf-8")
        path = unique_path(folder, "manifest", suffix)
        paths.append(write_atomic(path, lambda handle, data=data: handle.write(data)))
    return paths
