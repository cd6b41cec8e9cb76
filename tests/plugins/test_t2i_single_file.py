"""Single-file checkpoints in the original (A1111/CompVis) layout, through the text-to-image
plugin: a tiny random SD 1.x model, saved as a diffusers folder and as one .safetensors file
with the same weights under the original names, loads and runs the same both ways. Offline."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.t2i_single import (
    build_sd_layout_pipeline,
    original_state_dict,
    write_original_checkpoint,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REQUEST = {"prompt": "a cat", "steps": 2, "width": 64, "height": 64, "seed": 1}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """<root>/sd1-tiny (diffusers folder) and <root>/tiny-original.safetensors, built once."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny model's ops are microseconds: threads only add waiting
    base = tmp_path_factory.mktemp("t2i_single")
    root = base / "models"
    folder = build_sd_layout_pipeline(root / "sd1-tiny")
    single = write_original_checkpoint(folder, root / "tiny-original.safetensors")
    yield SimpleNamespace(base=base, root=root, folder=folder, file=single)
    from plugins.text_to_image import pipelines

    pipelines.shared.unload()
    torch.set_num_threads(threads)


@pytest.fixture
def studio_env(tiny, tmp_path, monkeypatch):
    """Studio searching only `tiny.root`: its own settings, an empty Hugging Face cache."""
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hf-cache"))
    monkeypatch.setenv("STUDIO_MODEL_PATHS", str(tiny.root))
    models_dir = tmp_path / "studio-models"
    models_dir.mkdir()
    return models_dir


def _run(model: Path, models_dir: Path) -> np.ndarray:
    from plugins.text_to_image.generator import TextToImage
    from studio.core.devices import CPU
    from studio.core.generator import Context

    g = TextToImage()
    request = g.make_request({"model": str(model), **REQUEST})
    results = g.run(request, Context(CPU, models_dir))
    assert len(results) == 1
    image = results[0].image
    assert image.size == (64, 64)
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def _same_pixels(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape == (64, 64, 3)
    assert int(np.abs(a - b).max()) <= 2
    assert a.std() > 0  # a real picture, not a blank


# ---------------------------------------------------------------- the file itself


def test_the_original_layout_loads_with_exactly_the_folders_weights(tiny):
    import torch
    from diffusers import StableDiffusionPipeline
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type
    from safetensors.torch import load_file

    original = load_file(str(tiny.file))
    assert infer_diffusers_model_type(original) == "v1"
    assert any(k.startswith("model.diffusion_model.input_blocks.") for k in original)
    assert "first_stage_model.decoder.mid.attn_1.q.weight" in original
    assert original["first_stage_model.decoder.mid.attn_1.q.weight"].ndim == 4
    assert any(k.startswith("cond_stage_model.transformer.text_model.") for k in original)

    pipe = StableDiffusionPipeline.from_single_file(
        str(tiny.file),
        config=str(tiny.folder),
        local_files_only=True,
        safety_checker=None,
        requires_safety_checker=False,
    )
    for part in ("unet", "vae", "text_encoder"):
        (saved,) = sorted((tiny.folder / part).glob("*.safetensors"))
        expected = load_file(str(saved))
        loaded = getattr(pipe, part).state_dict()
        assert set(expected) <= set(loaded), part
        assert set(loaded) - set(expected) <= {"embeddings.position_ids"}, part
        different = [k for k, v in expected.items() if not torch.equal(loaded[k], v)]
        assert not different, f"{part}: {different[:5]}"


# ---------------------------------------------------------------- discovery


def test_discovery_gives_the_file_studios_configuration_and_its_local_folder(tiny, studio_env):
    from plugins.text_to_image import discovery
    from plugins.text_to_image.components import CONFIGS

    entries = {e.path.resolve(): e for e in discovery.scan([tiny.root])}
    entry = entries[tiny.file.resolve()]
    assert (entry.kind, entry.family, entry.variant, entry.problem) == ("file", "sd1", "sd1", None)
    assert entry.config == CONFIGS / "sd1"
    assert entry.paired is not None and entry.paired.resolve() == tiny.folder.resolve()
    folder = entries[tiny.folder.resolve()]
    assert (folder.kind, folder.family, folder.problem) == ("folder", "sd1", None)


def test_a_file_of_another_shape_without_its_folder_says_it_does_not_fit(
    tiny, studio_env, tmp_path, monkeypatch
):
    from studio.core.generator import GeneratorError

    alone = tmp_path / "alone"
    alone.mkdir()
    single = Path(shutil.copy(tiny.file, alone / tiny.file.name))
    monkeypatch.setenv("STUDIO_MODEL_PATHS", str(alone))
    # Studio's SD 1.x configuration is the real architecture's: this tiny file does not fit it
    with pytest.raises(GeneratorError, match="could not be loaded: .*expected shape"):
        _run(single, studio_env)


def test_without_the_tokenizer_or_a_folder_the_message_says_how_to_install_it(
    tiny, studio_env, tmp_path, monkeypatch
):
    from studio.core.generator import GeneratorError

    alone = tmp_path / "alone"
    alone.mkdir()
    single = Path(shutil.copy(tiny.file, alone / tiny.file.name))
    monkeypatch.setenv("STUDIO_MODEL_PATHS", str(alone))
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path / "no-defaults"))
    with pytest.raises(GeneratorError, match="studio models install-defaults"):
        _run(single, studio_env)


# ---------------------------------------------------------------- running


def test_the_single_file_and_the_folder_make_the_same_picture(tiny, studio_env):
    from_file = _run(tiny.file, studio_env)
    from_folder = _run(tiny.folder, studio_env)
    _same_pixels(from_file, from_folder)


def test_a_ckpt_of_the_same_weights_loads_weights_only(tiny, studio_env, tmp_path):
    import torch

    ckpt = tmp_path / "tiny-original.ckpt"
    torch.save({"state_dict": original_state_dict(tiny.folder)}, ckpt)
    _same_pixels(_run(ckpt, studio_env), _run(tiny.folder, studio_env))


class _Payload:
    """Unpickling this calls print("pwned"): harmless, and visible if it ever runs."""

    def __reduce__(self):
        return (print, ("pwned",))


def test_a_ckpt_with_code_in_its_pickle_is_refused_unrun(tiny, studio_env, tmp_path, capfd):
    import torch

    from studio.core.generator import GeneratorError

    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"model.diffusion_model.x": _Payload()}}, evil)
    assert "pwned" not in capfd.readouterr().out  # saving does not run it either
    with pytest.raises(GeneratorError, match="cannot be read safely") as caught:
        _run(evil, studio_env)
    assert "weights only" in str(caught.value)
    captured = capfd.readouterr()
    assert "pwned" not in captured.out
    assert "pwned" not in captured.err
