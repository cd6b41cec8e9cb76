"""Other tools' installs, on fake trees of each layout, and restoring what an image names
against the files the user has."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

from plugins.text_to_image import installs
from plugins.text_to_image.generator import TextToImage


def tree(root, *paths):
    for path in paths:
        target = root / path
        if path.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("")
    return root


LAYOUTS = {
    "AUTOMATIC1111": (
        ["webui.py", "models/Stable-diffusion/", "models/Lora/", "models/VAE/", "embeddings/"],
        {
            "checkpoints": "models/Stable-diffusion",
            "LoRAs": "models/Lora",
            "embeddings": "embeddings",
            "VAEs": "models/VAE",
        },
    ),
    "Forge": (
        ["modules_forge/", "models/Stable-diffusion/", "models/Lora/", "models/LyCORIS/"],
        {"checkpoints": "models/Stable-diffusion", "LoRAs": "models/Lora|models/LyCORIS"},
    ),
    "ComfyUI": (
        ["main.py", "comfy/", "models/checkpoints/", "models/loras/", "models/embeddings/",
         "models/vae/", "models/diffusers/"],
        {
            "checkpoints": "models/checkpoints",
            "diffusers models": "models/diffusers",
            "LoRAs": "models/loras",
            "embeddings": "models/embeddings",
            "VAEs": "models/vae",
        },
    ),
    "InvokeAI": (
        ["invokeai.yaml", "models/sd-1/main/", "models/sd-1/lora/", "models/sdxl/main/",
         "models/sdxl/embedding/", "models/sd-1/vae/"],
        {
            "checkpoints": "models/sd-1/main|models/sdxl/main",
            "LoRAs": "models/sd-1/lora",
            "embeddings": "models/sdxl/embedding",
            "VAEs": "models/sd-1/vae",
        },
    ),
    "Fooocus": (
        ["entry_with_update.py", "fooocus_version.py", "models/checkpoints/", "models/loras/",
         "models/embeddings/", "models/vae/"],
        {
            "checkpoints": "models/checkpoints",
            "LoRAs": "models/loras",
            "embeddings": "models/embeddings",
            "VAEs": "models/vae",
        },
    ),
}  # fmt: skip


@pytest.mark.parametrize("tool", list(LAYOUTS))
def test_each_tools_folders_are_found_by_their_own_names(tool, tmp_path):
    paths, expected = LAYOUTS[tool]
    root = tree(tmp_path / f"my-{tool.lower()}", *paths)
    found = TextToImage().find_install(root)
    assert found is not None and found.tool == tool
    got: dict[str, list[str]] = {}
    for what, folder in found.folders:
        got.setdefault(what, []).append(folder.relative_to(root).as_posix())
    assert {k: "|".join(v) for k, v in got.items()} == expected


def test_a_portable_comfyui_is_found_one_level_down_and_other_folders_are_not_installs(tmp_path):
    root = tree(tmp_path / "ComfyUI_windows_portable", "ComfyUI/models/checkpoints/", "README.txt")
    found = installs.find(root)
    assert found.tool == "ComfyUI" and found.folders[0][1] == root / "ComfyUI/models/checkpoints"
    assert installs.find(tree(tmp_path / "photos", "a.png")) is None
    assert installs.find(tmp_path / "missing") is None


def lora_file(path, tag="ink"):
    save_file({f"lora_unet_{tag}.lora_down.weight": np.zeros((2, 2), np.float32)}, str(path))
    return path


def test_studio_models_add_adds_an_installs_folders(tmp_path, monkeypatch, capsys):
    from studio.cli import main
    from studio.core import config

    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    root = tree(tmp_path / "stable-diffusion-webui", "models/Stable-diffusion/", "models/Lora/")
    assert main(["models", "add", str(root)]) == 0
    out = capsys.readouterr().out
    assert "Found AUTOMATIC1111" in out and "LoRAs:" in out
    assert root.resolve() / "models/Lora" in config.model_paths()
    assert main(["models", "add", str(root)]) == 0
    assert "already added" in capsys.readouterr().out
    assert main(["models", "add", str(tmp_path / "nothing")]) == 2


# ---------------------------------------------------------------- restoring an image's settings


@pytest.fixture
def library_root(tmp_path, monkeypatch):
    root = tmp_path / "models"
    (root / "Lora").mkdir(parents=True)
    lora_file(root / "Lora" / "ink.safetensors")
    (root / "VAE").mkdir()
    save_file(
        {"encoder.conv_in.weight": np.zeros((2, 2), np.float32)},
        str(root / "VAE" / "mse.safetensors"),
    )
    monkeypatch.setenv("STUDIO_MODEL_PATHS", str(root))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))
    return root


def test_restoring_keeps_the_current_model_when_the_image_names_a_missing_one(library_root):
    values = {"model": "dreamshaper_8", "scheduler": "dpmpp_2m_karras", "steps": 20}
    restored, notes = TextToImage().restore(values, None, {"model_hash": "879db523c3"})
    assert "model" not in restored  # the form keeps the model it has
    assert (restored["scheduler"], restored["schedule"]) == ("dpmpp_2m", "karras")
    assert any(
        "'dreamshaper_8' (hash 879db523c3), which is not in your model folders" in n for n in notes
    )


def test_restoring_names_the_missing_loras_embeddings_and_vae_and_uses_those_present(library_root):
    values = {"prompt": "a cat <lora:ink:0.7> <lora:gone:1>", "vae": "mse.safetensors"}
    carried = {"ti_hashes": "EasyNegative: 0123456789ab", "lora_hashes": "ink: abc, gone: def"}
    restored, notes = TextToImage().restore(values, None, carried)
    assert restored["vae"] == str(library_root / "VAE" / "mse.safetensors")
    assert "LoRA not in your model folders: gone" in notes
    assert "Embedding not in your model folders: EasyNegative" in notes
    _, notes = TextToImage().restore({"vae": "other.pt"}, None, {})
    assert notes == ["The image used the VAE 'other.pt', which is not in your model folders"]


def test_restoring_an_a1111_19_image_takes_its_schedule_type(library_root):
    restored, _ = TextToImage().restore({"scheduler": "dpmpp_2m"}, None, {"scheduler": "Karras"})
    assert (restored["scheduler"], restored["schedule"]) == ("dpmpp_2m", "karras")
    restored, _ = TextToImage().restore({}, None, {"schedule": "Exponential"})
    assert restored["schedule"] == "exponential"
