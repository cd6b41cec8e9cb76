"""Few-step generation: telling LCM and Turbo-style models (and the user's LCM LoRA) from the
files themselves, and the settings they want, for the form's suggestions and its "Fast" preset.

Nothing in a checkpoint's weights says "distilled", so Studio reads what the tools artists
use read: the file or folder name (Fooocus, Forge and krita-ai-diffusion key off "lcm",
"turbo", "lightning", "hyper"), the safetensors metadata a trainer wrote (`modelspec.title`,
`ss_output_name`, ...), and for a diffusers folder its scheduler (`LCMScheduler`), its
pipeline class (`LatentConsistencyModelPipeline`) and a UNet with a guidance embedding
(`time_cond_proj_dim`, LCM's distilled w). Settings follow the models' cards: LCM at 4 steps
with CFG 1 (the cards say 1-2; above 1 every step costs a second UNet pass), SD-Turbo /
SDXL-Turbo at 1 step with CFG off and the trailing timestep spacing (the noise level a single
step needs), SDXL-Lightning / Hyper-SD at the step count in their name. Reads headers and
small JSON files only (UI thread); no torch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LCM, TURBO = "lcm", "turbo"
_WORDS = {
    LCM: re.compile(r"lcm", re.IGNORECASE),
    TURBO: re.compile(r"turbo|lightning|hyper[-_ ]?sd", re.IGNORECASE),
}
_STEPS = re.compile(r"(\d{1,2})[-_ ]?steps?", re.IGNORECASE)
_GENERIC = {"pytorch_lora_weights", "diffusion_pytorch_model", "adapter_model", "model"}
_META_KEYS = ("modelspec.title", "modelspec.description", "ss_output_name", "name", "title")
# LoRA cross-attention key width -> family (the text encoder's width the UNet attends to)
_CROSS_WIDTH = {768: "sd1", 1024: "sd2", 2048: "sdxl"}
FAST_PLAIN = {"scheduler": "dpmpp_2m", "schedule": "karras", "steps": 10, "cfg": 5.0}


@dataclass(frozen=True)
class FewStep:
    """A few-step model or LoRA and the settings it was distilled for."""

    kind: str  # LCM or TURBO
    steps: int
    cfg: float
    scheduler: str
    trailing: bool  # the scheduler must space its timesteps from the end (Turbo, Lightning)
    reason: str  # what gave it away, for the note

    @property
    def values(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler, "schedule": "automatic", "steps": self.steps,
                "cfg": self.cfg}  # fmt: skip

    @property
    def label(self) -> str:
        return "LCM" if self.kind == LCM else "Turbo-style"


def _settings(kind: str, text: str, reason: str) -> FewStep:
    found = _STEPS.search(text)
    if kind == LCM:
        steps = int(found.group(1)) if found else 4
        return FewStep(LCM, max(1, min(steps, 8)), 1.0, "lcm", False, reason)
    steps = int(found.group(1)) if found else (4 if "lightning" in text.lower() else 1)
    sampler = "euler" if "lightning" in text.lower() else "euler_a"
    return FewStep(TURBO, max(1, min(steps, 8)), 1.0, sampler, True, reason)


def _match(text: str) -> str | None:
    for kind in (LCM, TURBO):
        if _WORDS[kind].search(text):
            return kind
    return None


def own_name(path: Path) -> str:
    """A file's name, or its folder's where the file has a generic one (diffusers saves
    `pytorch_lora_weights.safetensors` in a folder named after the LoRA)."""
    if path.is_file() and path.stem.lower() in _GENERIC:
        return f"{path.parent.name}/{path.name}"
    return path.name


def metadata(path: Path) -> dict[str, str]:
    """The `__metadata__` strings of a safetensors header (capped; {} where there is none)."""
    import struct

    from .headers import MAX_HEADER

    try:
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if not 2 <= length <= MAX_HEADER:
                return {}
            header = json.loads(handle.read(length))
    except (OSError, ValueError, struct.error, RecursionError):
        return {}
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict):
        return {}
    return {str(k): str(v)[:2000] for k, v in meta.items() if isinstance(v, str)}


def model_kind(path: Path | str | None) -> FewStep | None:
    """The few-step kind of a checkpoint file or diffusers folder, or None for a plain one."""
    if not path:
        return None
    path = Path(path)
    names = own_name(path)
    if path.is_dir():
        found = _folder_kind(path)
        if found is not None:
            return found
    elif path.suffix.lower() == ".safetensors":
        meta = metadata(path)
        text = " ".join(meta.get(k, "") for k in _META_KEYS)
        kind = _match(text)
        if kind is not None:
            return _settings(kind, text, "its metadata")
    kind = _match(names)
    return _settings(kind, names, "its name") if kind else None


def _folder_kind(folder: Path) -> FewStep | None:
    def read(name: str) -> dict:
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    index, unet = read("model_index.json"), read("unet/config.json")
    scheduler = index.get("scheduler") or []
    scheduler = scheduler[1] if isinstance(scheduler, list) and len(scheduler) > 1 else ""
    if index.get("_class_name") == "LatentConsistencyModelPipeline" or scheduler == "LCMScheduler":
        found = _settings(LCM, folder.name, "its scheduler (LCMScheduler)")
        if unet.get("time_cond_proj_dim"):  # a distilled w: CFG is an input, not a second pass
            found = FewStep(LCM, found.steps, 8.0, "lcm", False, "its guidance-embedded UNet")
        return found
    return None


def lora_kind(path: Path | str) -> FewStep | None:
    """An LCM (or Lightning/Hyper/Turbo) LoRA, told by its name, its folder's name (diffusers
    saves `pytorch_lora_weights.safetensors` in a folder named after it) or its metadata."""
    path = Path(path)
    meta = metadata(path) if path.suffix.lower() == ".safetensors" else {}
    text = " ".join([own_name(path), *(meta.get(k, "") for k in _META_KEYS)])
    kind = _match(text)
    return _settings(kind, text, f"the LoRA {path.stem}") if kind else None


def lora_family(path: Path) -> str:
    """sd1, sd2 or sdxl from a LoRA's cross-attention key width; "unknown" otherwise."""
    from .headers import ModelProblem, safetensors_header

    try:
        header = safetensors_header(path)
    except (ModelProblem, OSError):
        return "unknown"
    for name, info in header.items():
        low = name.lower()
        if "attn2" in low and "to_k" in low and ("lora_down" in low or "lora_a" in low):
            shape = info.get("shape") or []
            if len(shape) == 2:
                return _CROSS_WIDTH.get(int(shape[1]), "unknown")
    return "unknown"


def for_job(model: Any, loras: list[Path]) -> FewStep | None:
    """What makes a job few-step: the model itself, else the first few-step LoRA in it."""
    found = model_kind(model)
    if found is not None:
        return found
    for path in loras:
        found = lora_kind(path)
        if found is not None:
            return found
    return None


def scheduler_config(found: FewStep | None, config: Any) -> Any:
    """The model's scheduler settings, with the trailing spacing a Turbo-style model needs."""
    if found is None or not found.trailing:
        return config
    return {**dict(config), "timestep_spacing": "trailing"}


def find_lcm_lora(roots: list[Path], family: str) -> Any:
    """The user's LCM LoRA for this family in the model folders (a library entry), or None."""
    from . import library

    for entry in library.scan_files(roots, "lora"):
        found = lora_kind(entry.path)
        if found is None or found.kind != LCM:
            continue
        if lora_family(entry.path) in (family, "unknown"):
            return entry
    return None
