"""The short texts the store keeps for each item: its gallery caption and its search text."""

from __future__ import annotations

from pathlib import PurePath

IMPORTED = "imported"  # the generator name of images a user dropped in


def search_text(record: dict) -> str:
    """What a gallery search matches: names, model, this image's seed and every parameter
    value (not timestamps or hashes, which would match almost any number)."""
    words = [record.get(k, "") for k in ("generator", "generator_title", "model", "method")]
    words.append(f"seed {record.get('seed', '')}")
    for key, value in sorted(record.get("params", {}).items()):
        if key != "seed":
            words.append(f"{key} {value}")
    return " ".join(str(w) for w in words if w != "").lower()


def caption_of(record: dict) -> str:
    """The short line the gallery shows under a thumbnail."""
    params = record.get("params", {})
    if record.get("generator") == IMPORTED:
        return str(params.get("name", "imported"))
    sequence = record.get("sequence")
    if sequence:
        return f"frame {sequence['index'] + 1}/{sequence['length']}"
    prompt = str(params.get("prompt", "")).strip()
    if prompt:
        return prompt[:40]
    source = params.get("image")
    if isinstance(source, str) and source:  # made from an input image: name it
        style = params.get("style_image") if params.get("model") != "builtin" else None
        text = PurePath(source.replace("\\", "/")).stem
        if isinstance(style, str) and style:
            text += " · " + PurePath(style.replace("\\", "/")).stem
        return text[:40]
    return f"seed {record.get('seed', '')}"


def item_label(record: dict) -> str:
    """The canvas label of an item: what made it and its seed, its size, its note (an image
    brought in: its file name)."""
    params = record.get("params", {})
    if record.get("generator") == IMPORTED:
        return str(params.get("name", "imported"))  # the file's own name
    title = record.get("generator_title") or record.get("generator", "")
    lines = [
        f"{title} · seed {record.get('seed', '')}",
        f"{record.get('width')}×{record.get('height')}",
    ]
    if record.get("note"):
        lines.append(str(record["note"]))
    return "\n".join(lines)
