"""Batch export: formats and metadata, names, never overwriting, manifest, cancel, failures."""

from __future__ import annotations

import csv
import errno
import json
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from studio.core.batch_export import (
    ExportItem,
    ExportOptions,
    export_items,
    preview_name,
    render_name,
)
from studio.core.export import ExportError
from studio.core.metadata import read_studio_record

CREATED = 1_700_000_000.25
WHEN = datetime(2030, 1, 2, 3, 4, 5)


def make_record(seed: int = 7, prompt: str | None = None, **extra) -> dict:
    record = {
        "generator": "gan_faces",
        "generator_title": "GAN faces",
        "generator_version": "1.0",
        "method": "sample",
        "index": 0,
        "params": {"prompt": prompt} if prompt is not None else {"count": 4},
        "seed": seed,
        "model": "dcgan",
        "model_hash": "abc123",
        "device": "cpu",
        "width": 32,
        "height": 32,
        "created": CREATED,
    }
    record.update(extra)
    return record


def make_image(i: int = 0, mode: str = "RGB") -> Image.Image:
    """32x32 with detail (so JPEG quality matters), different for each i."""
    data = bytes((i * 37 + k * 13 + (k * k) % 251) % 256 for k in range(32 * 32 * 3))
    image = Image.frombytes("RGB", (32, 32), data)
    return image if mode == "RGB" else image.convert(mode)


def make_items(n: int, mode: str = "RGB", prompt: str | None = None) -> list[ExportItem]:
    return [
        ExportItem(i + 1, make_record(100 + i, prompt), lambda i=i: make_image(i, mode))
        for i in range(n)
    ]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- formats and metadata


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_every_format_keeps_our_record_and_the_scaled_size(tmp_path, fmt, mode):
    items = make_items(2, mode, prompt="a red fox")
    report = export_items(items, tmp_path, ExportOptions(fmt=fmt, scale=1.5))
    assert report.error is None and not report.cancelled and len(report.written) == 2
    for item, path in zip(items, report.written, strict=True):
        with Image.open(path) as image:
            assert image.format == fmt.upper() and image.size == (48, 48)
            record = read_studio_record(image)
        assert record is not None, f"{fmt}: no record read back"
        assert record["seed"] == item.record["seed"]
        assert record["params"] == {"prompt": "a red fox"}
        assert (record["width"], record["height"]) == (48, 48)
        assert record["exported_from"] == item.item_id
    assert item.record["width"] == 32  # the caller's record is left as it was


def test_scaling_down_keeps_at_least_one_pixel(tmp_path):
    item = ExportItem(1, make_record(), lambda: Image.new("RGB", (3, 40), "blue"))
    (path,) = export_items([item], tmp_path, ExportOptions(scale=0.1)).written
    with Image.open(path) as image:
        assert image.size == (1, 4)


def test_jpeg_quality_changes_the_file_size(tmp_path):
    item = make_items(1)
    low = export_items(item, tmp_path / "low", ExportOptions(fmt="jpeg", quality=20))
    high = export_items(item, tmp_path / "high", ExportOptions(fmt="jpeg", quality=95))
    assert low.written[0].stat().st_size < 0.7 * high.written[0].stat().st_size


def test_lossless_webp_round_trips_the_pixels(tmp_path):
    options = ExportOptions(fmt="webp", lossless=True)
    (path,) = export_items(make_items(1), tmp_path, options).written
    with Image.open(path) as image:
        assert image.convert("RGB").tobytes() == make_image(0).tobytes()


def test_jpeg_flattens_transparency_onto_white(tmp_path):
    clear = ExportItem(1, make_record(), lambda: Image.new("RGBA", (16, 16), (255, 0, 0, 0)))
    (path,) = export_items([clear], tmp_path, ExportOptions(fmt="jpeg")).written
    with Image.open(path) as image:
        assert image.mode == "RGB"
        assert all(value > 245 for value in image.getpixel((8, 8)))


def test_palette_and_greyscale_images_export_to_every_format(tmp_path):
    palette = Image.new("P", (16, 16), 3)
    palette.info["transparency"] = 3
    loads = [lambda: palette.copy(), lambda: Image.new("LA", (16, 16), (90, 128))]
    items = [ExportItem(i, make_record(i), load) for i, load in enumerate(loads)]
    for fmt in ("png", "jpeg", "webp"):
        report = export_items(items, tmp_path / fmt, ExportOptions(fmt=fmt, scale=2))
        assert report.error is None and len(report.written) == 2


# ---------------------------------------------------------------- names


def test_template_tokens(tmp_path):
    record = make_record(42, prompt="A cat,  sitting\ton a mat", model="tiny-sd", width=96)
    template = "{index}_{seed}_{generator}_{model}_{prompt}_{date}_{time}_{w}x{h}"
    local = datetime.fromtimestamp(CREATED)
    expected = (
        f"0003_42_gan_faces_tiny-sd_A_cat,_sitting_on_a_mat_{local:%Y-%m-%d}_{local:%H-%M-%S}_96x32"
    )
    assert render_name(template, record, 3, WHEN) == expected


def test_prompt_falls_back_to_the_title_and_time_to_the_export_start():
    record = make_record(prompt="   ")
    del record["created"]
    assert render_name("{prompt} {date} {time}", record, 1, WHEN) == "GAN_faces_2030-01-02_03-04-05"


def test_missing_values_leave_no_dangling_separators_and_never_an_empty_name():
    record = make_record(seed=None, model=None)
    assert render_name("{index}-{generator}-{seed}", record, 1, WHEN) == "0001-gan_faces"
    assert render_name("{model}", record, 1, WHEN) == "image"
    assert render_name("...", record, 1, WHEN) == "image"


@pytest.mark.parametrize(
    ("template", "fields"),
    [
        ("{prompt}", {"params": {"prompt": "../../etc/passwd"}}),
        ("{prompt}", {"params": {"prompt": "/absolute/path"}}),
        ("{prompt}", {"params": {"prompt": ".."}}),
        ("{generator}", {"generator": "..\\..\\windows"}),
        ("{model}", {"model": "C:\\models\\x"}),
        ("../../{seed}", {}),
        ("/tmp/{seed}", {}),
        ("C:\\temp\\{seed}", {}),
        ("{prompt}", {"params": {"prompt": 'a<b>c:"d"|e?f*g\x00h\x1bi\u200bj'}}),
        ("{prompt}", {"params": {"prompt": "CON"}}),
    ],
)
def test_a_name_never_leaves_the_folder(tmp_path, template, fields):
    name = render_name(template, make_record(**fields), 1, WHEN)
    assert name and not name.startswith((".", " "))
    assert not set(name) & set('<>:"/\\|?*') and name.isprintable()
    assert name.lower() != "con"
    assert (tmp_path / f"{name}.png").resolve().parent == tmp_path.resolve()


def test_an_export_with_an_escaping_template_stays_in_its_folder(tmp_path):
    folder = tmp_path / "out"
    options = ExportOptions(template="../../{prompt}")
    report = export_items(make_items(2, prompt="../up"), folder, options)
    assert [p.parent for p in report.written] == [folder, folder]
    assert names(tmp_path) == ["out"]


def test_long_prompts_are_cut_at_a_word_boundary():
    prompt = " ".join(["portrait"] * 10 + ["of"] * 30 + ["a", "lighthouse"] * 20)
    name = render_name("{prompt}", make_record(prompt=prompt), 1, WHEN)
    assert 30 <= len(name) <= 60 and prompt.replace(" ", "_").startswith(name + "_")


def test_unicode_survives_and_long_names_fit_the_file_system():
    prompt = "Café au lait, 猫が座っている 🐱 e\u0301"
    name = render_name("{prompt}", make_record(prompt=prompt), 1, WHEN)
    assert name == "Café_au_lait,_猫が座っている_🐱_é"
    cjk = render_name("{prompt}" * 9, make_record(prompt="猫" * 500), 1, WHEN)
    assert cjk.startswith("猫" * 60) and len(cjk.encode()) <= 180


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ExportOptions(template="{index}-{colour}"), r"Unknown token \{colour\}"),
        (ExportOptions(template="{seed:08d}"), r"Unknown token \{seed:08d\}"),
        (ExportOptions(template="{seed"), "unmatched brace"),
        (ExportOptions(template="  "), "template is empty"),
        (ExportOptions(fmt="bmp"), "not an export format"),
        (ExportOptions(fmt="jpeg", quality=0), "from 1 to 100"),
        (ExportOptions(quality=101), "from 1 to 100"),
        (ExportOptions(fmt="jpeg", lossless=True), "JPEG cannot be lossless"),
        (ExportOptions(scale=0.05), "between 0.1x and 8x"),
        (ExportOptions(scale=9), "between 0.1x and 8x"),
    ],
)
def test_unusable_options_are_refused_before_anything_is_written(tmp_path, options, message):
    with pytest.raises(ExportError, match=message):
        export_items(make_items(1), tmp_path / "out", options)
    assert not (tmp_path / "out").exists()


def test_jpg_is_accepted_for_jpeg_and_the_preview_matches_the_first_file(tmp_path):
    options = ExportOptions(fmt="JPG", template="{index}-{w}x{h}", scale=2)
    items = make_items(2)
    (first, _second) = export_items(items, tmp_path, options).written
    assert first.name == preview_name(items[0].record, options) == "0001-64x64.jpg"


# ---------------------------------------------------------------- never overwrite


def test_existing_files_are_never_replaced(tmp_path):
    (tmp_path / "0001-gan_faces-100.png").write_bytes(b"old")
    first = export_items(make_items(2), tmp_path, ExportOptions())
    second = export_items(make_items(2), tmp_path, ExportOptions())
    assert (tmp_path / "0001-gan_faces-100.png").read_bytes() == b"old"
    assert [p.name for p in first.written] == ["0001-gan_faces-100-2.png", "0002-gan_faces-101.png"]
    assert [p.name for p in second.written] == [
        "0001-gan_faces-100-3.png",
        "0002-gan_faces-101-2.png",
    ]
    assert len(names(tmp_path)) == 5


def test_a_constant_template_numbers_its_files(tmp_path):
    report = export_items(make_items(3), tmp_path, ExportOptions(template="photo"))
    assert [p.name for p in report.written] == ["photo.png", "photo-2.png", "photo-3.png"]


# ---------------------------------------------------------------- manifest and progress


def test_the_manifest_lists_what_was_written(tmp_path):
    options = ExportOptions(fmt="webp", manifest=True, scale=0.5)
    report = export_items(make_items(3, prompt='Ünïcode, "quoted"'), tmp_path, options)
    csv_path, json_path = report.manifest
    assert (csv_path.name, json_path.name) == ("manifest.csv", "manifest.json")
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    document = json.loads(json_path.read_text(encoding="utf-8"))
    assert [r["file"] for r in rows] == [p.name for p in report.written]
    assert rows[0] == {
        "file": "0001-gan_faces-100.webp",
        "item_id": "1",
        "generator": "gan_faces",
        "seed": "100",
        "prompt": 'Ünïcode, "quoted"',
        "model": "dcgan",
        "width": "16",
        "height": "16",
        "format": "WEBP",
    }
    assert [image["item_id"] for image in document["images"]] == [1, 2, 3]
    assert document["images"][2]["seed"] == 102 and document["images"][2]["width"] == 16
    again = export_items(make_items(1), tmp_path, options)
    assert [p.name for p in again.manifest] == ["manifest-2.csv", "manifest-2.json"]
    with again.manifest[0].open(encoding="utf-8", newline="") as handle:
        assert next(csv.DictReader(handle))["prompt"] == ""  # no prompt: not the title


def test_no_manifest_unless_asked(tmp_path):
    report = export_items(make_items(2), tmp_path, ExportOptions())
    assert report.manifest == [] and len(names(tmp_path)) == 2


def test_progress_follows_each_file(tmp_path):
    calls = []
    export_items(make_items(3), tmp_path, ExportOptions(), progress=lambda *a: calls.append(a))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_cancel_stops_between_files_and_keeps_what_was_written(tmp_path):
    calls = []
    report = export_items(
        make_items(6),
        tmp_path,
        ExportOptions(manifest=True),
        progress=lambda *a: calls.append(a),
        is_cancelled=lambda: len(calls) >= 2,
    )
    assert report.cancelled and report.error is None and len(report.written) == 2
    assert names(tmp_path) == sorted([p.name for p in report.written + report.manifest])
    assert "Cancelled" in report.summary() and "2 of 6" in report.summary()


# ---------------------------------------------------------------- failures


def failing_at(monkeypatch, n: int, nth: int, code: int, strerror: str) -> list[ExportItem]:
    """n items whose nth writes half a file and then fails the way a full disk would."""
    real_save = Image.Image.save

    def save(self, fp, *args, **kwargs):
        if self.info.get("fail"):
            fp.write(b"\x89PNG half a file")
            raise OSError(code, strerror)
        return real_save(self, fp, *args, **kwargs)

    def load_failing():
        image = make_image(nth)
        image.info["fail"] = True
        return image

    monkeypatch.setattr(Image.Image, "save", save)
    items = make_items(n)
    items[nth - 1] = ExportItem(nth, items[nth - 1].record, load_failing)
    return items


def test_a_full_disk_stops_with_a_clear_message_and_no_partial_file(tmp_path, monkeypatch):
    items = failing_at(monkeypatch, 5, 3, errno.ENOSPC, "No space left on device")
    report = export_items(items, tmp_path, ExportOptions(manifest=True))
    assert report.error == (
        f"The disk is full: wrote 2 of 5 images to {tmp_path}; free some space and export again."
    )
    assert not report.cancelled and report.manifest == []
    assert names(tmp_path) == sorted(p.name for p in report.written)  # no temporary file
    for path in report.written:
        with Image.open(path) as image:
            image.verify()


def test_a_read_only_folder_stops_with_a_clear_message(tmp_path, monkeypatch):
    items = failing_at(monkeypatch, 3, 1, errno.EROFS, "Read-only file system")
    report = export_items(items, tmp_path, ExportOptions(fmt="jpeg"))
    assert report.error == (
        f"The folder is on a read-only disk: wrote 0 of 3 images to {tmp_path}; "
        "choose another folder."
    )
    assert report.written == [] and names(tmp_path) == []


def test_a_folder_that_cannot_be_created_is_reported_not_raised(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    report = export_items(make_items(2), blocker, ExportOptions())
    assert report.error is not None and str(blocker) in report.error
    assert "wrote 0 of 2" in report.error and report.written == []


def test_an_image_that_cannot_be_decoded_names_its_item(tmp_path):
    def broken():
        raise OSError("cannot identify image file")

    items = [*make_items(1), ExportItem(9, make_record(), broken)]
    report = export_items(items, tmp_path, ExportOptions())
    assert report.error == (
        f"Could not export image 9: cannot identify image file; "
        f"wrote 1 of 2 images to {tmp_path} before stopping."
    )
    assert names(tmp_path) == ["0001-gan_faces-100.png"]


def test_a_too_large_webp_is_refused_with_advice(tmp_path):
    item = ExportItem(1, make_record(), lambda: Image.new("RGB", (4000, 1), "red"))
    report = export_items([item], tmp_path, ExportOptions(fmt="webp", scale=5))
    assert "at most 16383 pixels" in report.error and "smaller scale" in report.error
    assert names(tmp_path) == []
