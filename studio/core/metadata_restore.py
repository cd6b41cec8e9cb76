"""Putting read settings to use: onto a generator's form (`restore_values`), or in words
(`describe`, what `studio info` prints)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from studio.core.metadata import FORMAT_TITLES, ImageMetadata

if TYPE_CHECKING:
    from studio.core.generator import Param

_ALIASES = {
    "cfg": ("guidance_scale",),
    "steps": ("num_inference_steps",),
    "sampler": ("scheduler",),  # A1111's "Sampler: DPM++ 2M" picks the choice by its label
}
# What Studio's A1111 text carries for other tools' readers, whatever the generator's fields.
_FOR_READERS = frozenset(
    ("prompt", "steps", "sampler", "schedule", "cfg", "width", "height", "model", "model_hash")
)


def restore_values(
    meta: ImageMetadata, generator_params: Sequence[Param], *, title: str = "this generator"
) -> tuple[dict[str, Any], list[str]]:
    """Map `meta.params` onto a generator's specs: (values to set, what could not be mapped).

    A1111's `sampler` fills a choice named `scheduler` by label and `schedule` (A1111's
    `Schedule type`) one named `schedule`; an image from another tool that names a sampler but
    no schedule sets the schedule to "Automatic", as it was made. Input images that are not on
    this disk (written files name them only) are left for the user to choose again.
    """
    from studio.core.generator import ImageParam, ParamError

    specs = {spec.name: spec for spec in generator_params}
    incoming = dict(meta.params)
    width, height = incoming.get("width"), incoming.get("height")
    if "size" in specs and "width" not in specs and width is not None and width == height:
        # A generator with one square size takes `Size: WxH` as that size.
        del incoming["width"], incoming["height"]
        incoming.setdefault("size", width)
    _split_sizes(incoming, specs)
    if meta.source_format not in (None, "studio") and "sampler" in incoming:
        incoming.setdefault("schedule", "Automatic")
        _combine_schedule(incoming, specs)
    # Studio's A1111 text writes these for other readers; a generator without them is fine.
    quiet = _FOR_READERS if meta.generator is not None and meta.source_format == "a1111" else ()
    values: dict[str, Any] = {}
    notes: list[str] = []
    for name, value in incoming.items():
        target = _target(name, specs, incoming)
        if target is None:
            if name not in quiet and not (name == "schedule" and value == "Automatic"):
                notes.append(f"{_human(name)} {_short(value)} has no field in {title}")
            continue
        spec = specs[target]
        if isinstance(spec, ImageParam) and not _is_file(value):
            notes.append(_missing_input(spec, value, (meta.record or {}).get("inputs")))
            continue
        try:
            values[target] = spec.validate(value)
        except ParamError as exc:
            notes.append(f"{exc}; kept the current value")
    return values, notes


def _split_sizes(incoming: dict[str, Any], specs: dict[str, Param]) -> None:
    """A `WxH` value with no field of its own (A1111's "Hires resize: 1152x1024") fills the
    fields `<name>_x` and `<name>_y` where the generator has them."""
    for name, value in list(incoming.items()):
        size = re.fullmatch(r"(\d{1,5})x(\d{1,5})", str(value).strip())
        if name in specs or size is None or not {f"{name}_x", f"{name}_y"} <= specs.keys():
            continue
        del incoming[name]
        incoming[f"{name}_x"], incoming[f"{name}_y"] = int(size[1]), int(size[2])


def _combine_schedule(incoming: dict[str, Any], specs: dict[str, Param]) -> None:
    """A sampler choice labelled the pre-1.9 A1111 way ("DPM++ 2M Karras") and no schedule
    field of its own: the pair picks the combined label."""
    from studio.core.generator import ChoiceParam, ParamError

    target = _target("sampler", specs, incoming)
    spec = specs.get(target) if target else None
    schedule = incoming.get("schedule")
    if "schedule" in specs or not isinstance(spec, ChoiceParam) or schedule == "Automatic":
        return
    try:
        incoming["sampler"] = spec.validate(f"{incoming['sampler']} {schedule}")
    except ParamError:
        return
    del incoming["schedule"]


def _missing_input(spec: Param, value: Any, inputs: Any) -> str:
    known = inputs.get(spec.name) if isinstance(inputs, dict) else None
    digest = known.get("sha256") if isinstance(known, dict) else None
    which = f"{_short(value)}" + (f" (SHA-256 {digest[:12]}…)" if isinstance(digest, str) else "")
    return f"{spec.title} {which} is not on this computer; choose it again"


def _is_file(value: Any) -> bool:
    return value in (None, "") or (isinstance(value, str) and os.path.isfile(value))


def describe(meta: ImageMetadata) -> str:
    """The human-readable report `studio info IMAGE` prints."""
    container = f" ({meta.file_format})" if meta.file_format else ""
    if meta.source_format is None:
        lines = [f"No generation settings found{container}."]
    else:
        lines = [f"Format: {FORMAT_TITLES.get(meta.source_format, meta.source_format)}{container}"]
    record = meta.record or {}
    if meta.generator:
        title = record.get("generator_title")
        version = record.get("generator_version")
        detail = ", ".join(str(x) for x in (meta.generator, version and f"v{version}") if x)
        lines.append(f"Generator: {title} ({detail})" if title else f"Generator: {detail}")
    if record.get("model"):
        hashed = f" (hash {record['model_hash']})" if record.get("model_hash") else ""
        lines.append(f"Model: {record['model']}{hashed}")
    if record.get("width") and record.get("height"):
        lines.append(f"Size: {record['width']}x{record['height']}")
    lines.extend(
        f"{key.capitalize()}: {record[key]}" for key in ("device", "note") if record.get(key)
    )
    if meta.seed is not None:
        lines.append(f"Seed: {meta.seed}")
    if meta.params:
        lines.append("Parameters:")
        for name, value in meta.params.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            lines.append(f"  {name}: " + str(text).replace("\n", "\n    "))
    if meta.notes:
        lines.append("Notes:")
        lines.extend(f"  - {note}" for note in meta.notes)
    return "\n".join(lines)


def _target(name: str, specs: dict[str, Param], incoming: dict[str, Any]) -> str | None:
    if name in specs:
        return name
    # An alias only stands in for a field the image does not also name itself.
    aliases = _ALIASES.get(name, ())
    return next((a for a in aliases if a in specs and a not in incoming), None)


def _human(name: str) -> str:
    return {"cfg": "CFG scale"}.get(name) or name.replace("_", " ").capitalize()


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
