"""`studio stylize`: files and folders restyled headless, one job per image."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from plugins.style_transfer import samples
from studio.cli import EXIT_FAILED, EXIT_USAGE, main
from studio.core.metadata import read_studio_record


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    return home


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    samples.photo(96, 64).save(folder / "lake.png")
    samples.photo(80, 80, seed=2).convert("RGB").save(folder / "hill.jpg", quality=90)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not the rest of a PNG")
    (folder / "sub").mkdir()
    samples.photo(72, 48, seed=4).save(folder / "sub" / "deep.png")
    return folder


@pytest.fixture
def painting(tmp_path):
    path = tmp_path / "painting.png"
    samples.painting(96).save(path)
    return path


def stylize(*args):
    return main(["stylize", *map(str, args), "--device", "cpu", "-q"])


def test_a_folder_with_a_broken_file(photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert stylize(photos, "--style", "7", "--out", out) == EXIT_FAILED
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["hill-styled.png", "lake-styled.png"]
    assert "broken.png" in captured.err and "1 input(s) failed" in captured.err
    assert "lake" not in captured.err and "Traceback" not in captured.err
    assert "Wrote 2 file(s)" in captured.out
    with Image.open(out / "lake-styled.png") as image:
        assert image.size == (96, 64)
        record = read_studio_record(image)
    assert record["generator"] == "style_transfer"
    assert record["params"]["model"] == "builtin" and record["params"]["styles"] == "7"
    assert record["params"]["image"] == "lake.png"  # written files name inputs, not paths
    digest = hashlib.sha256((photos / "lake.png").read_bytes()).hexdigest()
    assert record["inputs"]["image"] == {"file": "lake.png", "sha256": digest}
    with Image.open(out / "hill-styled.png") as image:
        assert image.size == (80, 80)


def test_recursive_takes_sub_folders_and_names_follow_the_template(photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = stylize(
        photos, "-r", "--style", "3:0.5,12:0.5", "--out", out, "--name", "{index}-{source}"
    )
    assert code == EXIT_FAILED  # broken.png is still there
    # sorted: broken.png (refused up front), then hill.jpg, lake.png, sub/deep.png
    assert sorted(p.name for p in out.iterdir()) == [
        "0001-hill.png",
        "0002-lake.png",
        "0003-deep.png",
    ]
    with Image.open(out / "0003-deep.png") as image:
        assert read_studio_record(image)["params"]["styles"] == "3:0.5,12:0.5"
    assert "broken.png" in capsys.readouterr().err


def test_good_files_only_succeed_and_never_overwrite(photos, tmp_path, capsys):
    out = tmp_path / "out"
    for _ in range(2):
        assert stylize(photos / "lake.png", "--style", "0", "--out", out, "--strength", "0.5") == 0
    assert sorted(p.name for p in out.iterdir()) == ["lake-styled-2.png", "lake-styled.png"]
    assert capsys.readouterr().err.count("failed") == 0


def test_a_painting_file_as_the_style(photos, painting, tmp_path, capsys):
    out = tmp_path / "out"
    code = stylize(photos / "lake.png", photos / "hill.jpg", "--style", painting, "--out", out)
    assert code == 0, capsys.readouterr().err
    with Image.open(out / "lake-styled.png") as image:
        record = read_studio_record(image)
        assert image.size == (96, 64)
    assert record["params"]["model"] == "arbitrary"
    assert record["params"]["style_image"] == "painting.png"
    assert (out / "hill-styled.png").is_file()


def test_keep_colours_and_max_side_reach_the_generator(tmp_path, capsys):
    samples.photo(600, 400).save(tmp_path / "big.png")
    out = tmp_path / "out"
    code = stylize(
        tmp_path / "big.png", "--style", "5", "--max-side", "512", "--keep-colours", "--out", out
    )
    assert code == 0, capsys.readouterr().err
    with Image.open(out / "big-styled.png") as image:
        assert image.size == (512, 341)
        params = read_studio_record(image)["params"]
    assert params["keep_colours"] is True and params["max_side"] == 512


@pytest.mark.parametrize(
    ("style", "message"),
    [
        ("99", "99 is out of range 0..25"),
        ("3:0,12:0", "(styles): pick at least one with a weight above 0"),
        ("3:-1", "neither an image file nor a style number"),
        ("nowhere.png", "neither an image file nor a style number"),
    ],
)
def test_a_bad_style_is_a_usage_error(photos, tmp_path, capsys, style, message):
    out = tmp_path / "out"
    assert stylize(photos, "--style", style, "--out", out) == EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_no_style_is_a_usage_error(photos, tmp_path, capsys):
    assert stylize(photos, "--out", tmp_path / "out") == EXIT_USAGE
    assert "--style is required" in capsys.readouterr().err


def test_missing_inputs_are_named(photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert stylize(tmp_path / "gone.png", "--style", "7", "--out", out) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "gone.png" in err and "no such file or folder" in err and "no images" in err
    assert stylize(tmp_path / "gone.png", photos / "lake.png", "--style", "7", "--out", out) == 1
    captured = capsys.readouterr()
    assert "gone.png" in captured.err and "lake" not in captured.err
    assert [p.name for p in out.iterdir()] == ["lake-styled.png"]


def test_a_bad_name_template_is_a_usage_error(photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = stylize(photos / "lake.png", "--style", "7", "--out", out, "--name", "{nope}")
    assert code == EXIT_USAGE
    assert "{nope}" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())
