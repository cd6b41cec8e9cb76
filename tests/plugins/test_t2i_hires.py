"""Hires fix: A1111's two passes on a tiny random pipeline, its metadata, and its upscalers."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from plugins.text_to_image import hires
from plugins.text_to_image.generator import TextToImage
from studio.core.devices import CPU
from studio.core.generator import Context, GeneratorError
from studio.core.metadata import a1111_text, result_record
from studio.core.metadata_read import read_metadata
from studio.core.metadata_restore import restore_values
from tests.t2i_tiny import build_pipeline

# The tiny pipeline's VAE halves (not eighths) the size: 64 px is its own; ×1.5 stays quick.
SMALL = {"prompt": "a cat on the mat", "steps": 3, "width": 64, "height": 64, "seed": 5}
HIRES = {"hires_fix": True, "hires_steps": 2, "denoising_strength": 0.5, "scheduler": "euler"}
HIRES["hires_upscale"] = 1.5

# Real A1111 texts, from the tests of space-nuko/sd-webui-utilities
# (tests/test_import_to_hydrus.py, commit c3dcdde0c6e5fd504476dd1420ceafa78610f55e).
A1111_LATENT = """(colorful:1.3),
dreamlike fantasy landscape where everything is a shade of pink,
 <lora:NAI-cutesexyrobutts:1>
Negative prompt: (worst quality:1.4), (low quality:1.4) , (monochrome:1.1)
Steps: 40, Sampler: DPM++ 2M Karras, CFG scale: 12, Seed: 2416682767, Size: 640x512, \
Model hash: 0f0eaaa61e, Model: pastelmix-better-vae-fp16, Denoising strength: 0.55, \
Clip skip: 2, ENSD: 31337, Hires upscale: 2, Hires steps: 20, Hires upscaler: Latent
"""
A1111_RESIZE = (
    "1girl\nNegative prompt: lowres, bad anatomy\n"
    "Steps: 40, Sampler: DPM++ 2M Karras, CFG scale: 9, Seed: 2976004442, Size: 576x512, "
    "Model hash: 931f9552, Model: AbyssOrangeMix2_hard, Batch size: 2, Batch pos: 0, "
    "Denoising strength: 0.6, Clip skip: 2, ENSD: 31337, File includes: , "
    "Hires resize: 1152x1024, Hires upscaler: Latent (nearest-exact), "
    "Discard penultimate sigma: True"
)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    build_pipeline(root / "tiny-sd")
    return root


@pytest.fixture
def generator(models, monkeypatch, tmp_path):
    monkeypatch.setenv("STUDIO_MODEL_PATHS", str(models))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))
    return TextToImage()


def run(generator, models, **values):
    record = []
    ctx = Context(CPU, None, lambda *args: record.append(args), threads=1)
    request = generator.make_request({"model": str(models / "tiny-sd"), **SMALL, **values})
    return generator.run(request, ctx), record


def raw_two_passes(folder, latent: bool, **values):
    """The same picture from diffusers directly: txt2img, upscale, img2img."""
    from studio.core.devices import torch_threads

    with torch_threads(1):  # as the job runs: the same sums, the same pixels
        return _raw_two_passes(folder, latent, **values)


def _raw_two_passes(folder, latent: bool, **values):
    import torch
    from diffusers import (
        AutoPipelineForImage2Image,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
    )

    v = {**SMALL, **HIRES, **values}
    pipe = StableDiffusionPipeline.from_pretrained(str(folder), local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    second = AutoPipelineForImage2Image.from_pipe(pipe)
    seed = torch.Generator("cpu")
    kept = "latent" if latent else "pil"
    out = pipe(
        v["prompt"], num_inference_steps=v["steps"], width=64, height=64, guidance_scale=7.0,
        generator=seed.manual_seed(v["seed"]), output_type=kept,
    )  # fmt: skip
    if latent:
        image = torch.nn.functional.interpolate(out.images, size=(48, 48), mode="bilinear")
    else:
        image = out.images[0].resize((96, 96), Image.Resampling.LANCZOS)
    steps_seen = []

    def count(_pipe, i, _t, kw):
        steps_seen.append(i)
        return kw

    result = second(v["prompt"], image=image, num_inference_steps=4, guidance_scale=7.0,
                    strength=v["denoising_strength"],
                    generator=seed.manual_seed(v["seed"]),
                    callback_on_step_end=count)  # fmt: skip
    return result.images[0], len(steps_seen)


@pytest.mark.slow
def test_hires_fix_is_the_two_diffusers_calls_and_runs_exactly_its_steps(generator, models):
    (result,), record = run(generator, models, **HIRES)
    assert result.image.size == (96, 96)
    # 3 steps, then exactly Hires steps (2) of a schedule of 2 / 0.5 = 4, as A1111 runs them
    assert [r[:2] for r in record] == [(step, 5) for step in (1, 2, 3, 4, 5, 5)]
    raw, raw_steps = raw_two_passes(models / "tiny-sd", latent=True)
    assert raw_steps == 2
    difference = np.abs(np.asarray(result.image, float) - np.asarray(raw, float))
    assert difference.max() == 0  # the same pixels
    assert result.params["width"] == 64 and "hires fix 96×96 (Latent, 2 steps)" in result.note


@pytest.mark.slow
def test_an_image_upscaler_decodes_upscales_and_repaints(generator, models):
    (result,), _ = run(generator, models, **HIRES, hires_upscaler="Lanczos")
    raw, _ = raw_two_passes(models / "tiny-sd", latent=False)
    assert result.image.size == (96, 96)
    assert np.abs(np.asarray(result.image, float) - np.asarray(raw, float)).max() == 0


def test_hires_fix_writes_a1111s_pairs_and_reads_them_back(generator, models, tmp_path):
    (result,), _ = run(generator, models, **{**HIRES, "hires_upscale": 2.0})
    text = a1111_text(result_record(result))
    pairs = text.splitlines()[-1]
    assert "Size: 64x64," in pairs  # A1111 writes the first pass's size
    assert "Denoising strength: 0.5, Hires upscale: 2, Hires steps: 2, Hires upscaler: Latent" in (
        pairs
    )
    assert "Hires fix" not in pairs and "Hires resize" not in pairs
    (plain,), _ = run(generator, models)
    plain_pairs = a1111_text(result_record(plain)).splitlines()[-1]
    assert "Hires" not in plain_pairs and "Denoising strength" not in plain_pairs
    # read back as another tool's file would be (no Studio record)
    values, _notes = _restore(generator, text, tmp_path)
    assert values["hires_fix"] is True
    assert (values["hires_upscale"], values["hires_steps"], values["hires_upscaler"]) == (
        2.0,
        2,
        "Latent",
    )
    assert (values["denoising_strength"], values["width"], values["height"]) == (0.5, 64, 64)


def _restore(generator, text, tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    Image.new("RGB", (8, 8)).save(tmp_path / "a1111.png", pnginfo=info)
    meta = read_metadata(tmp_path / "a1111.png")
    values, notes = restore_values(meta, generator.params, title=generator.title)
    values, checked = generator.restore(values, None, carried=meta.params)
    return values, notes + checked


def test_a1111_files_restore_hires_fix_as_a1111_pastes_it(generator, tmp_path):
    values, notes = _restore(generator, A1111_LATENT, tmp_path)
    assert values["hires_fix"] is True
    assert (values["width"], values["height"], values["steps"]) == (640, 512, 40)
    assert (values["hires_upscale"], values["hires_steps"], values["hires_upscaler"]) == (
        2.0,
        20,
        "Latent",
    )
    assert values["denoising_strength"] == 0.55 and "strength" not in values
    assert not any("Hires" in n or "Denoising" in n for n in notes)
    values, notes = _restore(generator, A1111_RESIZE, tmp_path)
    assert values["hires_fix"] is True
    assert (values["hires_resize_x"], values["hires_resize_y"]) == (1152, 1024)
    assert values["hires_upscaler"] == "Latent (nearest-exact)"
    assert not any("Hires" in n for n in notes)
    img2img = "a cat\nSteps: 20, Sampler: Euler, Seed: 1, Size: 512x512, Denoising strength: 0.75"
    values, _ = _restore(generator, img2img, tmp_path)
    assert values["hires_fix"] is False and values["strength"] == 0.75


def test_an_upscaler_that_is_not_installed_is_named(generator, tmp_path):
    text = A1111_LATENT.replace("Hires upscaler: Latent", "Hires upscaler: 4x-UltraSharp")
    values, notes = _restore(generator, text, tmp_path)
    assert "hires_upscaler" not in values and values["hires_fix"] is True
    assert any("'4x-UltraSharp' is not installed" in n for n in notes)


def test_hires_resize_fills_and_crops_as_a1111(generator, models):
    # A1111: 32×32 to 64×48 upscales to 64×64 and crops 2 latent rows (1 top, 1 bottom)
    assert hires.target_size(32, 32, 2.0, 64, 48) == (64, 64, 0, 2)
    assert hires.target_size(64, 64, 2.0, 128, 96) == (128, 128, 0, 4)
    assert hires.target_size(640, 512, 2.0, 0, 0) == (1280, 1024, 0, 0)
    assert hires.target_size(576, 512, 2.0, 1152, 0) == (1152, 1024, 0, 0)
    assert hires.target_size(512, 768, 1.0, 0, 1024) == (682, 1024, 0, 0)
    (result,), _ = run(generator, models, **HIRES, hires_resize_x=96, hires_resize_y=80,
                       hires_upscaler="Lanczos")  # fmt: skip
    assert result.image.size == (96, 80)
    text = a1111_text(result_record(result))
    assert "Hires resize: 96x80" in text and "Hires upscale:" not in text


def test_the_second_pass_runs_exactly_its_steps_for_any_strength():
    for steps in range(1, 60):
        for strength in (0.05, 0.1, 0.2, 0.3, 0.35, 0.45, 0.5, 0.55, 0.7, 0.75, 0.9, 0.99, 1.0):
            schedule, given = hires.second_pass_steps(steps, strength)
            # A1111's schedule, and what diffusers' img2img then runs of it
            assert schedule == max(steps, int(steps / min(strength, 0.999)))
            assert min(int(schedule * given), schedule) == steps


def test_the_image_upscaler_runtime_is_called_when_it_is_installed(generator, models, monkeypatch):
    calls = []

    def upscale(image, name, scale, *, models_dir, device=None, progress=None, cancelled=None):
        calls.append((image.size, name, scale, cancelled()))
        return image.resize((image.width * 4, image.height * 4), Image.Resampling.NEAREST)

    runtime = types.ModuleType("studio.upscalers")
    runtime.choices = lambda models_dir: [("realesrgan-x4plus", "R-ESRGAN 4x+")]
    runtime.upscale = upscale
    monkeypatch.setitem(sys.modules, "studio.upscalers", runtime)
    offered = generator.choices_for(generator.param("hires_upscaler"), None)
    assert [label for _v, label in offered] == [
        *hires.LATENT_MODES,
        "None",
        "Lanczos",
        "Nearest",
        "R-ESRGAN 4x+",
    ]
    (result,), _ = run(generator, models, **HIRES, hires_upscaler="realesrgan-x4plus")
    assert calls == [((64, 64), "realesrgan-x4plus", 1.5, False)]
    assert result.image.size == (96, 96)  # ×4 from the network, then Lanczos to ×2
    assert 'Hires upscaler: "R-ESRGAN 4x+"' in a1111_text(result_record(result)) or (
        "Hires upscaler: R-ESRGAN 4x+" in a1111_text(result_record(result))
    )


def test_hires_fix_errors_are_clear(generator, models):
    with pytest.raises(GeneratorError, match="'Bicubic' is not installed"):
        run(generator, models, **HIRES, hires_upscaler="Bicubic")
    with pytest.raises(GeneratorError, match="strength of 0"):
        run(generator, models, **{**HIRES, "denoising_strength": 0.0})


def test_the_installed_upscalers_serve_hires_fix(generator, models, models_dir, tmp_path):
    """The real upscaler runtime, with the built-in networks set-up installed (models_dir)."""
    spec = generator.param("hires_upscaler")
    offered = [value for value, _label in generator.choices_for(spec, models_dir)]
    assert len(offered) == len(set(offered))  # Lanczos and Nearest once, not twice
    assert "R-ESRGAN AnimeVideo" in offered
    text = A1111_LATENT.replace("Hires upscaler: Latent", "Hires upscaler: R-ESRGAN AnimeVideo")
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    Image.new("RGB", (8, 8)).save(tmp_path / "a1111.png", pnginfo=info)
    meta = read_metadata(tmp_path / "a1111.png")
    values, notes = restore_values(meta, generator.params, title=generator.title)
    values, checked = generator.restore(values, models_dir, carried=meta.params)
    assert values["hires_upscaler"] == "R-ESRGAN AnimeVideo"
    assert not any("Hires" in n for n in notes + checked)
    ctx = Context(CPU, models_dir, lambda *args: None, threads=1)
    values = {"model": str(models / "tiny-sd"), **SMALL, **HIRES}
    request = generator.make_request({**values, "hires_upscaler": "R-ESRGAN AnimeVideo"})
    (result,) = generator.run(request, ctx)
    assert result.image.size == (96, 96)
    assert "Hires upscaler: R-ESRGAN AnimeVideo" in a1111_text(result_record(result))
