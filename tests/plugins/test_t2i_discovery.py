"""Model discovery from file names and headers alone: families, pairing, problems."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from plugins.text_to_image import discovery, library
from plugins.text_to_image.components import CONFIGS


def checkpoint(path, *keys):
    save_file({k: np.zeros(1, np.float32) for k in keys}, str(path))
    return path


def pipeline_folder(root, name, cls, cross_dim=768):
    folder = root / name
    parts = {"unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
    parts.update(scheduler=["diffusers", "EulerDiscreteScheduler"], safety_checker=[None, None])
    (folder / "unet").mkdir(parents=True)
    (folder / "vae").mkdir()
    (folder / "scheduler").mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": cls, **parts}))
    (folder / "unet" / "config.json").write_text(json.dumps({"cross_attention_dim": cross_dim}))
    (folder / "vae" / "config.json").write_text("{}")
    (folder / "scheduler" / "scheduler_config.json").write_text("{}")
    for part in ("unet", "vae"):
        checkpoint(folder / part / "diffusion_pytorch_model.safetensors", "w")
    return folder


SDXL_KEYS = ("model.diffusion_model.input_blocks.0.0.weight", "conditioner.embedders.1.model.x")
SD2_KEYS = ("model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.model.x")
SD1_KEYS = ("model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.transformer.x")


@pytest.mark.parametrize(
    ("keys", "family"),
    [
        (SD1_KEYS, "sd1"),
        (SD2_KEYS, "sd2"),
        (SDXL_KEYS, "sdxl"),
        (("model.diffusion_model.joint_blocks.0.x",), "sd3"),
        (("double_blocks.0.img_attn.qkv.weight",), "flux"),
        (("something.else",), "unknown"),
    ],
)
def test_family_from_tensor_names(keys, family):
    assert discovery.family_from_keys(keys) == family


def test_lora_files_are_told_apart_from_checkpoints(tmp_path):
    lora = checkpoint(tmp_path / "ink.safetensors", "unet.down.0.lora_A.weight")
    full = checkpoint(tmp_path / "dream.safetensors", *SD1_KEYS)
    assert discovery.file_kind(lora) == ("lora", "unknown")
    assert discovery.file_kind(full) == ("checkpoint", "sd1")
    assert [e.name for e in library.scan_loras([tmp_path])] == ["ink"]
    assert [e.name for e in discovery.scan([tmp_path], hf_cache=False)] == ["dream"]


def test_a_damaged_safetensors_file_is_listed_with_its_problem(tmp_path):
    (tmp_path / "broken.safetensors").write_bytes(b"\xff" * 64)
    (entry,) = discovery.scan([tmp_path], hf_cache=False)
    assert "not a safetensors file" in entry.problem


def test_folders_by_pipeline_class_and_text_width(tmp_path):
    pipeline_folder(tmp_path, "one", "StableDiffusionPipeline", 768)
    pipeline_folder(tmp_path, "two", "StableDiffusionPipeline", 1024)
    pipeline_folder(tmp_path, "xl", "StableDiffusionXLPipeline", 2048)
    pipeline_folder(tmp_path, "flux", "FluxPipeline")
    found = {e.name: e for e in discovery.scan([tmp_path], hf_cache=False)}
    assert {n: e.family for n, e in found.items()} == {
        "one": "sd1",
        "two": "sd2",
        "xl": "sdxl",
        "flux": "flux",
    }
    assert found["flux"].problem and "Studio runs SD 1.x, 2.x and SDXL" in found["flux"].problem
    assert all(found[n].problem is None for n in ("one", "two", "xl"))


def test_a_single_file_gets_studios_configuration_and_a_folder_of_its_own_family(tmp_path):
    pipeline_folder(tmp_path, "base-sd1", "StableDiffusionPipeline", 768)
    xl_file = checkpoint(tmp_path / "juggernaut.safetensors", *SDXL_KEYS)
    sd1_file = checkpoint(tmp_path / "dream.safetensors", *SD1_KEYS)
    found = {e.path: e for e in discovery.scan([tmp_path], hf_cache=False)}
    assert (found[sd1_file].config, found[sd1_file].problem) == (CONFIGS / "sd1", None)
    assert found[sd1_file].paired == tmp_path / "base-sd1"  # used only without the tokenizer
    assert (found[xl_file].config, found[xl_file].problem) == (CONFIGS / "sdxl", None)
    assert found[xl_file].paired is None  # no SDXL folder: the SD 1.x one is not its family
    pipeline_folder(tmp_path, "base-xl", "StableDiffusionXLPipeline", 2048)
    found = {e.path: e for e in discovery.scan([tmp_path], hf_cache=False)}
    assert found[xl_file].paired == tmp_path / "base-xl"


def test_find_by_name_or_path_and_clear_messages(tmp_path):
    pipeline_folder(tmp_path, "one", "StableDiffusionPipeline")
    entries = discovery.scan([tmp_path], hf_cache=False)
    assert discovery.find("one", entries).path == tmp_path / "one"
    assert discovery.find(str(tmp_path / "one"), entries).name == "one"
    with pytest.raises(discovery.ModelProblem, match="the model folders hold: one"):
        discovery.find("two", entries)
    with pytest.raises(discovery.ModelProblem, match="no models were found"):
        discovery.find("two", [])


def test_quick_hash_reads_the_block_at_one_mebibyte(tmp_path):
    import hashlib

    data = bytes(range(256)) * (5 << 12)  # 5 MiB
    path = tmp_path / "big.safetensors"
    path.write_bytes(data)
    expected = hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    assert discovery.quick_hash(path) == expected
