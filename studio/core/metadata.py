"""Generation metadata written into saved images (our JSON request in a `studio` chunk)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.PngImagePlugin import PngInfo

    from studio.core.generator import Result

STUDIO_KEY = "studio"


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
    return record


def png_info(result: Result) -> PngInfo:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_itxt(STUDIO_KEY, json.dumps(result_record(result), sort_keys=True))
    return info


def read_studio_record(image: Any) -> dict[str, Any] | None:
    """Our record from an opened PIL image, or None when it carries none."""
    text = getattr(image, "text", {}).get(STUDIO_KEY) or image.info.get(STUDIO_KEY)
    if not text:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
