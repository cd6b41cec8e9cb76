"""A tiny random SD 1.x pipeline with the real block structure, and the same weights as one
single-file checkpoint in the original (A1111/CompVis "LDM") key layout.

`build_sd_layout_pipeline` saves a diffusers folder whose UNet and VAE have SD 1.x's blocks
(four levels, two layers each, cross-attention in the first three UNet levels, one attention
in the VAE's middle) with few channels, so the standard LDM <-> diffusers key mapping applies.
`write_original_checkpoint` writes that folder's weights under the original names: the inverse
of diffusers' `convert_ldm_unet_checkpoint`, `convert_ldm_vae_checkpoint` and
`convert_ldm_clip_checkpoint`, as diffusers' `convert_diffusers_to_original_stable_diffusion.py`
does. Everything is built offline.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.t2i_tiny import CROSS_DIM, components, save_pipeline

# UNet: SD 1.x's blocks, few channels. A change of width between levels gives the resnets a
# 1x1 shortcut (`skip_connection` / `nin_shortcut`), as in the real model.
UNET_CHANNELS = (32, 32, 64, 64)
VAE_CHANNELS = (32, 32, 64, 64)
LAYERS = 2  # layers_per_block of both, as in SD 1.x

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "cond_stage_model.transformer.text_model."


def sd_layout_components(cross_dim: int = CROSS_DIM) -> dict:
    """UNet, VAE, text encoder and scheduler: the text encoder and scheduler are t2i_tiny's."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    parts = components(cross_dim=cross_dim)
    torch.manual_seed(0)
    parts["unet"] = UNet2DConditionModel(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        block_out_channels=UNET_CHANNELS,
        layers_per_block=LAYERS,
        norm_num_groups=32,  # divides every width, concatenated skips included
        cross_attention_dim=cross_dim,
        attention_head_dim=8,  # SD 1.x's value (diffusers' name for the number of heads)
    )
    torch.manual_seed(0)
    parts["vae"] = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        block_out_channels=list(VAE_CHANNELS),
        layers_per_block=LAYERS,
        norm_num_groups=32,
        latent_channels=4,
        sample_size=64,
    )
    return parts


def build_sd_layout_pipeline(folder: Path) -> Path:
    """Save the tiny SD 1.x-structured StableDiffusionPipeline in diffusers' folder layout."""
    return save_pipeline(sd_layout_components(), folder)


# ---------------------------------------------------------------- diffusers -> original names

_UNET_RESNET = (
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
)
_UNET_LAYERS = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_VAE_ATTENTION = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}


def _resnet(rest: str) -> str:
    head, _, tail = rest.rpartition(".")  # e.g. "norm1", "weight"
    return dict(_UNET_RESNET).get(head, head) + "." + tail


def unet_key(key: str, layers: int, up_attention: set[int]) -> str:
    """The original name of one diffusers UNet key (SD 1.x/2.x structure). `up_attention`: the
    up blocks that have attentions (their upsampler is layer 2 of the last output block)."""
    per = layers + 1  # the down path has a downsampler per level, the up path one more layer
    head, _, tail = key.rpartition(".")
    if head in _UNET_LAYERS:
        return f"{_UNET_LAYERS[head]}.{tail}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        i, j, rest = int(m[1]), int(m[2]), m[3]
        return f"input_blocks.{per * i + j + 1}.0.{_resnet(rest)}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.attentions\.(\d+)\.(.+)", key):
        i, j, rest = int(m[1]), int(m[2]), m[3]
        return f"input_blocks.{per * i + j + 1}.1.{rest}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"input_blocks.{per * (int(m[1]) + 1)}.0.op.{m[2]}"
    if m := re.fullmatch(r"mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"middle_block.{2 * int(m[1])}.{_resnet(m[2])}"
    if m := re.fullmatch(r"mid_block\.attentions\.0\.(.+)", key):
        return f"middle_block.1.{m[1]}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        i, j, rest = int(m[1]), int(m[2]), m[3]
        return f"output_blocks.{per * i + j}.0.{_resnet(rest)}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.attentions\.(\d+)\.(.+)", key):
        i, j, rest = int(m[1]), int(m[2]), m[3]
        return f"output_blocks.{per * i + j}.1.{rest}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
        i = int(m[1])
        slot = 2 if i in up_attention else 1
        return f"output_blocks.{per * i + layers}.{slot}.conv.{m[2]}"
    raise KeyError(f"no original name for the UNet key {key!r}")


def vae_key(key: str, levels: int) -> str:
    """The original name of one diffusers AutoencoderKL key."""
    if m := re.fullmatch(r"(encoder|decoder)\.conv_norm_out\.(.+)", key):
        return f"{m[1]}.norm_out.{m[2]}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        return f"encoder.down.{m[1]}.block.{m[2]}.{_vae_resnet(m[3])}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.+)", key):
        return f"encoder.down.{m[1]}.downsample.{m[2]}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        return f"decoder.up.{levels - 1 - int(m[1])}.block.{m[2]}.{_vae_resnet(m[3])}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)", key):
        return f"decoder.up.{levels - 1 - int(m[1])}.upsample.{m[2]}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{_vae_resnet(m[3])}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)\.(weight|bias)", key):
        if m[2] not in _VAE_ATTENTION:
            raise KeyError(f"no original name for the VAE key {key!r}")
        return f"{m[1]}.mid.attn_1.{_VAE_ATTENTION[m[2]]}.{m[3]}"
    if re.fullmatch(r"((encoder|decoder)\.conv_(in|out)|quant_conv|post_quant_conv)\.\w+", key):
        return key
    raise KeyError(f"no original name for the VAE key {key!r}")


def _vae_resnet(rest: str) -> str:
    return rest.replace("conv_shortcut", "nin_shortcut")


def _load(folder: Path, part: str) -> dict:
    from safetensors.torch import load_file

    found = sorted((folder / part).glob("*.safetensors"))
    if len(found) != 1:
        raise FileNotFoundError(f"{folder / part} should hold one .safetensors file: {found}")
    return load_file(str(found[0]))


def original_state_dict(folder: Path) -> dict:
    """The folder's UNet, VAE and text encoder weights under their original (LDM) names."""
    folder = Path(folder)
    unet_config = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
    vae_config = json.loads((folder / "vae" / "config.json").read_text(encoding="utf-8"))
    layers = unet_config["layers_per_block"]
    up_attention = {
        i for i, kind in enumerate(unet_config["up_block_types"]) if "CrossAttn" in kind
    }
    out: dict = {}

    def put(key: str, tensor) -> None:
        if key in out:
            raise KeyError(f"two tensors map to {key!r}")
        out[key] = tensor.contiguous()

    for key, tensor in _load(folder, "unet").items():
        put(UNET_PREFIX + unet_key(key, layers, up_attention), tensor)
    levels = len(vae_config["down_block_types"])
    for key, tensor in _load(folder, "vae").items():
        name = vae_key(key, levels)
        if ".mid.attn_1." in name and name.endswith(".weight") and tensor.ndim == 2:
            tensor = tensor.reshape(*tensor.shape, 1, 1)  # linear [out, in] -> 1x1 conv
        put(VAE_PREFIX + name, tensor)
    for key, tensor in _load(folder, "text_encoder").items():
        if key.endswith("position_ids"):
            continue  # a buffer the model makes itself
        put(CLIP_PREFIX + key.removeprefix("text_model."), tensor)
    return out


def write_original_checkpoint(folder: Path, out_path: Path) -> Path:
    """One .safetensors file with the folder's weights in the original SD 1.x layout."""
    from safetensors.torch import save_file

    state = original_state_dict(folder)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out_path), metadata={"format": "pt"})
    return out_path
