"""Writes the component configurations Studio carries for single-file checkpoints.

Run by hand (`.venv/bin/python -m plugins.text_to_image.configs.make`) when a family is added;
the JSON files it writes are committed. Each model is built on the meta device from the
published architecture (SD 1.5, SD 2.x, SDXL base 1.0, and their 9-channel inpainting
variants) so every field diffusers' single-file converter reads is present. No weights.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

SD_BETAS = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}
SD_SCHEDULER = {
    **SD_BETAS,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "clip_sample": False,
    "timestep_spacing": "leading",
}
VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "act_fn": "silu",
}
CLIP_L = {  # OpenAI CLIP ViT-L/14 text tower (SD 1.x, SDXL's first encoder)
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "projection_dim": 768,
    "bos_token_id": 49406,
    "eos_token_id": 49407,
    "pad_token_id": 1,
}
OPEN_CLIP_H = {  # OpenCLIP ViT-H/14 text tower less its last layer (SD 2.x uses the penultimate)
    **CLIP_L,
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 23,
    "num_attention_heads": 16,
    "hidden_act": "gelu",
    "projection_dim": 512,
}
OPEN_CLIP_BIGG = {  # OpenCLIP ViT-bigG/14 text tower with its projection (SDXL's second encoder)
    **CLIP_L,
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "hidden_act": "gelu",
    "projection_dim": 1280,
}
SD_UNET = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
}
SD2_UNET = {
    **SD_UNET,
    "cross_attention_dim": 1024,
    "attention_head_dim": [5, 10, 20, 20],
    "use_linear_projection": True,
}
SDXL_UNET = {
    "sample_size": 128,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "block_out_channels": [320, 640, 1280],
    "layers_per_block": 2,
    "transformer_layers_per_block": [1, 2, 10],
    "cross_attention_dim": 2048,
    "attention_head_dim": [5, 10, 20],
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,
}

# variant -> (pipeline class, unet, vae extra, text encoders, scheduler class, scheduler extra)
VARIANTS = {
    "sd1": (
        "StableDiffusionPipeline",
        SD_UNET,
        {"sample_size": 512},
        [CLIP_L],
        "PNDMScheduler",
        {},
    ),
    "sd1-inpaint": (
        "StableDiffusionInpaintPipeline",
        {**SD_UNET, "in_channels": 9},
        {"sample_size": 512},
        [CLIP_L],
        "PNDMScheduler",
        {},
    ),
    "sd2": (
        "StableDiffusionPipeline",
        SD2_UNET,
        {"sample_size": 512},
        [OPEN_CLIP_H],
        "DDIMScheduler",
        {},
    ),
    "sd2-v": (
        "StableDiffusionPipeline",
        {**SD2_UNET, "sample_size": 96, "upcast_attention": True},
        {"sample_size": 768},
        [OPEN_CLIP_H],
        "DDIMScheduler",
        {"prediction_type": "v_prediction"},
    ),
    "sd2-inpaint": (
        "StableDiffusionInpaintPipeline",
        {**SD2_UNET, "in_channels": 9},
        {"sample_size": 512},
        [OPEN_CLIP_H],
        "DDIMScheduler",
        {},
    ),
    "sdxl": (
        "StableDiffusionXLPipeline",
        SDXL_UNET,
        {"sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True},
        [CLIP_L, OPEN_CLIP_BIGG],
        "EulerDiscreteScheduler",
        {"interpolation_type": "linear", "use_karras_sigmas": False},
    ),
    "sdxl-inpaint": (
        "StableDiffusionXLInpaintPipeline",
        {**SDXL_UNET, "in_channels": 9},
        {"sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True},
        [CLIP_L, OPEN_CLIP_BIGG],
        "EulerDiscreteScheduler",
        {"interpolation_type": "linear", "use_karras_sigmas": False},
    ),
}


def write_variant(name: str, folder: Path) -> None:
    import diffusers
    from accelerate import init_empty_weights
    from transformers import CLIPTextConfig

    pipeline, unet, vae, encoders, scheduler, scheduler_extra = VARIANTS[name]
    xl = "XL" in pipeline
    folder.mkdir(parents=True, exist_ok=True)
    with init_empty_weights():
        diffusers.UNet2DConditionModel(**unet).save_config(folder / "unet")
        diffusers.AutoencoderKL(**VAE, **vae).save_config(folder / "vae")
    getattr(diffusers, scheduler).from_config({**SD_SCHEDULER, **scheduler_extra}).save_config(
        folder / "scheduler"
    )
    index: dict = {"_class_name": pipeline, "_diffusers_version": diffusers.__version__}
    classes = ["CLIPTextModel", "CLIPTextModelWithProjection"]
    for i, encoder in enumerate(encoders):
        suffix = f"_{i + 1}" if i else ""
        cls = classes[1] if (xl and i) else classes[0]
        CLIPTextConfig(**encoder, architectures=[cls]).save_pretrained(
            folder / f"text_encoder{suffix}"
        )
        index[f"text_encoder{suffix}"] = ["transformers", cls]
        index[f"tokenizer{suffix}"] = ["transformers", "CLIPTokenizer"]
    index.update(
        unet=["diffusers", "UNet2DConditionModel"],
        vae=["diffusers", "AutoencoderKL"],
        scheduler=["diffusers", scheduler],
    )
    if xl:
        index.update(force_zeros_for_empty_prompt=True, image_encoder=[None, None])
        index["feature_extractor"] = [None, None]
        if "Inpaint" in pipeline:
            index["requires_aesthetics_score"] = False
    else:
        index.update(
            safety_checker=[None, None],
            feature_extractor=[None, None],
            requires_safety_checker=False,
            image_encoder=[None, None],
        )
    (folder / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def main() -> None:
    for name in VARIANTS:
        write_variant(name, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
