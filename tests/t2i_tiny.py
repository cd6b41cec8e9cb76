"""Tiny random Stable Diffusion pipelines, built offline, for the text-to-image tests and bench.

Configs follow diffusers' own `get_dummy_components`, with a slimmer UNet (one layer per block,
16 and 32 channels, half the time per step: these prove logic, not scale); the tokenizer is a
byte-level BPE with a vocabulary written here (every byte, with and without the end-of-word
mark, and a few merges), so nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

CROSS_DIM = 32


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2/CLIP's reversible byte-to-character table
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def write_tokenizer(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    merges = [("a", "t</w>"), ("t", "h"), ("th", "e</w>"), ("c", "at</w>")]
    vocab: dict[str, int] = {}
    for token in chars + [c + "</w>" for c in chars] + ["at</w>", "th", "the</w>", "cat</w>"]:
        vocab.setdefault(token, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    lines = ["#version: 0.2"] + [f"{a} {b}" for a, b in merges]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n")
    return folder


def components(cross_dim: int = CROSS_DIM, scheduler: str = "ddim") -> dict:
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        LCMScheduler,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_dim,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
    )
    torch.manual_seed(0)
    text_config = CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=2,
        hidden_size=cross_dim,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=5,
        pad_token_id=1,
        vocab_size=1000,
    )
    text_encoder = CLIPTextModel(text_config)
    common = dict(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", set_alpha_to_one=False
    )
    if scheduler == "lcm":
        sched = LCMScheduler(**common, steps_offset=1)
    else:
        sched = DDIMScheduler(**common, clip_sample=False, steps_offset=1)
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "scheduler": sched}


def build_pipeline(folder: Path, scheduler: str = "ddim") -> Path:
    """Save a tiny random StableDiffusionPipeline in diffusers' folder layout."""
    return save_pipeline(components(scheduler=scheduler), folder)


def save_pipeline(parts: dict, folder: Path) -> Path:
    """Save unet, vae, text encoder and scheduler with the tiny tokenizer as a pipeline."""
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    tok_dir = write_tokenizer(Path(folder) / "_tokenizer_src")
    tokenizer = CLIPTokenizer(
        vocab=str(tok_dir / "vocab.json"), merges=str(tok_dir / "merges.txt"), model_max_length=77
    )
    pipe = StableDiffusionPipeline(
        **parts,
        tokenizer=tokenizer,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    for leftover in tok_dir.iterdir():
        leftover.unlink()
    tok_dir.rmdir()
    return Path(folder)
