"""Tests for studio.core.images.load_image; every odd input is built here with Pillow."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from studio.core import images
from studio.core.images import MAX_PIXELS, ImageLoadError, load_image
from tests.odd_images import raw_png

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def _save(im: Image.Image, path: Path, fmt: str, **params: object) -> Path:
    im.save(path, fmt, **params)
    return path


def _noise(size: tuple[int, int] = (64, 64)) -> Image.Image:
    # Noise does not compress, so cutting the file in half really removes pixel data.
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _peek(path: Path, attr: str) -> object:
    """Read what Pillow itself reports for a file, closing it again."""
    with Image.open(path) as im:
        return getattr(im, attr)


def _assert_error(exc: ImageLoadError, reason: str, label: str) -> None:
    assert exc.reason == reason
    assert f"'{label}'" in str(exc)


# --- colour modes and orientation ---------------------------------------------------------


def test_exif_orientation_6_rotates_and_drops_tag(tmp_path: Path) -> None:
    im = Image.new("RGB", (4, 2), BLUE)
    im.putpixel((0, 0), RED)  # stored top-left; orientation 6 means "rotate 90° clockwise"
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    out = load_image(_save(im, tmp_path / "rot.png", "PNG", exif=exif))
    assert out.size == (2, 4)
    assert out.getpixel((1, 0)) == RED
    assert out.getpixel((0, 0)) == BLUE
    kept = out.getexif()
    assert 0x0112 not in kept
    assert kept[0x010F] == "TestCam"


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    im = Image.new("CMYK", (8, 8), (0, 255, 255, 0))
    path = _save(im, tmp_path / "cmyk.jpg", "JPEG", quality=95, icc_profile=b"cmyk-profile")
    assert _peek(path, "mode") == "CMYK"
    out = load_image(path)
    assert out.mode == "RGB"
    assert np.abs(np.asarray(out, dtype=int) - RED).max() <= 8
    # A CMYK profile would mislabel the RGB pixels, so it must not travel with them.
    assert _peek(path, "info")["icc_profile"] == b"cmyk-profile"
    assert "icc_profile" not in out.info


def test_16bit_grayscale_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    arr = np.array([[65535, 32768, 257, 0]], dtype=np.uint16)
    path = _save(Image.fromarray(arr), tmp_path / "deep.png", "PNG")
    assert _peek(path, "mode") == "I;16"  # the test is only meaningful for this mode
    out = load_image(path)
    assert out.mode == "RGB"
    assert [out.getpixel((x, 0))[0] for x in range(4)] == [255, 128, 1, 0]
    assert out.getpixel((1, 0)) == (128, 128, 128)


def test_16bit_pgm_opened_as_mode_i_is_scaled(tmp_path: Path) -> None:
    arr = np.array([[65535, 32768]], dtype=np.uint16)
    path = _save(Image.fromarray(arr), tmp_path / "deep.pgm", "PPM")
    assert _peek(path, "mode") == "I"
    out = load_image(path)
    assert [out.getpixel((x, 0)) for x in range(2)] == [(255, 255, 255), (128, 128, 128)]


def test_16bit_rgb_png_keeps_high_byte(tmp_path: Path) -> None:
    rows = b"\x00" + np.array([65535, 32768, 0] * 2, dtype=">u2").tobytes()
    path = tmp_path / "deep_rgb.png"
    path.write_bytes(raw_png(2, 1, 16, 2, rows))
    out = load_image(path)
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == (255, 128, 0)


def test_float_image_in_unit_range_is_stretched(tmp_path: Path) -> None:
    arr = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    out = load_image(_save(Image.fromarray(arr), tmp_path / "float.tif", "TIFF"))
    assert [out.getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]


def test_palette_with_transparent_index_becomes_rgba(tmp_path: Path) -> None:
    im = Image.new("P", (3, 1), 1)
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])
    im.putpixel((2, 0), 0)
    out = load_image(_save(im, tmp_path / "pal.png", "PNG", transparency=0))
    assert out.mode == "RGBA"
    assert out.getpixel((2, 0))[3] == 0
    assert out.getpixel((0, 0)) == (*RED, 255)
    assert "transparency" not in out.info


def test_palette_without_transparency_becomes_rgb(tmp_path: Path) -> None:
    im = Image.new("P", (2, 1), 1)
    im.putpalette([0, 0, 0, 0, 0, 255])
    out = load_image(_save(im, tmp_path / "pal.png", "PNG"))
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == BLUE


def test_la_keeps_alpha(tmp_path: Path) -> None:
    im = Image.new("LA", (2, 1), (200, 255))
    im.putpixel((1, 0), (50, 100))
    out = load_image(_save(im, tmp_path / "la.png", "PNG"))
    assert out.mode == "RGBA"
    assert out.getpixel((0, 0)) == (200, 200, 200, 255)
    assert out.getpixel((1, 0)) == (50, 50, 50, 100)


def test_rgba_with_real_alpha_is_preserved(tmp_path: Path) -> None:
    im = Image.new("RGBA", (2, 1), (10, 20, 30, 255))
    im.putpixel((1, 0), (40, 50, 60, 7))
    out = load_image(_save(im, tmp_path / "rgba.png", "PNG", icc_profile=b"rgb-profile"))
    assert out.mode == "RGBA"
    assert out.getpixel((1, 0)) == (40, 50, 60, 7)
    assert out.info["icc_profile"] == b"rgb-profile"


def test_fully_opaque_rgba_becomes_rgb(tmp_path: Path) -> None:
    out = load_image(_save(Image.new("RGBA", (2, 2), (*RED, 255)), tmp_path / "o.png", "PNG"))
    assert out.mode == "RGB"


@pytest.mark.parametrize("mode", ["1", "L", "YCbCr", "LAB", "I", "F", "CMYK"])
def test_file_modes_convert_to_rgb(mode: str, tmp_path: Path) -> None:
    # TIFF round-trips each of these modes, so the loader sees them exactly as Pillow opens them.
    path = _save(Image.new(mode, (2, 2)), tmp_path / "m.tif", "TIFF")
    assert _peek(path, "mode") == mode
    out = load_image(path)
    assert out.mode == "RGB"
    assert out.size == (2, 2)


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("HSV", (0, 255, 255), RED),
        ("LAB", (255, 128, 128), (255, 255, 255)),
        ("YCbCr", (76, 85, 255), RED),
    ],
)
def test_exotic_colour_spaces_give_right_colour(mode: str, value: tuple, expected: tuple) -> None:
    # No file format stores HSV, so the conversion step is exercised directly.
    out = images._to_rgb_or_rgba(Image.new(mode, (1, 1), value))
    assert out.mode == "RGB"
    assert np.abs(np.subtract(out.getpixel((0, 0)), expected)).max() <= 2


def test_premultiplied_modes_become_straight_rgba() -> None:
    la = Image.new("La", (1, 1), (100, 128))
    rgba = Image.new("RGBa", (1, 1), (100, 50, 0, 128))
    assert images._to_rgb_or_rgba(la).getpixel((0, 0)) == (199, 199, 199, 128)
    assert images._to_rgb_or_rgba(rgba).getpixel((0, 0)) == (199, 99, 0, 128)


@pytest.mark.parametrize(
    ("fmt", "params"), [("GIF", {}), ("PNG", {}), ("WEBP", {"lossless": True})]
)
def test_animated_images_give_first_frame(tmp_path: Path, fmt: str, params: dict) -> None:
    frames = [Image.new("RGB", (4, 4), RED), Image.new("RGB", (4, 4), BLUE)]
    path = tmp_path / f"anim.{fmt.lower()}"
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100, **params)
    assert _peek(path, "n_frames") == 2
    out = load_image(path)
    assert out.mode == "RGB"
    assert out.getpixel((2, 2)) == RED


# --- the result is detached ----------------------------------------------------------------


def test_result_is_loaded_and_file_closed(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (3, 3), RED), tmp_path / "plain.png", "PNG")
    out = load_image(path)
    assert not isinstance(out, ImageFile.ImageFile)
    path.unlink()  # would fail on Windows, and break later pixel access anywhere, if still open
    assert out.getpixel((1, 1)) == RED


def test_load_from_bytes_and_pathlike(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (5, 2), BLUE).save(buf, "PNG")
    out = load_image(buf.getvalue())
    assert out.size == (5, 2) and out.getpixel((0, 0)) == BLUE
    assert load_image(bytearray(buf.getvalue())).getpixel((4, 1)) == BLUE
    path = tmp_path / "p.png"
    path.write_bytes(buf.getvalue())
    assert load_image(str(path)).size == (5, 2)


# --- errors ---------------------------------------------------------------------------------


def test_max_pixels_guard_checks_header_size(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (300, 200)), tmp_path / "wide.png", "PNG")
    with pytest.raises(ImageLoadError) as info:
        load_image(path, max_pixels=50_000)
    _assert_error(info.value, "too_large", "wide.png")
    assert "300x200 pixels (0.1 megapixels)" in str(info.value)
    assert info.value.path == str(path)
    assert load_image(path, max_pixels=60_000).size == (300, 200)


def test_bomb_header_under_pillow_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    # 11000x10000 = 110 MP: over Studio's limit but under Pillow's own hard limit, and the
    # pixel data is garbage, so only a header check can produce "too_large".
    path = tmp_path / "bomb.png"
    path.write_bytes(raw_png(11000, 10000, 1, 0, b"\x00"))
    assert MAX_PIXELS < 11000 * 10000
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    _assert_error(info.value, "too_large", "bomb.png")
    assert "11000x10000 pixels (110 megapixels)" in str(info.value)
    assert "up to 100 megapixels" in str(info.value)


def test_pillow_level_bomb_is_reported_as_too_large(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(raw_png(30000, 30000, 1, 0, b"\x00"))
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    _assert_error(info.value, "too_large", "huge.png")
    assert "900 megapixels" in str(info.value)
    assert Image.MAX_IMAGE_PIXELS == 89478485  # the global limit is left alone


@pytest.mark.parametrize(("fmt", "suffix"), [("PNG", "png"), ("JPEG", "jpg")])
def test_truncated_file(tmp_path: Path, fmt: str, suffix: str) -> None:
    buf = io.BytesIO()
    _noise().save(buf, fmt)
    path = tmp_path / f"cut.{suffix}"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    _assert_error(info.value, "truncated", f"cut.{suffix}")


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(b"")
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    _assert_error(info.value, "empty", "x.png")
    assert "(0 bytes)" in str(info.value)


def test_empty_bytes_use_name() -> None:
    with pytest.raises(ImageLoadError) as info:
        load_image(b"", name="paste.png")
    _assert_error(info.value, "empty", "paste.png")
    assert info.value.path is None


def test_text_file_named_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n" * 10)
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    _assert_error(info.value, "not_image", "notes.png")
    assert "PNG or JPEG" in str(info.value)


def test_garbage_bytes_default_name() -> None:
    with pytest.raises(ImageLoadError) as info:
        load_image(b"GIF-ish? no")
    _assert_error(info.value, "not_image", "image")


def test_eps_is_refused_without_running_ghostscript(tmp_path: Path) -> None:
    path = tmp_path / "vector.eps"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    assert _peek(path, "format") == "EPS"  # Pillow itself would accept it
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    _assert_error(info.value, "not_image", "vector.eps")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError) as info:
        load_image(tmp_path / "gone.jpg")
    _assert_error(info.value, "not_found", "gone.jpg")


def test_directory_is_unreadable(tmp_path: Path) -> None:
    folder = tmp_path / "holiday"
    folder.mkdir()
    with pytest.raises(ImageLoadError) as info:
        load_image(folder)
    _assert_error(info.value, "unreadable", "holiday")
    assert "is a folder" in str(info.value)


def test_permission_denied_is_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(Image.new("RGB", (2, 2)), tmp_path / "locked.png", "PNG")

    def deny(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    # chmod cannot lock out root, so fake the denial at the loader's own open() call.
    monkeypatch.setattr(images, "open", deny, raising=False)
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    _assert_error(info.value, "unreadable", "locked.png")
    assert "permission" in str(info.value)


def test_unexpected_pillow_error_is_wrapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(Image.new("RGB", (2, 2)), tmp_path / "odd.png", "PNG")

    def boom(*args: object, **kwargs: object) -> None:
        raise ValueError("decoder exploded")

    monkeypatch.setattr(images.Image, "open", boom)
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    _assert_error(info.value, "unreadable", "odd.png")
    assert "decoder exploded" in str(info.value)


def test_error_survives_pickling() -> None:
    err = ImageLoadError("'a.png' is empty (0 bytes).", "empty", "/x/a.png")
    copy = pickle.loads(pickle.dumps(err))
    assert (str(copy), copy.reason, copy.path) == (str(err), "empty", "/x/a.png")


def _png_with_text(text_bytes: int) -> bytes:
    import struct
    import zlib as z

    im = Image.new("RGB", (10, 8), (200, 30, 30))
    buffer = io.BytesIO()
    im.save(buffer, "PNG")
    data = buffer.getvalue()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = z.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    big = chunk(b"zTXt", b"parameters\0\0" + z.compress(b"a" * text_bytes))
    return data[:33] + big + data[33:]  # after IHDR, as A1111 writes its text


def test_a_picture_whose_text_pillow_refuses_opens_without_that_text(tmp_path):
    path = tmp_path / "big-text.png"
    path.write_bytes(_png_with_text(3 << 20))  # inflates past Pillow's 1 MB text limit
    with pytest.raises(ValueError, match="too large"):
        Image.open(path).load()  # what Pillow alone does with it
    from studio.core.images import TEXT_LEFT_OUT

    image = load_image(path)
    assert image.size == (10, 8) and image.getpixel((3, 3)) == (200, 30, 30)
    assert image.info[TEXT_LEFT_OUT] > 1000  # the caller can say what was left out
    assert load_image(tmp_path.joinpath("big-text.png").read_bytes()).size == (10, 8)
