"""Text to image on tiny random pipelines built here, fully offline."""

from __future__ import annotations

import json
import os
import shutil
import weakref

import numpy as np
import pytest
from PIL import Image

from plugins.text_to_image import discovery, library, pipelines, samplers
from plugins.text_to_image.generator import TextToImage
from studio.core.devices import CPU
from studio.core.generator import Cancelled, Context, GeneratorError, ParamError
from tests.t2i_tiny import build_pipeline

SMALL = {"prompt": "a cat on the mat", "steps": 3, "width": 64, "height": 64, "seed": 1}


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


def run(generator, models, **values):
    record = []
    ctx = Context(CPU, None, lambda *args: record.append(args), threads=1)
    request = generator.make_request({"model": str(models / "tiny-sd"), **SMALL, **values})
    return generator.run(request, ctx), record


def pixels(image):
    return np.asarray(image.convert("RGB"), dtype=np.int16)


# ---------------------------------------------------------------- discovery


def test_discovery_finds_folders_with_family_size_and_hash(generator, models):
    entries = {e.name: e for e in generator.entries(None)}
    assert set(entries) == {"tiny-sd", "tiny-lcm"}
    entry = entries["tiny-sd"]
    assert (entry.kind, entry.family, entry.problem) == ("folder", "sd1", None)
    assert entry.size > 100_000 and len(entry.short_hash) == 8
    assert entry.label.startswith("tiny-sd · SD 1.x · ") and entry.short_hash in entry.label
    labels = dict(generator.model_choices(None))
    assert labels[str(models / "tiny-sd")] == entry.label


def test_a_folder_with_missing_files_says_what_is_missing(tmp_path, models):
    broken = tmp_path / "broken"
    shutil.copytree(models / "tiny-sd", broken)
    shutil.rmtree(broken / "vae")
    (broken / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    (entry,) = discovery.scan([tmp_path], hf_cache=False)
    assert "vae/" in entry.problem and "unet/ weights" in entry.problem


def test_an_unknown_family_is_refused_by_name(tmp_path, models, generator):
    odd = tmp_path / "odd"
    shutil.copytree(models / "tiny-sd", odd)
    index = json.loads((odd / "model_index.json").read_text())
    index["_class_name"] = "WuerstchenPipeline"
    (odd / "model_index.json").write_text(json.dumps(index))
    (entry,) = discovery.scan([tmp_path], hf_cache=False)
    assert entry.family == "unknown" and "WuerstchenPipeline" in entry.problem
    request = generator.make_request({"model": str(odd), **SMALL})
    with pytest.raises(GeneratorError, match="family Studio cannot run"):
        generator.run(request, Context(CPU, None))


def test_models_in_the_hugging_face_cache_are_found_and_run_by_repository(
    tmp_path, models, monkeypatch, generator
):
    cache = tmp_path / "hub"
    repo = cache / "models--someone--tiny-sd"
    shutil.copytree(models / "tiny-sd", repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    (repo / "blobs").mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    (entry,) = discovery.scan([], hf_cache=True)
    assert (entry.name, entry.kind, entry.family, entry.problem) == (
        "someone/tiny-sd",
        "cache",
        "sd1",
        None,
    )
    assert discovery.find("someone/tiny-sd", [entry]) is entry
    (result,), _ = run(generator, models, model="someone/tiny-sd")
    assert result.size == (64, 64) and result.model_name == "someone/tiny-sd"


def test_a_single_file_needs_no_local_folder_studio_carries_its_configuration(tmp_path):
    from safetensors.numpy import save_file

    from plugins.text_to_image.components import CONFIGS

    weights = {"model.diffusion_model.input_blocks.0.0.weight": np.zeros((2, 4, 3, 3), np.float32)}
    weights["cond_stage_model.transformer.text_model.final_layer_norm.weight"] = np.zeros(2)
    save_file(weights, str(tmp_path / "dream.safetensors"))
    weights["model.diffusion_model.input_blocks.0.0.weight"] = np.zeros((2, 9, 3, 3), np.float32)
    save_file(weights, str(tmp_path / "dream-inpainting.safetensors"))
    plain, inpainting = discovery.scan([tmp_path], hf_cache=False)
    assert (plain.family, plain.kind, plain.problem, plain.paired) == ("sd1", "file", None, None)
    assert plain.config == CONFIGS / "sd1" and inpainting.config == CONFIGS / "sd1-inpaint"


def test_a_missing_model_and_no_model_are_clear_errors(generator, models, tmp_path):
    with pytest.raises(GeneratorError, match="No model chosen"):
        generator.run(generator.make_request({**SMALL}), Context(CPU, None))
    request = generator.make_request({**SMALL, "model": str(tmp_path / "gone")})
    with pytest.raises(GeneratorError, match="does not exist"):
        generator.run(request, Context(CPU, None))
    (tmp_path / "notes.txt").write_text("hi")
    request = generator.make_request({**SMALL, "model": str(tmp_path)})
    with pytest.raises(GeneratorError, match="neither a diffusers folder"):
        generator.run(request, Context(CPU, None))


def test_sizes_must_be_multiples_of_eight(generator):
    with pytest.raises(ParamError, match="multiple of 8"):
        generator.make_request({"width": 100})


# ---------------------------------------------------------------- generation


def test_text_to_image_is_deterministic_by_seed_and_image_i_uses_seed_plus_i(generator, models):
    (first,), _ = run(generator, models)
    (again,), _ = run(generator, models)
    assert first.size == (64, 64) and first.seed == 1
    assert np.array_equal(pixels(first.image), pixels(again.image))
    batch, _ = run(generator, models, count=3)
    assert [r.seed for r in batch] == [1, 2, 3]
    assert np.array_equal(pixels(batch[0].image), pixels(first.image))
    (second,), _ = run(generator, models, seed=2)
    assert np.array_equal(pixels(batch[1].image), pixels(second.image))
    assert not np.array_equal(pixels(batch[0].image), pixels(batch[1].image))
    assert first.model_name == "tiny-sd" and first.method == "Euler a"


def test_image_to_image_and_inpainting_share_one_pipeline(generator, models, tmp_path):
    init = tmp_path / "init.png"
    Image.new("RGB", (80, 72), (200, 40, 40)).save(init)
    mask = tmp_path / "mask.png"
    Image.new("L", (80, 72), 0).save(mask)
    (img2img,), _ = run(generator, models, init_image=str(init), strength=0.5)
    assert img2img.size == (64, 64)  # Width × Height, the init image resized to it
    assert (img2img.params["width"], img2img.params["height"]) == (64, 64)
    assert "init 80×72 → 64×64 (just resize)" in img2img.note
    loaded = pipelines.shared.current
    assert loaded.pipe("img2img").unet is loaded.text2img.unet
    (inpaint,), _ = run(generator, models, init_image=str(init), mask=str(mask), strength=1.0)
    assert inpaint.size == (64, 64)
    assert loaded.pipe("inpaint").vae is loaded.text2img.vae
    assert pipelines.shared.current is loaded  # nothing was reloaded
    with pytest.raises(GeneratorError, match="needs an init image"):
        run(generator, models, mask=str(mask))


@pytest.mark.parametrize("scheduler", [s for s in samplers.SAMPLERS if s != "lcm"])
def test_every_sampler_runs_and_is_written_by_its_a1111_name(generator, models, scheduler):
    (result,), record = run(generator, models, scheduler=scheduler, steps=4)
    assert result.size == (64, 64) and result.method == samplers.SAMPLERS[scheduler][0]
    assert result.infotext["Schedule type"] == "Automatic"
    assert record[-1][:2] == (4, 4)


def test_lcm_runs_on_an_lcm_model_and_is_refused_on_others(generator, models):
    (result,), _ = run(generator, models, model=str(models / "tiny-lcm"), scheduler="lcm")
    assert result.size == (64, 64)
    with pytest.raises(GeneratorError, match="LCM needs"):
        run(generator, models, scheduler="lcm")


def test_switching_models_unloads_the_previous_one(generator, models):
    run(generator, models)
    first = weakref.ref(pipelines.shared.current)
    weights = weakref.ref(first().text2img.unet)
    run(generator, models, model=str(models / "tiny-lcm"), scheduler="euler")
    assert pipelines.shared.current.entry.name == "tiny-lcm"
    assert first() is None and weights() is None  # the previous model's weights are freed


def test_unloading_collects_garbage_only_when_a_cycle_holds_the_weights(generator, models,
                                                                        monkeypatch):  # fmt: skip
    collections = []
    monkeypatch.setattr(pipelines.gc, "collect", lambda: collections.append(1))
    run(generator, models)
    pipelines.shared.unload()
    assert collections == []  # freed at once: no full collection
    run(generator, models)
    held = [pipelines.shared.current]
    held.append(held)  # a cycle, as a kept traceback's frames make
    del held
    pipelines.shared.unload()
    assert collections == [1]


def test_a_lora_changes_the_image_by_its_weight(generator, models, tmp_path):
    lora = write_lora(models / "tiny-sd", tmp_path / "style-lora.safetensors")
    assert [e.path for e in library.scan_loras([tmp_path])] == [lora]
    (plain,), _ = run(generator, models)
    (full,), _ = run(generator, models, lora=str(lora), lora_weight=1.0)
    (off,), _ = run(generator, models, lora=str(lora), lora_weight=0.0)
    (again,), _ = run(generator, models)
    assert np.abs(pixels(full.image) - pixels(plain.image)).max() > 5
    assert np.abs(pixels(off.image) - pixels(plain.image)).max() <= 2
    assert np.array_equal(pixels(again.image), pixels(plain.image))  # unloaded again
    assert "LoRA style-lora" in full.note


def write_lora(model_folder, path):
    import torch
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(model_folder / "unet", local_files_only=True)
    torch.manual_seed(3)
    unet.add_adapter(
        LoraConfig(
            r=4,
            lora_alpha=4,
            target_modules=["to_q", "to_k", "to_v", "to_out.0"],
            init_lora_weights=False,
        )
    )
    StableDiffusionPipeline.save_lora_weights(
        path.parent, unet_lora_layers=get_peft_model_state_dict(unet), weight_name=path.name
    )
    return path


# ---------------------------------------------------------------- previews and cancel


def test_every_step_reports_progress_and_previews_are_latent_pictures(generator, models):
    results, record = run(generator, models, steps=5, count=2)
    steps = [r[0] for r in record]
    assert steps == sorted(steps) and steps[-1] == 10 and all(r[1] == 10 for r in record)
    previews = [r[2] for r in record if r[2] is not None]
    assert previews and all(isinstance(p, Image.Image) for p in previews)
    assert previews[0].size == (32, 32)  # the latent grid: this tiny VAE downsamples by 2


def test_cancel_stops_within_a_step_and_the_pipeline_runs_again(generator, models):
    seen = []

    def cancelled():
        return len(seen) >= 2

    ctx = Context(CPU, None, lambda step, *rest: seen.append(step), cancelled, threads=1)
    request = generator.make_request({"model": str(models / "tiny-sd"), **SMALL, "steps": 20})
    with pytest.raises(Cancelled):
        generator.run(request, ctx)
    assert len(seen) == 2  # no step ran after the one that saw the cancel
    (result,), _ = run(generator, models)  # the interrupt flag is reset by the next call
    assert result.size == (64, 64)


def test_models_list_shows_the_users_models_and_why_one_cannot_load(
    generator, models, tmp_path, monkeypatch, capsys
):
    from studio.cli import main

    broken = tmp_path / "half"
    shutil.copytree(models / "tiny-sd", broken)
    shutil.rmtree(broken / "text_encoder")
    monkeypatch.setenv("STUDIO_MODEL_PATHS", f"{models}{os.pathsep}{tmp_path}")
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path / "defaults"))
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "tiny-sd · SD 1.x" in out and "tiny-lcm · SD 1.x" in out
    assert "cannot load: 'half' is incomplete: missing text_encoder/" in out


def test_settings_from_an_a1111_image_fill_the_text_to_image_form(tmp_path):
    from PIL import PngImagePlugin

    from studio.core.metadata_read import read_metadata
    from studio.core.metadata_restore import restore_values

    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        "a cat on a mat\nNegative prompt: ugly\nSteps: 20, Sampler: DPM++ 2M Karras, "
        "CFG scale: 7, Seed: 42, Size: 512x768, Model: dreamshaper_8",
    )
    Image.new("RGB", (8, 8)).save(tmp_path / "a1111.png", pnginfo=info)
    values, notes = restore_values(read_metadata(tmp_path / "a1111.png"), TextToImage.params)
    assert values == {
        "prompt": "a cat on a mat",
        "negative_prompt": "ugly",
        "steps": 20,
        "scheduler": "dpmpp_2m",  # A1111's pre-1.9 "DPM++ 2M Karras": sampler and schedule
        "schedule": "karras",
        "cfg": 7.0,
        "seed": 42,
        "width": 512,
        "height": 768,
        "model": "dreamshaper_8",
    }
    assert notes == []


def test_cpu_offload_is_cuda_only_and_says_so_elsewhere(generator, models):
    (plain,), _ = run(generator, models)
    (offload,), _ = run(generator, models, cpu_offload=True)
    assert "CPU offload ignored (CUDA only)" in offload.note
    assert np.array_equal(pixels(offload.image), pixels(plain.image))


def test_a_sampler_never_leaks_its_settings_into_the_next_run(generator, models):
    (before,), _ = run(generator, models, scheduler="euler")
    run(generator, models, scheduler="dpmpp_2m", schedule="karras")
    run(generator, models, scheduler="ddim")
    (after,), _ = run(generator, models, scheduler="euler")
    assert np.array_equal(pixels(before.image), pixels(after.image))


def test_too_few_steps_for_the_strength_is_a_clear_error(generator, models, tmp_path):
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 64)).save(init)
    with pytest.raises(GeneratorError, match="leave no step to run; use at least 5 steps"):
        run(generator, models, init_image=str(init), strength=0.2, steps=4)


def test_damaged_model_files_are_listed_with_their_problem_and_hide_nothing(tmp_path, models):
    shutil.copytree(models / "tiny-sd", tmp_path / "good")
    odd = tmp_path / "odd"
    shutil.copytree(models / "tiny-sd", odd)
    index = json.loads((odd / "model_index.json").read_text())
    index["unet"] = []
    (odd / "model_index.json").write_text(json.dumps(index))
    (odd / "unet" / "config.json").write_text("[1, 2]")
    nested = "[" * 5000 + "]" * 5000
    header = nested.encode()
    (tmp_path / "deep.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    found = {e.name: e for e in discovery.scan([tmp_path], hf_cache=False)}
    assert found["good"].problem is None
    assert found["odd"].family == "sd1"  # read from the class; the broken part is skipped
    assert "bad header" in found["deep"].problem
    assert library.scan_loras([tmp_path]) == []


def test_a_damaged_config_file_reads_as_no_model_paths(monkeypatch, tmp_path):
    from studio.core import config

    monkeypatch.setenv("STUDIO_HOME", str(tmp_path))
    monkeypatch.delenv("STUDIO_MODEL_PATHS", raising=False)
    (tmp_path / "config.json").write_text(json.dumps({"model_paths": "/tmp"}))
    assert config.model_paths() == []
    (tmp_path / "config.json").write_text(json.dumps({"model_paths": [None, "/models"]}))
    assert config.model_paths() == [__import__("pathlib").Path("/models")]
    (tmp_path / "config.json").write_text("{not json")
    assert config.model_paths() == [] and (tmp_path / "config.damaged.json").exists()
