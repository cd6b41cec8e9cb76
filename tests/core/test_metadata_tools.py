"""Settings read from real images other tools saved (sd-parsers' test files), and restored.

The expected values are what the files carry (the same ones sd-parsers' own tests expect), in
Studio's names: A1111 sampler names, 64-bit seeds as numbers, the size the sampler denoised.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.generator import ChoiceParam, FloatParam, IntParam, SeedParam, TextParam
from studio.core.metadata_read import read_metadata
from studio.core.metadata_restore import restore_values
from studio.core.samplers import SAMPLER_NAMES, SCHEDULE_TYPES

FILES = Path(__file__).parents[1] / "data" / "sd-parsers"

# The text-to-image form's shape: sampler labels are A1111's names, plus A1111's schedule types.
T2I_SPECS = [
    TextParam(name="prompt"),
    TextParam(name="negative_prompt"),
    IntParam(name="steps", default=25, minimum=1, maximum=150),
    FloatParam(name="cfg", default=7.0, minimum=1.0, maximum=30.0),
    ChoiceParam(
        name="scheduler",
        choices=tuple(name.lower().replace(" ", "_") for name in SAMPLER_NAMES[:20]),
        labels=SAMPLER_NAMES[:20],
    ),
    ChoiceParam(
        name="schedule",
        choices=tuple(s.lower().replace(" ", "_") for s in SCHEDULE_TYPES),
        labels=SCHEDULE_TYPES,
    ),
    SeedParam(name="seed"),
    IntParam(name="width", default=512, minimum=64, maximum=2048, multiple=8),
    IntParam(name="height", default=512, minimum=64, maximum=2048, multiple=8),
]

EXPECTED = {
    "AUTOMATIC1111/automatic1111_cropped.png": (
        "a1111",
        {"prompt": "photo of a duck", "negative_prompt": "monochrome", "steps": 15},
        {"sampler": "UniPC", "seed": 235284042, "width": 512, "height": 400, "cfg": 5},
    ),
    "AUTOMATIC1111/automatic1111_cropped.jpg": (
        "a1111",
        {"prompt": "photo of a duck", "model": "realistic_realisticVisionV20_v20"},
        {"sampler": "UniPC", "seed": 235284042, "model_hash": "c0d1994c73"},
    ),
    # Only in the alpha channel: `Sampler: Euler, Schedule type: Automatic` (A1111 1.9.4).
    "AUTOMATIC1111/automatic1111_stealth.png": (
        "a1111",
        {"prompt": "a circle", "negative_prompt": "a square", "steps": 20, "clip_skip": "2"},
        {"sampler": "Euler", "seed": 2015833630, "width": 64, "height": 64},
    ),
    # KSampler 3 (`sample_dpmpp_2m`, normal) denoises a VAEEncode'd image: no latent size.
    "ComfyUI/img2img_cropped.png": (
        "comfyui",
        {"prompt": "photograph of victorian woman with wings, sky clouds, meadow grass"},
        {"sampler": "DPM++ 2M", "seed": 280823642470253, "steps": 20, "cfg": 8.0},
    ),
    # Its first KSampler denoises EmptyLatentImage 704x1280 (a LatentUpscale follows later).
    "ComfyUI/night_evening_day_morning_cropped.png": (
        "comfyui",
        {"model": "Anything-V3.0.ckpt"},
        {"sampler": "DPM++ SDE", "seed": 335608130539327, "width": 704, "height": 1280},
    ),
    # KSampler 24 (`sample_dpmpp_sde`, simple) denoises a LatentUpscale to 1920x1088 of a
    # composite; the first EmptyLatentImage in the file is 256x512.
    "ComfyUI/noisy_latents_3_subjects_cropped.png": (
        "comfyui",
        {"steps": 9, "cfg": 5.5},
        {"sampler": "DPM++ SDE", "schedule": "Simple", "seed": 1084614416978598}
        | {"width": 1920, "height": 1088},
    ),
    "ComfyUI/unclip_2pass_cropped.png": (
        "comfyui",
        {"model": "wd-1-5-beta2-aesthetic-unclip-h-fp32.safetensors"},
        {"sampler": "UniPC", "seed": 1106257833005336, "width": 1280, "height": 704},
    ),
    # `"sampler": "dpmpp_2m_sde_gpu", "scheduler": "karras", "seed": "6952411511246973023"`.
    "Fooocus/fooocus1_cropped.png": (
        "fooocus",
        {"prompt": "a smiling goldfish", "steps": 30, "model": "juggernautXL_v8Rundiffusion"},
        {"sampler": "DPM++ 2M SDE", "schedule": "Karras", "seed": 6952411511246973023}
        | {"width": 768, "height": 1280},
    ),
    "InvokeAI/invokeai_dream1.png": (
        "invokeai",
        {"negative_prompt": "rendering, glowing eyes, skinny", "steps": 50},
        {"sampler": "LMS", "seed": 2980747362, "width": 512, "height": 768, "cfg": 5.0},
    ),
    "InvokeAI/invokeai_imeta1.png": (
        "invokeai",
        {"model": "juggernautXL", "steps": 35},
        {"sampler": "Euler", "seed": 3293022630, "width": 1024, "height": 1024},
    ),
    "InvokeAI/invokeai_sdmeta1.png": (
        "invokeai",
        {"model": "deliberateForInvoke_v08"},
        {"sampler": "LMS", "seed": 2980747362, "steps": 50},
    ),
    "NovelAI/novelai1_cropped.png": (
        "novelai",
        {"prompt": "masterpiece, best quality,  cat, space, icon", "steps": 50},
        {"sampler": "Euler a", "seed": 2253955223, "cfg": 10.0, "model_hash": "1D44365E"},
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_images_from_other_tools_are_read_in_studio_terms(name):
    source, plain, mapped = EXPECTED[name]
    meta = read_metadata(FILES / name)
    assert meta.source_format == source
    for key, value in {**plain, **mapped}.items():
        assert meta.params.get(key) == value, key
    assert meta.seed == mapped["seed"]
    if "schedule" not in mapped:  # automatic, normal: the sampler's default
        assert "schedule" not in meta.params
    assert "scheduler" not in meta.params  # ComfyUI's and Fooocus' name for the schedule


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_images_restore_sampler_schedule_and_64_bit_seed_onto_the_form(name):
    _source, _plain, mapped = EXPECTED[name]
    meta = read_metadata(FILES / name)
    values, notes = restore_values(meta, T2I_SPECS, title="Text to image")
    spec = {s.name: s for s in T2I_SPECS}
    assert spec["scheduler"].label_of(values["scheduler"]) == mapped["sampler"]
    assert spec["schedule"].label_of(values["schedule"]) == mapped.get("schedule", "Automatic")
    assert values["seed"] == mapped["seed"]
    assert not any("out of range" in note or "is not one of" in note for note in notes)


def test_the_stealth_image_has_no_text_chunks_at_all():
    from PIL import Image

    with Image.open(FILES / "AUTOMATIC1111/automatic1111_stealth.png") as image:
        assert image.mode == "RGBA" and not image.info and not image.text
    assert list(read_metadata(FILES / "AUTOMATIC1111/automatic1111_stealth.png").raw) == [
        "stealth pnginfo"
    ]
