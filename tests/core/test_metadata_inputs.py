"""Written files name input and model files, never their folders; the project keeps the paths.
Input images are also named by the SHA-256 of the picture that was used."""

from __future__ import annotations

import hashlib
import json

import pytest
from PIL import Image

from studio.core.batch_export import ExportItem, ExportOptions, export_items
from studio.core.export import save_image_as, save_result_png
from studio.core.generator import ImageParam, ModelParam, Result, TextParam
from studio.core.metadata import result_record
from studio.core.metadata_inputs import is_local_path, public_record
from studio.core.metadata_read import read_metadata
from studio.core.metadata_restore import restore_values
from studio.core.project import Project

SPECS = [
    ImageParam(name="image", role="content"),
    ImageParam(name="style_image", role="style", optional=True),
    ModelParam(name="model", kind="style"),
    TextParam(name="prompt"),
]


@pytest.fixture
def result(tmp_path):
    photos = tmp_path / "home" / "ann" / "Photos"
    photos.mkdir(parents=True)
    Image.new("RGB", (20, 10), "orange").save(photos / "holiday.png")
    Image.new("RGB", (8, 8), "blue").save(photos / "wave.jpg")
    params = {
        "image": str(photos / "holiday.png"),
        "style_image": str(photos / "wave.jpg"),
        "model": str(tmp_path / "home" / "ann" / "models" / "starry.safetensors"),
        "prompt": "/imagine a cat, by the sea",  # starts with "/" but is no path
    }
    return Result(
        image=Image.new("RGB", (20, 10), "red"),
        generator="style_transfer",
        generator_version="1",
        params=params,
        seed=0,
        model_name=str(tmp_path / "home" / "ann" / "models" / "starry.safetensors"),
        title="Style transfer",
    )


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def assert_no_folder_in(data: bytes, tmp_path) -> None:
    for needle in (str(tmp_path), "home/ann", "Photos"):
        assert needle.encode() not in data
        assert needle.encode("utf-16-be") not in data  # the JPEG/WebP A1111 comment


def test_the_project_keeps_full_paths_and_the_hash_of_each_input(result, tmp_path):
    project = Project.open(tmp_path / "p.studio", create=True)
    (item,) = project.add_results([result])
    record = project.record(item)
    assert record["params"] == result.params  # the project may keep the full path
    assert record["inputs"] == {
        "image": {"file": "holiday.png", "sha256": sha256(result.params["image"])},
        "style_image": {"file": "wave.jpg", "sha256": sha256(result.params["style_image"])},
    }
    assert_no_folder_in(project.png(item), tmp_path)  # the stored PNG is a file too


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_exported_files_and_manifests_name_files_without_their_folders(fmt, result, tmp_path):
    record = result_record(result)
    item = ExportItem(1, record, lambda: result.image)
    out = tmp_path / "export"
    options = ExportOptions(fmt=fmt, manifest=True, template="{index}-{model}")
    report = export_items([item], out, options, workers=1)
    assert report.error is None and len(report.written) == 1
    for path in [*report.written, *report.manifest]:
        assert_no_folder_in(path.read_bytes(), tmp_path)
    meta = read_metadata(report.written[0])
    assert meta.params["image"] == "holiday.png" and meta.params["model"] == "starry.safetensors"
    assert meta.params["prompt"] == "/imagine a cat, by the sea"
    assert meta.record["inputs"]["image"]["sha256"] == sha256(result.params["image"])
    assert meta.record["model"] == "starry.safetensors"
    manifest = json.loads(report.manifest[1].read_text())
    assert manifest["images"][0]["model"] == "starry.safetensors"


def test_save_as_and_the_command_line_output_name_files_only(result, tmp_path):
    written = [
        save_image_as(result.image, result_record(result), tmp_path / "a.jpg"),
        save_result_png(result, tmp_path, "b"),
    ]
    for path in written:
        assert_no_folder_in(path.read_bytes(), tmp_path)
        assert read_metadata(path).params["style_image"] == "wave.jpg"


def test_restoring_an_exported_image_asks_for_inputs_that_are_not_on_disk(result, tmp_path):
    path = save_image_as(result.image, result_record(result), tmp_path / "shared.png")
    values, notes = restore_values(read_metadata(path), SPECS, title="Style transfer")
    assert "image" not in values and "style_image" not in values
    digest = sha256(result.params["image"])[:12]
    assert f"Image 'holiday.png' (SHA-256 {digest}…) is not on this computer" in notes[0]
    assert values["prompt"] == "/imagine a cat, by the sea"


def test_a_record_with_a_path_still_on_disk_restores_it(result):
    from studio.core.metadata import ImageMetadata

    meta = ImageMetadata(source_format="studio", generator="style_transfer", params=result.params)
    values, notes = restore_values(meta, SPECS)
    assert values["image"] == result.params["image"] and notes == []


@pytest.mark.parametrize(
    ("value", "is_path"),
    [
        ("/home/ann/a.png", True),
        ("C:\\Users\\Ann\\Pictures\\a.png", True),
        ("\\\\server\\share\\a.png", True),
        ("~/Pictures/a.png", True),
        ("file:///home/ann/a.png", True),
        ("/a.safetensors", True),
        ("/imagine a cat", False),
        ("a cat/dog", False),
        ("holiday.png", False),
        ("/home/ann/a.png\nsecond line", False),
        (7, False),
    ],
)
def test_what_counts_as_a_local_path(value, is_path):
    assert is_local_path(value) is is_path


def test_a_record_without_paths_is_written_unchanged():
    record = {"generator": "g", "params": {"prompt": "a/b", "seed": 1}, "model": "v1-5"}
    assert public_record(record) is record
    windows = {"params": {"image": "C:\\Users\\Ann\\a.png"}, "infotext": {"VAE": "/m/vae.pt"}}
    assert public_record(windows) == {"params": {"image": "a.png"}, "infotext": {"VAE": "vae.pt"}}
