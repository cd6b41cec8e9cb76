"""`studio upscale` and `studio batch`: folders enlarged, or run through image to image,
headless, one job per image; on a local Ray cluster the same files as here."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from plugins.style_transfer import samples
from studio.cli import EXIT_FAILED, EXIT_USAGE, main
from studio.core.metadata import read_studio_record
from tests.t2i_tiny import build_pipeline

FAST = "R-ESRGAN AnimeVideo"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    samples.photo(48, 32).save(folder / "lake.png")
    samples.photo(40, 40, seed=2).convert("RGB").save(folder / "hill.jpg", quality=90)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not the rest of a PNG")
    return folder


def test_a_folder_upscaled_to_exact_sizes_with_a_broken_file_reported(
    photos, tmp_path, capsys, models_dir
):
    out = tmp_path / "out"
    code = main(["upscale", str(photos), "--out", str(out), "--upscaler", FAST, "--scale", "2.5",
                 "--device", "cpu", "-q"])  # fmt: skip
    assert code == EXIT_FAILED
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["hill-100x100.png", "lake-120x80.png"]
    assert "broken.png" in captured.err and "Traceback" not in captured.err
    with Image.open(out / "lake-120x80.png") as image:
        record = read_studio_record(image)
        assert image.size == (120, 80)
    assert record["params"]["upscaler"] == FAST and record["params"]["scale"] == 2.5
    assert record["params"]["image"] == "lake.png"


def test_bad_settings_are_refused_before_anything_runs(photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["upscale", str(photos), "--out", str(out), "--scale", "99", "-q"]) == EXIT_USAGE
    assert "out of range" in capsys.readouterr().err
    assert main(["upscale", str(photos), "--out", str(out), "--tile", "100", "-q"]) == EXIT_USAGE
    assert "'100' is not one of" in capsys.readouterr().err


@pytest.mark.slow
def test_t2i_image_to_image_over_a_folder(photos, tmp_path, monkeypatch, capsys):
    models = tmp_path / "models"
    build_pipeline(models / "tiny-sd")
    monkeypatch.setenv("STUDIO_MODEL_PATHS", str(models))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))
    out = tmp_path / "out"
    settings = [f"model={models / 'tiny-sd'}", "prompt=a cat", "steps=2", "width=64",
                "height=64", "strength=0.5", "seed=3"]  # fmt: skip
    args = ["batch", "text_to_image", str(photos / "lake.png"), str(photos / "hill.jpg"),
            "--out", str(out), "--device", "cpu", "-q"]  # fmt: skip
    assert main(args + [a for s in settings for a in ("--set", s)]) == 0, capsys.readouterr().err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["hill-text_to_image.png", "lake-text_to_image.png"]
    for name, source in zip(names, ("hill.jpg", "lake.png"), strict=True):
        with Image.open(out / name) as image:
            record = read_studio_record(image)
            assert image.size == (64, 64)
        assert record["params"]["init_image"] == source and record["params"]["strength"] == 0.5


@pytest.mark.slow
def test_upscale_on_a_local_cluster_writes_what_a_local_run_writes(
    local_ray, models_dir, photos, tmp_path
):
    (photos / "broken.png").unlink()
    here, there = tmp_path / "here", tmp_path / "there"
    common = ["upscale", str(photos), "--upscaler", FAST, "--scale", "2", "--device", "cpu", "-q"]
    assert main([*common, "--out", str(here)]) == 0
    # one worker: sharing jobs out among several is test_cluster.py's
    assert main([*common, "--out", str(there), "--cluster", "local", "--workers", "1"]) == 0
    names = sorted(p.name for p in here.iterdir())
    assert names == sorted(p.name for p in there.iterdir()) == ["hill-80x80.png", "lake-96x64.png"]
    for name in names:
        with Image.open(here / name) as a, Image.open(there / name) as b:
            assert np.array_equal(np.asarray(a), np.asarray(b)), name
