from __future__ import annotations

import pytest
from PIL import Image

from studio.core.export import (
    ExportError,
    check_writable,
    save_animation,
    save_result_as,
    save_result_png,
    unique_path,
)
from studio.core.generator import Result
from studio.core.metadata import read_studio_record


def make_result(colour="red", seed=1):
    return Result(Image.new("RGB", (8, 8), colour), "solid", "1", {"seed": seed}, seed)


def test_unique_path_never_reuses_a_name(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "a-2.png").write_bytes(b"x")
    assert unique_path(tmp_path, "a", ".png").name == "a-3.png"


def test_png_carries_the_record_and_leaves_no_temporary_file(tmp_path):
    path = save_result_png(make_result(seed=77), tmp_path, "x")
    with Image.open(path) as image:
        assert read_studio_record(image)["seed"] == 77
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_animation_has_every_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "green", "blue")]
    for fmt in ("gif", "webp"):
        with Image.open(save_animation(frames, tmp_path / f"anim.{fmt}")) as image:
            assert image.n_frames == 3 and image.info.get("loop") == 0
    with pytest.raises(ExportError, match=".gif or .webp"):
        save_animation(frames, tmp_path / "anim.avi")


def test_an_animation_never_replaces_a_file_unless_asked(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "green")]
    first = save_animation(frames, tmp_path / "a.gif")
    second = save_animation(frames, tmp_path / "a.gif")
    assert (first.name, second.name) == ("a.gif", "a-2.gif")
    assert save_animation(frames[:1], tmp_path / "a.gif", overwrite=True) == first
    with Image.open(first) as image:
        assert image.n_frames == 1


def test_exports_get_the_usual_file_mode_not_0600(tmp_path):
    import os

    path = save_result_png(make_result(), tmp_path, "mode")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_failing_encoder_leaves_no_temporary_file(tmp_path):
    from studio.core.export import write_atomic

    def broken(handle):
        handle.write(b"half")
        raise ValueError("encoder bug")

    with pytest.raises(ValueError):
        write_atomic(tmp_path / "x.png", broken)
    assert list(tmp_path.iterdir()) == []


def test_without_hard_links_the_name_is_reserved_instead(tmp_path, monkeypatch):
    import errno
    import os

    def no_links(*_args):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "x.png").write_bytes(b"old")
    path = save_result_png(make_result(), tmp_path, "x")
    assert path.name == "x-2.png" and (tmp_path / "x.png").read_bytes() == b"old"
    with Image.open(path) as image:
        assert image.size == (8, 8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x-2.png", "x.png"]


def test_unwritable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ExportError, match="Cannot write to"):
        check_writable(blocker / "sub")


def test_save_as_follows_the_suffix(tmp_path):
    result = make_result()
    with Image.open(save_result_as(result, tmp_path / "a.jpg")) as image:
        assert image.format == "JPEG"
    with pytest.raises(ExportError, match=".png, .jpg or .webp"):
        save_result_as(result, tmp_path / "a.bmp")


def test_writing_into_a_missing_or_blocked_folder_is_an_export_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ExportError, match="Cannot write"):
        save_result_as(make_result(), blocker / "x.png")
    with pytest.raises(ExportError, match="Cannot write"):
        save_result_png(make_result(), blocker, "x")


def test_a_name_taken_while_writing_gets_the_next_suffix_of_the_original(tmp_path, monkeypatch):
    import os

    from studio.core.export import write_atomic

    (tmp_path / "a.png").write_bytes(b"1")
    real_link = os.link

    def link(source, target):
        if os.path.basename(target) == "a-2.png" and not (tmp_path / "a-2.png").exists():
            (tmp_path / "a-2.png").write_bytes(b"2")  # another writer takes it first
        return real_link(source, target)

    monkeypatch.setattr(os, "link", link)
    path = write_atomic(tmp_path / "a.png", lambda handle: handle.write(b"new"))
    assert path.name == "a-3.png" and path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-2.png", "a-3.png", "a.png"]


def test_write_atomic_keeps_the_errno_for_callers(tmp_path, monkeypatch):
    import errno
    import os

    from studio.core.export import write_atomic

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ExportError, match="No space left") as caught:
        write_atomic(tmp_path / "x.png", lambda handle: handle.write(b"data"))
    assert caught.value.errno == errno.ENOSPC and str(caught.value).startswith("Cannot write")
    assert list(tmp_path.iterdir()) == []
