"""The short texts the store keeps for each item: its gallery caption and its search text."""

from __future__ import annotations

IMPORTED = "imported"  # the generator name of images a user dropped in


def search_text(record: dict) -> str:
    """What a gallery search matches: one `key value` line per field (names, model, method,
    this image's seed and every parameter; not timestamps or hashes, which would match almost
    any number), each line between newlines, so `seed 12` can match that field alone."""
    fields = [
        ("generator", record.get("generator")),
        ("title", record.get("generator_title")),
        ("model", record.get("model")),
        ("method", record.get("method")),
        ("seed", record.get("seed")),
    ]
    fields += sorted((k, v) for k, v in record.get("params", {}).items() if k != "seed")
    lines = [f"{key} {value}" for key, value in fields if value not in (None, "")]
    return ("\n" + "\n".join(lines) + "\n").lower()


def caption_of(record: dict) -> str:
    """The short line the gallery shows under a thumbnail: the one its generator gave it
    (`Generator.caption`), else an imported image's name, a frame's place, its prompt or its
    seed."""
    if record.get("caption"):
        return str(record["caption"])
    params = record.get("params", {})
    if record.get("generator") == IMPORTED:
        return str(params.get("name", "imported"))
    sequence = record.get("sequence")
    if sequence:
        return f"frame {sequence['index'] + 1}/{sequence['length']}"
    prompt = str(params.get("prompt", "")).strip()
    return prompt[:40] if prompt else f"seed {record.get('seed', '')}"


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
