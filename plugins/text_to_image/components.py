"""What a single checkpoint file needs besides its weights: the component configurations
Studio carries (`configs/<variant>/`, no weights) and the CLIP tokenizer set-up installs.

The variant is read from the checkpoint itself, as AUTOMATIC1111 does: the family from the
tensor names, the 9-channel inpainting UNets from the first convolution's width, and SD 2.x
v-prediction (768 px) from a `.yaml` beside the file or, failing that, from the UNet's own
answer to a fixed test input (A1111's `is_using_v_parameterization_for_sd2`). Nothing here
imports torch at import time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

CONFIGS = Path(__file__).resolve().parent / "configs"
FIRST_CONV = "model.diffusion_model.input_blocks.0.0.weight"
NATIVE_SIDE = {"sd1": 512, "sd2": 512, "sd2-v": 768, "sdxl": 1024}
# ComfyUI's quick v-prediction hint (supported_models.SD20.model_type): read one small tensor
SD2_V_HINT = "model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias"
_YAML_V = re.compile(r"^\s*parameterization:\s*[\"']?v[\"']?\s*$", re.MULTILINE)


def config_folder(variant: str) -> Path:
    return CONFIGS / variant


def variant_of(family: str, first_conv_shape: Any) -> str:
    """The configuration folder for a family, given the shape of its first UNet convolution."""
    inpaint = first_conv_shape is not None and len(first_conv_shape) > 1
    inpaint = inpaint and int(first_conv_shape[1]) == 9
    return f"{family}-inpaint" if inpaint else family


def native_side(variant: str) -> int:
    """The image side a variant was trained at (SD 1.x 512, SD 2.x 512 or 768-v, SDXL 1024)."""
    return NATIVE_SIDE.get(variant.removesuffix("-inpaint"), 512)


def yaml_says_v(checkpoint: Path) -> bool | None:
    """A1111 reads `<name>.yaml` beside a checkpoint: True if it names v-parameterization,
    False if it exists without it, None if there is none."""
    yaml = checkpoint.with_suffix(".yaml")
    try:
        text = yaml.read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return None
    return bool(_YAML_V.search(text))


def v_hint_from_file(path: Path) -> bool:
    """ComfyUI's cheap hint that an SD 2.x file is v-prediction: the spread of one norm bias
    (reads a few kilobytes). Used for the form's default size only; loading decides."""
    import numpy as np
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            if SD2_V_HINT not in handle.keys():  # noqa: SIM118 - safe_open has no __contains__
                return False
            values = np.asarray(handle.get_tensor(SD2_V_HINT), dtype=np.float64)
    except Exception:  # noqa: BLE001 - bf16 or damage: no hint, loading decides
        return False
    return bool(values.std() > 0.09)


def unet_predicts_v(unet: Any) -> bool:
    """A1111's test for SD 2.x: at t=999 an ε-model returns about the noise it is given,
    a v-model strongly negative values; mean(out - x) < -1 means v."""
    import torch

    param = next(unet.parameters())
    cross = int(unet.config.cross_attention_dim)
    channels = int(unet.config.in_channels)
    with torch.no_grad():
        x = torch.full((1, channels, 8, 8), 0.5, dtype=param.dtype, device=param.device)
        cond = torch.full((1, 2, cross), 0.5, dtype=param.dtype, device=param.device)
        out = unet(x, torch.tensor([999], device=param.device), encoder_hidden_states=cond)
        return float((out.sample - x).float().mean()) < -1


def tokenizers_for(variant: str, where: Path) -> dict[str, Any]:
    """The tokenizer objects a variant's pipeline takes (one per text encoder)."""
    from .tokenizer import clip_tokenizer

    if variant.startswith("sdxl"):
        return {"tokenizer": clip_tokenizer(where), "tokenizer_2": clip_tokenizer(where, "!")}
    pad = "!" if variant.startswith("sd2") else "<|endoftext|>"
    return {"tokenizer": clip_tokenizer(where, pad)}
