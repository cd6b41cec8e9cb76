"""What a single model file is, from its safetensors header alone (no weights, no torch):
a checkpoint of which family and variant, a LoRA, a textual-inversion embedding or a VAE."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from pathlib import Path

MAX_HEADER = 100 << 20  # a safetensors header larger than this is not a real one


FAMILIES = {"sd1": "SD 1.x", "sd2": "SD 2.x", "sdxl": "SDXL", "sd3": "SD 3", "flux": "Flux"}
SUPPORTED = ("sd1", "sd2", "sdxl")


class ModelProblem(ValueError):
    """A model that cannot be used; the message says exactly what is missing or wrong."""


_headers: dict[tuple, dict] = {}


def safetensors_header(path: Path) -> dict:
    """The tensor entries of a .safetensors header (name -> {dtype, shape, ...}); reads only
    the header (8-byte length + JSON). Remembered per file size and time."""
    path = Path(path)
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _headers:
        return _headers[key]
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) != 8:
            raise ModelProblem(f"'{path.name}' is too short to be a safetensors file")
        (length,) = struct.unpack("<Q", raw)
        if not 2 <= length <= MAX_HEADER:
            raise ModelProblem(f"'{path.name}' is not a safetensors file (bad header length)")
        try:
            header = json.loads(handle.read(length))
        except (ValueError, RecursionError):
            raise ModelProblem(f"'{path.name}' is not a safetensors file (bad header)") from None
    if not isinstance(header, dict):
        raise ModelProblem(f"'{path.name}' is not a safetensors file (bad header)")
    tensors = {k: v for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}
    if len(_headers) > 4096:
        _headers.clear()
    _headers[key] = tensors
    return tensors


def safetensors_keys(path: Path) -> list[str]:
    """Tensor names from a .safetensors header; reads only the header."""
    return list(safetensors_header(path))


def family_from_keys(keys: Iterable[str]) -> str:
    """SD family of an original-layout (A1111/ComfyUI) checkpoint from its tensor names."""
    names = list(keys)

    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in names)

    if has("conditioner.embedders.1."):
        return "sdxl"
    if has("cond_stage_model.model."):
        return "sd2"
    if has("cond_stage_model.transformer."):
        return "sd1"
    if has("text_encoders.") or has("model.diffusion_model.joint_blocks."):
        return "sd3"
    if has("double_blocks.") or has("model.diffusion_model.double_blocks."):
        return "flux"
    return "unknown"


def is_lora(keys: Iterable[str]) -> bool:
    return any(marker in k for k in keys for marker in ("lora_up", "lora_down", "lora_A", "lora_B"))


def is_embedding(header: dict) -> bool:
    """A textual-inversion embedding: a few 2-D tensors named as A1111, diffusers or SDXL
    embeddings name them."""
    names = set(header)
    if not names or len(names) > 4:
        return False
    known = {"emb_params", "clip_l", "clip_g", "string_to_param.*"}
    shapes = [header[k].get("shape") or [] for k in names]
    return bool(names & known or len(names) == 1) and all(len(s) in (1, 2) for s in shapes)


def is_vae(keys: Iterable[str]) -> bool:
    """A VAE on its own (original or diffusers names), not inside a full checkpoint."""
    names = list(keys)
    return any(k.startswith(("encoder.conv_in.", "decoder.conv_out.")) for k in names) and not any(
        k.startswith(("model.diffusion_model.", "first_stage_model.")) for k in names
    )


def file_kind(path: Path) -> tuple[str, str]:
    """("checkpoint" | "lora" | "embedding" | "vae" | "other", family) of one file; a .ckpt
    reads as a checkpoint of a family found when it loads."""
    return file_info(path)[:2]


def file_info(path: Path) -> tuple[str, str, str]:
    """(kind, family, variant) of one file; the variant names Studio's configuration folder
    for a checkpoint (e.g. "sd1-inpaint"), empty for anything else."""
    if path.suffix.lower() == ".ckpt":
        return "checkpoint", "unknown", ""
    header = safetensors_header(path)
    keys = list(header)
    if is_lora(keys):
        return "lora", family_from_keys(keys), ""
    if any(k.startswith("model.diffusion_model.") for k in keys):
        family = family_from_keys(keys)
        from .components import FIRST_CONV, variant_of

        shape = (header.get(FIRST_CONV) or {}).get("shape")
        return "checkpoint", family, variant_of(family, shape) if family in SUPPORTED else ""
    if is_vae(keys):
        return "vae", "unknown", ""
    if path.suffix.lower() == ".safetensors" and is_embedding(header):
        return "embedding", "unknown", ""
    return "other", "unknown", ""
