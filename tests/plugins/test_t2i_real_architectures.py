"""The real architectures: an SD 1.5 single file (random fp16 weights in the original key
layout, 2.1 GB, made by the test) loads with no diffusers folder and an empty Hugging Face
cache and makes a picture; SD 2.x and SDXL configurations are checked against checkpoint
headers of their real architecture (names and shapes, no weights) and built on the meta
device. Independent anchors: diffusers' own single-file converters and model detection,
the text towers of open_clip's published model configurations, and published sizes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from plugins.text_to_image import discovery
from plugins.text_to_image.components import variant_of
from tests.t2i_real import meta_models, original_names, sd15_checkpoint

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.mark.slow
def test_a_real_sd15_single_file_loads_alone_and_makes_a_picture(models_dir, tmp_path, monkeypatch):
    from plugins.text_to_image import pipelines
    from plugins.text_to_image.generator import TextToImage
    from studio.core.devices import CPU
    from studio.core.generator import Context

    alone = tmp_path / "models"
    alone.mkdir()
    (alone / "dream-v15.safetensors").symlink_to(sd15_checkpoint())
    monkeypatch.setenv("STUDIO_MODEL_PATHS", str(alone))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    (entry,) = TextToImage().entries(models_dir)
    assert (entry.family, entry.variant, entry.paired, entry.problem) == ("sd1", "sd1", None, None)
    generator = TextToImage()
    request = generator.make_request(
        {"model": str(entry.path), "prompt": "a (red:1.2) barn, long grass", "steps": 1,
         "width": 64, "height": 64, "seed": 7, "scheduler": "euler"}
    )  # fmt: skip
    try:
        (result,) = generator.run(request, Context(CPU, models_dir))
        loaded = pipelines.shared.current
        assert (
            loaded.variant == "sd1" and type(loaded.text2img).__name__ == "StableDiffusionPipeline"
        )
        assert loaded.text2img.unet.config.cross_attention_dim == 768
        assert len(loaded.text2img.tokenizer) == 49408
        del loaded
    finally:
        pipelines.shared.unload()
    assert result.size == (64, 64)
    assert np.isfinite(np.asarray(result.image, dtype=np.float32)).all()
    assert not (tmp_path / "empty-hf-cache").exists()  # nothing was fetched or cached


PUBLISHED = {
    # SD 2 model card (stabilityai/stable-diffusion-2): an 865M UNet
    "sd2": ("v2", lambda n: int(n / 1e6) == 865),
    # SDXL report (Podell et al. 2023, Table 1): a 2.6B UNet
    "sdxl": ("xl_base", lambda n: round(n / 1e9, 1) == 2.6),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["sd2", "sdxl", "sd2-inpaint", "sdxl-inpaint", "sd1-inpaint"])
def test_configurations_match_a_real_checkpoint_header(variant):
    import torch
    from diffusers.loaders import single_file_utils as sf

    parts = meta_models(variant)
    names = original_names(variant, parts)
    header = {name: torch.empty(shape, device="meta") for name, (_, shape) in names.items()}
    family = variant.removesuffix("-inpaint")
    assert discovery.family_from_keys(header) == family
    conv = header["model.diffusion_model.input_blocks.0.0.weight"].shape
    assert variant_of(family, conv) == variant
    expected = {"sd1-inpaint": "inpainting", "sd2-inpaint": "inpainting_v2"}
    expected["sdxl-inpaint"] = "xl_inpaint"
    model_type = PUBLISHED[family][0] if family in PUBLISHED else None
    assert sf.infer_diffusers_model_type(header) == expected.get(variant, model_type)
    # diffusers' own converters turn that header into exactly the models' tensors
    unet = sf.convert_ldm_unet_checkpoint(header, dict(parts["unet"].config))
    assert _shapes(unet) == _shapes(parts["unet"].state_dict())
    vae = sf.convert_ldm_vae_checkpoint(header, dict(parts["vae"].config))
    assert {k: v.numel() for k, v in vae.items()} == {
        k: v.numel() for k, v in parts["vae"].state_dict().items()
    }
    if family == "sdxl":
        text = sf.convert_open_clip_checkpoint(
            parts["text_encoder_2"], header, prefix="conditioner.embedders.1.model."
        )
        assert _shapes(text) == _shapes(parts["text_encoder_2"].state_dict(), "position_ids")
    elif family == "sd2":
        text = sf.convert_open_clip_checkpoint(parts["text_encoder"], header)
        assert _shapes(text) == _shapes(parts["text_encoder"].state_dict(), "position_ids")
    if variant in PUBLISHED:
        count = sum(p.numel() for p in parts["unet"].parameters())
        assert PUBLISHED[variant][1](count), count


def _shapes(state: dict, skip: str = "\0") -> dict:
    # transformers 5 names a CLIPTextModel's tensors without "text_model."; diffusers with it
    return {
        k.removeprefix("text_model."): tuple(v.shape) for k, v in state.items() if skip not in k
    }


def test_text_encoders_are_open_clips_published_text_towers(models_dir):
    from plugins.text_to_image import tokenizer

    where = tokenizer.find(models_dir)
    tower = {
        n: json.loads((where / f"{n}.json").read_text())["text_cfg"] for n in tokenizer.TEXT_CONFIGS
    }
    configs = {}
    for variant, part in (
        ("sd1", "text_encoder"),
        ("sd2", "text_encoder"),
        ("sdxl", "text_encoder"),
        ("sdxl", "text_encoder_2"),
    ):
        from plugins.text_to_image.components import config_folder

        configs[(variant, part)] = json.loads(
            (config_folder(variant) / part / "config.json").read_text()
        )

    def same(config, cfg, drop_last=False):
        return (
            config["hidden_size"],
            config["num_attention_heads"],
            config["num_hidden_layers"],
        ) == (cfg["width"], cfg["heads"], cfg["layers"] - (1 if drop_last else 0))

    assert same(configs[("sd1", "text_encoder")], tower["ViT-L-14"])
    assert same(configs[("sdxl", "text_encoder")], tower["ViT-L-14"])
    assert same(configs[("sd2", "text_encoder")], tower["ViT-H-14"], drop_last=True)  # penultimate
    assert same(configs[("sdxl", "text_encoder_2")], tower["ViT-bigG-14"])
    assert configs[("sdxl", "text_encoder_2")]["projection_dim"] == 1280


def test_sd2_v_prediction_is_told_from_the_unet_as_a1111_tells_it(tmp_path):
    import torch
    from diffusers import UNet2DConditionModel

    from plugins.text_to_image.components import unet_predicts_v, yaml_says_v

    unet = UNet2DConditionModel(
        sample_size=8, block_out_channels=(32, 32), layers_per_block=1, cross_attention_dim=16,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), attention_head_dim=4,
        norm_num_groups=8,
    )  # fmt: skip
    with torch.no_grad():
        for param in unet.parameters():
            param.zero_()
        unet.conv_out.bias.fill_(-2.0)  # a v-model's answer at t=999: about -x - noise
    assert unet_predicts_v(unet)
    with torch.no_grad():
        unet.conv_out.bias.fill_(0.4)  # an ε-model's: about the noise it was given
    assert not unet_predicts_v(unet)
    ckpt = tmp_path / "model.safetensors"
    assert yaml_says_v(ckpt) is None
    (tmp_path / "model.yaml").write_text('model:\n  params:\n    parameterization: "v"\n')
    assert yaml_says_v(ckpt) is True
    (tmp_path / "model.yaml").write_text("model:\n  params:\n    linear_start: 0.00085\n")
    assert yaml_says_v(ckpt) is False
