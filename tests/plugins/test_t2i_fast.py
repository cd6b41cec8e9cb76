"""Few-step models and LoRAs told from the files, the "Fast" preset, TAESD found in both of
its published layouts (random weights), and the device line results carry."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import save_file

from plugins.text_to_image import fast, pipelines, taesd
from plugins.text_to_image.generator import TextToImage
from studio.core.devices import CPU
from studio.core.generator import Context
from studio.core.jobs import Executor, Job, JobState
from studio.core.metadata import result_record
from tests.t2i_tiny import build_pipeline, components, save_pipeline

SMALL = {"prompt": "a cat on the mat", "steps": 2, "width": 64, "height": 64, "seed": 1}


def tensors_file(path, meta=None, width=768):
    key = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"
    save_file({key: np.zeros((4, width), np.float32)}, str(path), metadata=meta)
    return path


# ---------------------------------------------------------------- telling few-step models


def test_few_step_models_are_told_by_name_metadata_and_folder(tmp_path):
    plain = tensors_file(tmp_path / "dreamshaper_8.safetensors")
    titled = tensors_file(tmp_path / "model_a.safetensors", {"modelspec.title": "SDXL Turbo"})
    lightning = tensors_file(tmp_path / "sdxl_lightning_4step.safetensors")
    assert fast.model_kind(plain) is None
    turbo = fast.model_kind(titled)
    assert (turbo.kind, turbo.steps, turbo.cfg, turbo.scheduler, turbo.trailing) == (
        fast.TURBO, 1, 1.0, "euler_a", True)  # fmt: skip
    assert turbo.reason == "its metadata"
    found = fast.model_kind(lightning)
    assert (found.kind, found.steps, found.scheduler) == (fast.TURBO, 4, "euler")
    lcm = build_pipeline(tmp_path / "dreamshaper-v7", scheduler="lcm")  # no "lcm" in the name
    found = fast.model_kind(lcm)
    assert (found.kind, found.scheduler, found.steps, found.cfg) == (fast.LCM, "lcm", 4, 1.0)
    config = json.loads((lcm / "unet" / "config.json").read_text())
    (lcm / "unet" / "config.json").write_text(json.dumps({**config, "time_cond_proj_dim": 256}))
    assert fast.model_kind(lcm).cfg == 8.0  # guidance is embedded: no second pass to pay
    assert fast.model_kind(build_pipeline(tmp_path / "tiny", scheduler="ddim")) is None


def test_an_lcm_lora_is_found_like_any_lora_by_name_folder_or_metadata(tmp_path):
    from plugins.text_to_image import library

    (tmp_path / "lcm-lora-sdv1-5").mkdir()
    in_folder = tensors_file(tmp_path / "lcm-lora-sdv1-5" / "pytorch_lora_weights.safetensors")
    xl = tensors_file(tmp_path / "lcm-lora-sdxl.safetensors", width=2048)
    tagged = tensors_file(tmp_path / "speedy.safetensors", {"ss_output_name": "LCM_LoRA_SD15"})
    other = tensors_file(tmp_path / "ink-style.safetensors")
    found = {e.path for e in library.scan_files([tmp_path], "lora")}
    assert found == {in_folder, xl, tagged, other}
    assert fast.lora_kind(other) is None
    assert fast.lora_kind(in_folder).values == {
        "scheduler": "lcm", "schedule": "automatic", "steps": 4, "cfg": 1.0}  # fmt: skip
    assert fast.lora_kind(tagged).kind == fast.LCM
    assert (fast.lora_family(in_folder), fast.lora_family(xl)) == ("sd1", "sdxl")
    assert fast.find_lcm_lora([tmp_path], "sdxl").path == xl
    assert fast.find_lcm_lora([tmp_path], "sd1").path in (in_folder, tagged)


# ---------------------------------------------------------------- the form


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    build_pipeline(root / "tiny-sd")
    build_pipeline(root / "tiny-lcm", scheduler="lcm")
    return root


@pytest.fixture
def generator(models, monkeypatch, tmp_path):
    monkeypatch.setenv("STUDIO_MODEL_PATHS", str(models))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))
    return TextToImage()


def test_an_lcm_model_suggests_its_settings_and_a_plain_one_the_defaults(generator, models):
    lcm = generator.suggested_values({"model": str(models / "tiny-lcm")}, None)
    assert (lcm["scheduler"], lcm["steps"], lcm["cfg"]) == ("lcm", 4, 1.0)
    plain = generator.suggested_values({"model": str(models / "tiny-sd")}, None)
    assert (plain["scheduler"], plain["steps"], plain["cfg"]) == ("euler_a", 20, 7.0)


def test_the_fast_preset_takes_the_users_lcm_lora_and_taesd(generator, models, tmp_path):
    values = {"model": str(models / "tiny-sd"), "lora": None}
    (plain_fast, standard) = generator.presets(values, None)
    assert plain_fast.name == "Fast" and standard.name == "Standard"
    assert plain_fast.values == {**fast.FAST_PLAIN}
    assert "no LCM LoRA" in plain_fast.note and "TAESD" in plain_fast.note
    lora = tensors_file(models / "lcm-lora-sdv1-5.safetensors")
    save_taesd_folder(models / "taesd")
    try:
        (chosen, _) = generator.presets(values, None)
    finally:
        lora.unlink()
        shutil.rmtree(models / "taesd")
    assert chosen.values == {
        "lora": str(lora), "lora_weight": 1.0, "scheduler": "lcm", "schedule": "automatic",
        "steps": 4, "cfg": 1.0, "fast_decode": True}  # fmt: skip
    assert "LCM LoRA lcm-lora-sdv1-5" in chosen.note
    generator.make_request({**values, **standard.values})  # every value is valid for the form


# ---------------------------------------------------------------- TAESD in its two layouts


def save_taesd_folder(folder, seed=0):
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    model = AutoencoderTiny()
    with torch.no_grad():  # random weights that keep activations in range
        for p in model.parameters():
            p.mul_(0.5)
    model.save_pretrained(folder)
    return model


def original_decoder():
    """TAESD's decoder as madebyollin/taesd's taesd.py builds it: a Sequential whose first
    layer is the Clamp (so its weights are numbered from 1)."""
    import torch
    from torch import nn

    def conv(n_in, n_out, **kwargs):
        return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)

    class Clamp(nn.Module):
        def forward(self, x):
            return torch.tanh(x / 3) * 3

    class Block(nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.conv = nn.Sequential(
                conv(n_in, n_out), nn.ReLU(), conv(n_out, n_out), nn.ReLU(), conv(n_out, n_out)
            )
            self.skip = nn.Identity()
            self.fuse = nn.ReLU()

        def forward(self, x):
            return self.fuse(self.conv(x) + self.skip(x))

    def up():
        return [nn.Upsample(scale_factor=2), conv(64, 64, bias=False)]

    torch.manual_seed(5)
    return nn.Sequential(
        Clamp(), conv(4, 64), nn.ReLU(),
        Block(64, 64), Block(64, 64), Block(64, 64), *up(),
        Block(64, 64), Block(64, 64), Block(64, 64), *up(),
        Block(64, 64), Block(64, 64), Block(64, 64), *up(),
        Block(64, 64), conv(64, 3),
    ).eval()  # fmt: skip


def test_taesd_is_found_in_both_layouts_and_decodes_as_the_original(tmp_path):
    import torch
    from safetensors.torch import save_file as save_torch

    assert taesd.find([tmp_path], "sd1") is None
    save_taesd_folder(tmp_path / "vae_approx" / "taesdxl")
    assert taesd.find([tmp_path], "sd1") is None  # the SDXL one is no use to SD 1.x
    assert taesd.find([tmp_path], "sdxl") == tmp_path / "vae_approx" / "taesdxl"
    original = original_decoder()
    file = tmp_path / "vae_approx" / "taesd_decoder.safetensors"
    save_torch(original.state_dict(), str(file))
    assert taesd.find([tmp_path], "sd2") == file
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = original(latents) * 2 - 1  # the original decodes to 0..1, diffusers to ±1
    for path in (file, tmp_path / "taesd_decoder.pth"):
        if path.suffix == ".pth":
            torch.save(original.state_dict(), path)
        decoded = taesd.decode(taesd.load(path, "cpu", torch.float32), latents)
        assert decoded.shape == (1, 3, 64, 64)
        assert torch.allclose(decoded, expected, atol=1e-5)
    not_taesd = tmp_path / "odd" / "taesd_decoder.safetensors"
    not_taesd.parent.mkdir()
    save_torch({"1.weight": torch.zeros(3, 3)}, str(not_taesd))
    with pytest.raises(ValueError, match="not a TAESD decoder|cannot be read"):
        taesd.load(not_taesd, "cpu", torch.float32)


def pipeline_of_scale_8(folder):
    """The tiny pipeline with a four-level VAE: latents 1/8 of the image, as SD's."""
    from diffusers import AutoencoderKL

    parts = components()
    parts["vae"] = AutoencoderKL(
        block_out_channels=[8, 8, 8, 8], down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4, latent_channels=4, norm_num_groups=4,
    )  # fmt: skip
    return save_pipeline(parts, folder)


def test_taesd_previews_and_decodes_when_asked_and_the_vae_otherwise(tmp_path, monkeypatch):
    folder = pipeline_of_scale_8(tmp_path / "models" / "tiny-8")
    monkeypatch.setenv("STUDIO_MODEL_PATHS", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))
    generator = TextToImage()

    def run(**values):
        record = []
        ctx = Context(CPU, None, lambda *args: record.append(args), threads=1)
        request = generator.make_request({"model": str(folder), **SMALL, **values})
        (result,) = generator.run(request, ctx)
        return result, [r[2] for r in record if r[2] is not None]

    try:
        plain, linear = run()
        asked, _ = run(fast_decode=True)
        assert "no TAESD in your model folders" in asked.note
        assert np.array_equal(np.asarray(asked.image), np.asarray(plain.image))
        assert {p.size for p in linear} == {(8, 8)}  # the latent-linear preview
        save_taesd_folder(tmp_path / "models" / "taesd")
        vae_decoded, previews = run()
        tiny, _ = run(fast_decode=True)
    finally:
        pipelines.shared.unload()
    assert {p.size for p in previews} == {(64, 64)}  # decoded by TAESD
    assert np.array_equal(np.asarray(vae_decoded.image), np.asarray(plain.image))
    assert tiny.size == (64, 64) and "decoded by TAESD (taesd)" in tiny.note
    diff = np.abs(np.asarray(tiny.image, np.int16) - np.asarray(plain.image, np.int16))
    assert diff.mean() > 1  # another decoder made these pixels


# ---------------------------------------------------------------- device line, Turbo steps


def test_results_and_the_job_say_device_and_precision_and_rerun_bit_exact(generator, models):
    executor = Executor(lambda _id: generator, lambda: CPU, None, threads=1)
    request = generator.make_request({"model": str(models / "tiny-sd"), **SMALL})
    first, second = Job(request), Job(request)
    try:
        executor.execute(first)
        executor.execute(second)
    finally:
        pipelines.shared.unload()
    assert first.state is JobState.DONE
    line = first.results[0].device
    assert line.startswith("CPU · float32 · 1 thread · torch ")
    assert first.device == line and result_record(first.results[0])["device"] == line
    same = [np.asarray(j.results[0].image) for j in (first, second)]
    assert np.array_equal(*same)


def test_a_turbo_model_runs_one_step_on_trailing_timesteps(generator, models, tmp_path):
    turbo = tmp_path / "tiny-sd-turbo"
    shutil.copytree(models / "tiny-sd", turbo)
    suggested = generator.suggested_values({"model": str(turbo)}, None)
    assert (suggested["steps"], suggested["cfg"], suggested["width"]) == (1, 1.0, 512)
    record = []
    ctx = Context(CPU, None, lambda *args: record.append(args), threads=1)
    values = {"model": str(turbo), **SMALL, **fast.model_kind(turbo).values}
    try:
        (result,) = generator.run(generator.make_request(values), ctx)
        scheduler = pipelines.shared.current.text2img.scheduler
    finally:
        pipelines.shared.unload()
    assert scheduler.config.timestep_spacing == "trailing"
    assert int(scheduler.timesteps[0]) == 999  # the first step starts from pure noise
    assert [r[0] for r in record][-1] == 1 and result.size == (64, 64)


def test_taesd_previews_keep_to_a_tenth_of_the_jobs_time(monkeypatch):
    import time

    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])

    def one_second_decode(_model, _latents):
        clock[0] += 1.0
        return "picture"

    monkeypatch.setattr(taesd, "preview", one_second_decode)
    decoding = taesd.Decoding(model=object())
    assert decoding.preview(None) == "picture"  # the first step always shows one
    clock[0] += 5.0
    assert decoding.preview(None) is None  # 1 s of decoding in 5 s: too dear, none this time
    clock[0] += 5.0
    assert decoding.preview(None) == "picture"  # 1 s in 10 s: a tenth
