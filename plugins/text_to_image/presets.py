"""The form's presets: "Fast", fitted to the chosen model and what the model folders hold,
and "Standard", the form's own defaults. Reads file headers only (UI thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.generator import Preset

from . import discovery, fast, samplers, taesd

LORA_SLOTS = ("lora", "lora_2", "lora_3")
SETTINGS = ("scheduler", "schedule", "steps", "cfg", "fast_decode")


def fast_preset(generator: Any, values: dict, models_dir: Any) -> Preset:
    model = values.get("model")
    entry = discovery.entry_for(Path(str(model))) if model and Path(str(model)).exists() else None
    family = entry.family if entry is not None else "sd1"
    roots = discovery.roots(models_dir)
    loras = [Path(str(values[k])) for k in LORA_SLOTS if values.get(k)]
    found = fast.for_job(entry.path if entry is not None else None, loras)
    chosen: dict[str, Any] = {}
    notes = []
    if found is None:
        lora = fast.find_lcm_lora(roots, family)
        if lora is not None:
            slot = next((k for k in LORA_SLOTS if not values.get(k)), LORA_SLOTS[-1])
            chosen.update({slot: str(lora.path), f"{slot}_weight": 1.0})
            found = fast.lora_kind(lora.path)
            notes.append(f"LCM LoRA {lora.name} × 1")
    if found is not None:
        chosen.update(found.values)
        notes.append(
            f"{found.label} ({found.reason}): {samplers.label(found.scheduler)}, "
            f"{found.steps} step(s), CFG {found.cfg:g}"
        )
    else:
        chosen.update(fast.FAST_PLAIN)
        notes.append(
            "no LCM LoRA in your model folders, so 10 steps of DPM++ 2M Karras at CFG 5 "
            "(with lcm-lora-sdv1-5 or lcm-lora-sdxl there: 4 steps)"
        )
    if taesd.find(roots, family) is not None:
        chosen["fast_decode"] = True
        notes.append("TAESD decode")
    else:
        notes.append(
            "add TAESD (a taesd folder or taesd_decoder.safetensors) to decode in a second"
        )
    return Preset(
        "Fast",
        chosen,
        note="; ".join(notes),
        help="Few steps with the settings the model (or your LCM LoRA) was distilled for, "
        "and the tiny autoencoder for the decode: a 512 px image in under a minute on a CPU.",
    )


def standard_preset(generator: Any) -> Preset:
    values = {k: generator.param(k).default for k in SETTINGS}
    return Preset("Standard", values, note="the form's defaults: 20 steps of Euler a, CFG 7",
                  help="The form's own sampler, steps and CFG (no fast decode).")  # fmt: skip


def offered(generator: Any, values: dict, models_dir: Any) -> list[Preset]:
    return [fast_preset(generator, values, models_dir), standard_preset(generator)]
