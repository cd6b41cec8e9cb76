"""Checkpoints of the real SD architectures, made offline from Studio's own configurations.

`sd15_checkpoint()` writes one SD 1.5 single file (random fp16 weights, the original
A1111/CompVis key layout, 2.1 GB) and keeps it in the system temp folder, so the tests and
benchmarks of one machine build it once (about a minute). `original_header(variant)` gives
the tensor names and shapes of such a file for any variant, with no weights at all: the
models are built on the meta device and their names mapped back to the original layout (the
inverse of diffusers' single-file converters).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

from tests.t2i_single import CLIP_PREFIX, UNET_PREFIX, VAE_PREFIX, unet_key, vae_key

SD15_NAME = "studio-test-sd15-random-fp16-v1.safetensors"
XL_LABEL_EMB = {
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
}


def meta_models(variant: str) -> dict:
    """The variant's UNet, VAE and text encoders from Studio's configurations, on the meta
    device (no memory, no weights)."""
    import diffusers
    from accelerate import init_empty_weights
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from plugins.text_to_image.components import config_folder

    folder = config_folder(variant)
    with init_empty_weights():
        parts = {
            "unet": diffusers.UNet2DConditionModel.from_config(_config(folder / "unet")),
            "vae": diffusers.AutoencoderKL.from_config(_config(folder / "vae")),
            "text_encoder": CLIPTextModel(CLIPTextConfig.from_pretrained(folder / "text_encoder")),
        }
        if (folder / "text_encoder_2").is_dir():
            config = CLIPTextConfig.from_pretrained(folder / "text_encoder_2")
            parts["text_encoder_2"] = CLIPTextModelWithProjection(config)
    return parts


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def original_names(variant: str, parts: dict) -> dict[str, tuple[str, tuple]]:
    """original name -> (diffusers part.key, shape) for every tensor of a single file."""
    unet = parts["unet"]
    layers = unet.config.layers_per_block
    ups = {i for i, kind in enumerate(unet.config.up_block_types) if "CrossAttn" in kind}
    names: dict[str, tuple[str, tuple]] = {}
    for key, tensor in unet.state_dict().items():
        head, _, tail = key.rpartition(".")
        name = (
            f"{XL_LABEL_EMB[head]}.{tail}" if head in XL_LABEL_EMB else unet_key(key, layers, ups)
        )
        names[UNET_PREFIX + name] = (f"unet.{key}", tuple(tensor.shape))
    levels = len(parts["vae"].config.down_block_types)
    for key, tensor in parts["vae"].state_dict().items():
        shape = tuple(tensor.shape)
        name = vae_key(key, levels)
        if ".mid.attn_1." in name and name.endswith(".weight") and len(shape) == 2:
            shape = (*shape, 1, 1)
        names[VAE_PREFIX + name] = (f"vae.{key}", shape)
    if variant.startswith("sdxl"):
        _clip_l(names, parts["text_encoder"], "conditioner.embedders.0.transformer.text_model.")
        _open_clip(
            names, parts["text_encoder_2"], "conditioner.embedders.1.model.", "text_encoder_2"
        )
    elif variant.startswith("sd2"):
        _open_clip(names, parts["text_encoder"], "cond_stage_model.model.", "text_encoder")
    else:
        _clip_l(names, parts["text_encoder"], CLIP_PREFIX)
    return names


def _clip_l(names: dict, model, prefix: str) -> None:
    for key, tensor in model.state_dict().items():
        if not key.endswith("position_ids"):
            names[prefix + key.removeprefix("text_model.")] = (f"te.{key}", tuple(tensor.shape))


_OPEN_CLIP = {
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
    "self_attn.out_proj": "attn.out_proj",
}


def _open_clip(names: dict, model, prefix: str, part: str) -> None:
    """OpenCLIP's names: fused q/k/v `in_proj`, `resblocks`, `ln_final`, a transposed
    `text_projection`; SD 2.x files also hold the last layer the encoder drops."""
    width = model.config.hidden_size
    state = {k.removeprefix("text_model."): v for k, v in model.state_dict().items()}
    top = {
        "embeddings.token_embedding.weight": "token_embedding.weight",
        "embeddings.position_embedding.weight": "positional_embedding",
        "final_layer_norm.weight": "ln_final.weight",
        "final_layer_norm.bias": "ln_final.bias",
    }
    for key, name in top.items():
        names[prefix + name] = (f"{part}.{key}", tuple(state[key].shape))
    names[prefix + "text_projection"] = (f"{part}.text_projection", (width, width))
    count = model.config.num_hidden_layers + (1 if part == "text_encoder" else 0)
    for i in range(count):
        block = f"{prefix}transformer.resblocks.{i}."
        names[block + "attn.in_proj_weight"] = (f"{part}.{i}.qkv", (3 * width, width))
        names[block + "attn.in_proj_bias"] = (f"{part}.{i}.qkv_bias", (3 * width,))
        for ours, theirs in _OPEN_CLIP.items():
            layer = min(i, model.config.num_hidden_layers - 1)  # the dropped one: same shapes
            key = f"encoder.layers.{layer}.{ours}"
            for tail in ("weight", "bias"):
                shape = tuple(state[f"{key}.{tail}"].shape)
                names[f"{block}{theirs}.{tail}"] = (f"{part}.{i}.{ours}.{tail}", shape)


def sd15_checkpoint() -> Path:
    """The 2.1 GB SD 1.5 file of random fp16 weights, built once per machine."""
    path = Path(tempfile.gettempdir()) / SD15_NAME
    if path.is_file():
        return path
    import torch
    from safetensors.torch import save_file

    names = original_names("sd1", meta_models("sd1"))
    generator = torch.Generator().manual_seed(0)
    state = {name: _random(name, shape, generator) for name, (_, shape) in names.items()}
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    save_file(state, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, path)
    return path


def _random(name: str, shape: tuple, generator):
    """A weight that keeps activations in range: N(0, 1/fan_in) for matrices and kernels,
    ones for norm scales, zeros for biases."""
    import torch

    if len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        scale = 0.02 if "embedding" in name else 1 / math.sqrt(fan_in)
        return (torch.randn(shape, generator=generator) * scale).to(torch.float16)
    if name.endswith("weight"):  # 1-D weights are the norms' scales
        return torch.ones(shape, dtype=torch.float16)
    return torch.zeros(shape, dtype=torch.float16)
