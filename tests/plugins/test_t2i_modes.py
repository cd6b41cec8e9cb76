"""Image to image and inpainting as A1111 runs them (resize modes, paste-back, only masked),
cancel on a slow step in every mode, and what the results say (sampler, schedule type, A1111
hashes of LoRAs, embeddings and VAE). Tiny random pipelines built offline."""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np
import pytest
import torch
from PIL import Image

from plugins.text_to_image import imaging, library, pipelines
from plugins.text_to_image.generator import TextToImage
from studio.core.devices import CPU
from studio.core.generator import Cancelled, Context
from tests.plugins.test_text_to_image import write_lora
from tests.t2i_tiny import build_pipeline

SMALL = {"prompt": "a cat", "steps": 2, "width": 64, "height": 64, "seed": 3}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("t2i_modes")
    build_pipeline(root / "tiny-sd")
    return root


@pytest.fixture
def generator(models, monkeypatch, tmp_path):
    monkeypatch.setenv("STUDIO_MODEL_PATHS", str(models))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))
    return TextToImage()


def run(generator, models, ctx=None, **values):
    ctx = ctx or Context(CPU, None, threads=1)
    request = generator.make_request({"model": str(models / "tiny-sd"), **SMALL, **values})
    return generator.run(request, ctx)


def pixels(image):
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def picture(path, size=(96, 64)):
    array = np.zeros((size[1], size[0], 3), np.uint8)
    array[..., 0] = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :]
    array[..., 2] = np.linspace(255, 0, size[1], dtype=np.uint8)[:, None]
    Image.fromarray(array).save(path)
    return path


# ---------------------------------------------------------------- resize modes


def test_resize_modes_match_a1111s():
    wide = Image.new("RGB", (200, 100), (255, 0, 0))
    wide.paste((0, 0, 255), (0, 0, 10, 100))  # a blue left edge
    just = imaging.resize(wide, 64, 64, "just_resize")
    crop = imaging.resize(wide, 64, 64, "crop_resize")
    fill = imaging.resize(wide, 64, 64, "resize_fill")
    assert just.size == crop.size == fill.size == (64, 64)
    assert just.getpixel((0, 32))[2] > 200  # stretched: the blue edge stays in
    assert crop.getpixel((0, 32)) == (255, 0, 0)  # cropped: the edge is cut off
    assert fill.getpixel((32, 0)) == fill.getpixel((32, 20))  # margins repeat the edge row
    assert fill.getpixel((0, 32))[2] > 200  # fitted: the whole width is there


def test_image_to_image_runs_at_width_by_height_in_each_mode(generator, models, tmp_path):
    init = picture(tmp_path / "init.png", (160, 64))
    outs = {}
    for mode in imaging.RESIZE_MODES:
        (result,) = run(generator, models, init_image=str(init), strength=0.5, resize_mode=mode)
        assert result.size == (64, 64) and result.params["resize_mode"] == mode
        assert "init 160×64 → 64×64" in result.note
        outs[mode] = pixels(result.image)
    assert not np.array_equal(outs["just_resize"], outs["crop_resize"])


# ---------------------------------------------------------------- inpainting


def test_inpainting_keeps_the_original_outside_the_mask(generator, models, tmp_path):
    init = picture(tmp_path / "init.png", (64, 64))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (24, 24, 40, 40))
    mask.save(tmp_path / "mask.png")
    (result,) = run(
        generator, models, init_image=str(init), mask=str(tmp_path / "mask.png"),
        strength=1.0, mask_blur=0,
    )  # fmt: skip
    got, original = pixels(result.image), pixels(Image.open(init))
    outside = np.ones((64, 64), bool)
    outside[24:40, 24:40] = False
    assert np.abs(got[outside] - original[outside]).max() <= 1  # untouched by the VAE
    assert np.abs(got[24:40, 24:40] - original[24:40, 24:40]).mean() > 5  # repainted


def test_only_masked_inpaints_a_crop_and_pastes_it_into_the_full_picture(
    generator, models, tmp_path
):
    init = picture(tmp_path / "big.png", (256, 192))
    mask = Image.new("L", (256, 192), 0)
    mask.paste(255, (150, 100, 170, 120))
    mask.save(tmp_path / "mask.png")
    (result,) = run(
        generator, models, init_image=str(init), mask=str(tmp_path / "mask.png"), strength=1.0,
        inpaint_area="masked", mask_padding=8, mask_blur=0,
    )  # fmt: skip
    assert result.size == (256, 192)  # the full picture, not Width × Height
    assert "only masked: 36×36 px around the mask at 64×64" in result.note
    got, original = pixels(result.image), pixels(Image.open(init))
    assert np.array_equal(got[:, :140], original[:, :140])  # far from the mask: identical
    assert np.abs(got[100:120, 150:170] - original[100:120, 150:170]).mean() > 5


def test_the_crop_around_a_mask_takes_the_output_shape():
    mask = Image.new("L", (400, 300), 0)
    mask.paste(255, (100, 100, 150, 130))
    box = imaging.crop_region(mask, 32, 512, 512)
    assert box == (68, 58, 182, 172) and (box[2] - box[0]) == (box[3] - box[1])
    assert imaging.crop_region(Image.new("L", (8, 8)), 4, 64, 64) is None


# ---------------------------------------------------------------- cancel on a slow step


@pytest.mark.parametrize("mode", ["txt2img", "img2img", "inpaint"])
def test_cancel_stops_at_the_next_step_in_every_mode(generator, models, tmp_path, mode):
    init = picture(tmp_path / "init.png", (64, 64))
    Image.new("L", (64, 64), 255).save(tmp_path / "mask.png")
    extra = {"img2img": {"init_image": str(init)}, "inpaint": {"init_image": str(init)}}
    extra["inpaint"]["mask"] = str(tmp_path / "mask.png")
    run(generator, models, **extra.get(mode, {}), strength=1.0)  # loaded, warm
    unet = pipelines.shared.current.text2img.unet
    calls, seen, marks = [], [], {}

    def slow(_module, _args):
        calls.append(time.monotonic())
        time.sleep(0.3)  # a slow step, as on a big model

    def progress(step, *_):
        seen.append(step)
        if step == 2:
            marks["cancel"] = time.monotonic()

    hook = unet.register_forward_pre_hook(slow)
    ctx = Context(CPU, None, progress, lambda: "cancel" in marks, threads=1)
    try:
        with pytest.raises(Cancelled):
            run(generator, models, ctx, steps=10, strength=1.0, **extra.get(mode, {}))
    finally:
        hook.remove()
    assert seen[-1] == 2  # no step was reported after the one that saw the cancel
    assert len([t for t in calls if t > marks["cancel"]]) <= 1  # at most the step under way
    # The 7 steps left would sleep 2.1 s alone; the job must end well before (loose, for load).
    assert time.monotonic() - marks["cancel"] < 2.0


# ---------------------------------------------------------------- what results say


def test_results_name_sampler_and_schedule_as_a1111_and_old_requests_rerun(generator, models):
    (result,) = run(generator, models, scheduler="dpmpp_2m", schedule="karras")
    assert result.method == "DPM++ 2M" and result.infotext["Schedule type"] == "Karras"
    (old,) = run(generator, models, scheduler="dpmpp_2m_karras")  # stored by earlier versions
    assert old.params["scheduler"] == "dpmpp_2m" and old.params["schedule"] == "karras"
    assert np.array_equal(pixels(old.image), pixels(result.image))
    (euler_a,) = run(generator, models, scheduler="euler_a", schedule="karras")
    assert euler_a.infotext["Schedule type"] == "Automatic" and "ran Automatic" in euler_a.note


def test_a_seed_up_to_two_to_the_64_minus_one_seeds_the_sampler():
    top = 2**64 - 1
    a = torch.randn(4, generator=torch.Generator("cpu").manual_seed(top))
    b = torch.randn(4, generator=torch.Generator("cpu").manual_seed(top))
    assert torch.equal(a, b)


def test_lora_tags_load_several_loras_and_the_result_lists_a1111_hashes(
    generator, models, tmp_path, monkeypatch
):
    folder = tmp_path / "Lora"
    folder.mkdir()
    monkeypatch.setenv("STUDIO_MODEL_PATHS", f"{models}{os.pathsep}{folder}")
    ink = write_lora(models / "tiny-sd", folder / "ink.safetensors")
    torch.manual_seed(9)
    glow = write_lora(models / "tiny-sd", folder / "glow,1.safetensors")
    (plain,) = run(generator, models)
    (both,) = run(generator, models, lora=str(ink), prompt="a cat <lora:glow,1:0.5>")
    assert "LoRA ink × 0.8" in both.note and "LoRA glow,1 × 0.5" in both.note
    assert np.abs(pixels(both.image) - pixels(plain.image)).max() > 5
    data = ink.read_bytes()
    header = 8 + int.from_bytes(data[:8], "little")
    ink_hash = hashlib.sha256(data[header:]).hexdigest()[:12]  # A1111: the tensors, no header
    assert both.infotext["Lora hashes"].startswith(f"ink: {ink_hash}, glow1: ")
    assert library.short_hash(glow, "lora") in both.infotext["Lora hashes"]
    (again,) = run(generator, models)
    assert np.array_equal(pixels(again.image), pixels(plain.image))  # all taken out again
    with pytest.raises(Exception, match="names LoRA 'nowhere'"):
        run(generator, models, prompt="a cat <lora:nowhere:1>")


def test_an_embedding_named_in_the_prompt_is_used_and_hashed(
    generator, models, tmp_path, monkeypatch
):
    from safetensors.torch import save_file

    folder = tmp_path / "embeddings"
    folder.mkdir()
    monkeypatch.setenv("STUDIO_MODEL_PATHS", f"{models}{os.pathsep}{folder}")
    torch.manual_seed(1)
    path = folder / "shiny.safetensors"
    save_file({"emb_params": torch.randn(2, 32) * 5}, str(path))
    pt = folder / "dull.pt"
    torch.save({"string_to_param": {"*": torch.randn(1, 32) * 5}, "name": "dull"}, pt)
    (plain,) = run(generator, models, prompt="a shiny cat")
    (used,) = run(generator, models, prompt="a Shiny cat, dull")
    assert not np.array_equal(pixels(plain.image), pixels(used.image))
    expected = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    assert used.infotext["TI hashes"].startswith(f"shiny: {expected}, dull: ")
    assert used.params["prompt"] == "a Shiny cat, dull"  # written as the user wrote it


def test_a_separate_vae_file_decodes_and_is_named_with_its_hash(generator, models, tmp_path):
    from safetensors.torch import load_file, save_file

    original = load_file(str(next((models / "tiny-sd" / "vae").glob("*.safetensors"))))
    changed = {k: (v * 1.5 if k.startswith("decoder.conv_out") else v) for k, v in original.items()}
    vae = tmp_path / "VAE" / "bright.safetensors"
    vae.parent.mkdir()
    save_file(changed, str(vae))
    (plain,) = run(generator, models)
    (with_vae,) = run(generator, models, vae=str(vae))
    assert np.abs(pixels(with_vae.image) - pixels(plain.image)).max() > 5
    assert with_vae.infotext["VAE"] == "bright.safetensors"
    assert with_vae.infotext["VAE hash"] == hashlib.sha256(vae.read_bytes()).hexdigest()[:10]
    (back,) = run(generator, models)
    assert np.array_equal(pixels(back.image), pixels(plain.image))
