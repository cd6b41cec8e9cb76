"""Settings restored from an image, checked against the user's own files: the model, the
VAE, the LoRAs and embeddings it names are used where they are installed, and named where
they are not (the form keeps the current model rather than one that cannot load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import discovery, hires, library, samplers
from .prompts import extract_networks


def restore(generator: Any, values: dict, models_dir: Any, carried: dict) -> tuple[dict, list]:
    notes: list[str] = []
    roots = discovery.roots(models_dir)
    joined = samplers.split_legacy(values.get("scheduler"))
    if joined is not None and values.get("scheduler") not in samplers.SAMPLERS:
        values["scheduler"] = joined[0]
        values.setdefault("schedule", joined[1])
    schedule = _schedule(carried.get("schedule") or carried.get("scheduler"))
    if schedule is not None and "schedule" not in values:  # A1111 >= 1.9: "Schedule type"
        values["schedule"] = schedule
    if values.get("model"):
        _model(values, generator.entries(models_dir), carried, notes)
    if values.get("vae") or carried.get("vae"):
        _vae(values, roots, str(values.get("vae") or carried.get("vae")), notes)
    _networks(values, roots, carried, notes)
    hires.restore(values, carried, notes, models_dir)
    return values, notes


def _schedule(value: Any) -> str | None:
    for key, (label, _switch) in samplers.SCHEDULES.items():
        if str(value).strip().lower() in (key, label.lower()):
            return key
    return None


def _model(values: dict, entries: list, carried: dict, notes: list) -> None:
    wanted = str(values["model"])
    short = str(carried.get("model_hash") or "").lower()
    stem = Path(wanted).stem.lower()
    for entry in entries:
        if entry.problem:
            continue
        if str(entry.path) == wanted or entry.name.lower() in (wanted.lower(), stem):
            values["model"] = str(entry.path)
            return
    for entry in entries:
        if short and not entry.problem and entry.short_hash.lower() == short:
            values["model"] = str(entry.path)
            return
    del values["model"]
    hashed = f" (hash {short})" if short else ""
    notes.append(
        f"The image was made with the model '{wanted}'{hashed}, which is not in your model "
        "folders; kept the current model"
    )


def _vae(values: dict, roots: list, wanted: str, notes: list) -> None:
    if wanted.lower() in ("none", "automatic"):
        values["vae"] = None
        return
    found = library.by_name(library.scan_files(roots, "vae"), Path(wanted).stem)
    if found is not None:
        values["vae"] = str(found.path)
        return
    values.pop("vae", None)
    notes.append(f"The image used the VAE '{wanted}', which is not in your model folders")


def _networks(values: dict, roots: list, carried: dict, notes: list) -> None:
    prompts = [str(values.get("prompt") or ""), str(values.get("negative_prompt") or "")]
    lora_names = [t.name for text in prompts for t in extract_networks(text)[1] if t.kind == "lora"]
    lora_names += _names(carried.get("lora_hashes"))
    if lora_names:
        have = library.scan_files(roots, "lora")
        missing = [n for n in dict.fromkeys(lora_names) if library.by_name(have, n) is None]
        if missing:
            notes.append("LoRA not in your model folders: " + ", ".join(missing))
    ti_names = _names(carried.get("ti_hashes"))
    if ti_names:
        have = library.scan_files(roots, "embedding")
        missing = [n for n in ti_names if library.by_name(have, n) is None]
        if missing:
            notes.append("Embedding not in your model folders: " + ", ".join(missing))


def _names(pairs: Any) -> list[str]:
    """The names in A1111's "name: hash, name: hash" lists."""
    if not isinstance(pairs, str):
        return []
    names = []
    for part in pairs.split(","):
        name, _, _hash = part.strip().rpartition(":")
        if name.strip():
            names.append(name.strip())
    return names
