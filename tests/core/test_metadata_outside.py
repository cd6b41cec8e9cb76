"""Studio's files as outside readers see them, and other writers' files as Studio sees them.

exiftool (apt `libimage-exiftool-perl`, installed by set-up) validates the EXIF Studio writes;
the A1111 stealth-pnginfo writer is ported here from its published source to make images
Studio did not write.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess

import pytest
from PIL import Image

from studio.core.export import save_image_as
from studio.core.metadata import a1111_text
from studio.core.metadata_read import read_metadata
from studio.core.metadata_stealth import MAX_PIXELS
from tests.core.test_metadata import A1111_TEXT, prompt_record


def exiftool(*args: str) -> str:
    tool = shutil.which("exiftool")
    assert tool, "exiftool is missing: scripts/setup.sh installs libimage-exiftool-perl"
    return subprocess.run([tool, *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("suffix", [".jpg", ".webp"])
def test_exiftool_reads_our_user_comment_as_standard_undefined_data(suffix, tmp_path):
    record = prompt_record(prompt="a lighthouse, at dusk: ünïcode")
    path = save_image_as(Image.new("RGB", (16, 16)), record, tmp_path / f"image{suffix}")
    (tags,) = json.loads(exiftool("-j", "-G1", "-UserComment", str(path)))
    assert tags["ExifIFD:UserComment"] == a1111_text(record)
    assert comment_warnings(path) == []
    assert "UserComment = UNICODE" in exiftool("-v3", str(path))
    assert "undef[" in next(
        line for line in exiftool("-v3", str(path)).splitlines() if "Tag 0x9286" in line
    )


def test_exiftool_flags_the_byte_typed_comment_pillow_writes_by_itself(tmp_path):
    exif = Image.Exif()  # the control: what Studio wrote before, and what the check catches
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + "a cat".encode("utf-16-be")
    Image.new("RGB", (8, 8)).save(tmp_path / "byte.jpg", exif=exif.tobytes())
    assert comment_warnings(tmp_path / "byte.jpg") == [
        "Non-standard format (int8u) for ExifIFD 0x9286 UserComment"
    ]


def comment_warnings(path) -> list[str]:
    """exiftool's validation warnings about the UserComment tag."""
    lines = exiftool("-validate", "-warning", "-a", "-s3", str(path)).splitlines()
    return [line for line in lines if "0x9286" in line or "UserComment" in line]


# --- A1111's stealth-pnginfo writer, ported from `add_data`/`prepare_data` in
# ashen-sensored/sd_webui_stealth_pnginfo, scripts/stealth_pnginfo.py (commit 0a79d40):
# signature, 32-bit length in bits, payload; column by column; alpha LSB or R, G, B LSBs.


def stealth_write(image: Image.Image, text: str, mode: str, compressed: bool) -> Image.Image:
    signature = f"stealth_{'png' if mode == 'alpha' else 'rgb'}{'comp' if compressed else 'info'}"
    binary_signature = "".join(format(byte, "08b") for byte in signature.encode("utf-8"))
    param = gzip.compress(text.encode("utf-8")) if compressed else text.encode("utf-8")
    binary_param = "".join(format(byte, "08b") for byte in param)
    binary_data = binary_signature + format(len(binary_param), "032b") + binary_param
    image = image.convert("RGBA" if mode == "alpha" else "RGB")
    if mode == "alpha":
        image.putalpha(255)
    pixels = image.load()
    index = 0
    for x in range(image.width):
        for y in range(image.height):
            if index >= len(binary_data):
                return image
            if mode == "alpha":
                r, g, b, a = pixels[x, y]
                a = (a & ~1) | int(binary_data[index])
                index += 1
                pixels[x, y] = (r, g, b, a)
            else:
                r, g, b = pixels[x, y]
                r = (r & ~1) | int(binary_data[index])
                if index + 1 < len(binary_data):
                    g = (g & ~1) | int(binary_data[index + 1])
                if index + 2 < len(binary_data):
                    b = (b & ~1) | int(binary_data[index + 2])
                index += 3
                pixels[x, y] = (r, g, b)
    return image


def noise(width: int, height: int) -> Image.Image:
    import numpy as np

    array = np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(array)


@pytest.mark.parametrize("mode", ["alpha", "rgb"])
@pytest.mark.parametrize("compressed", [True, False], ids=["comp", "info"])
def test_stealth_settings_from_the_extensions_writer_are_read(mode, compressed, tmp_path):
    image = stealth_write(noise(90, 70), A1111_TEXT, mode, compressed)
    image.save(tmp_path / "stealth.png")  # a plain PNG: no text chunks at all
    meta = read_metadata(tmp_path / "stealth.png")
    assert meta.source_format == "a1111"
    assert (meta.seed, meta.params["sampler"], meta.params["steps"]) == (123, "Euler a", 20)
    assert meta.params["prompt"] == A1111_TEXT.split("\n")[0]
    assert meta.raw["stealth pnginfo"] == A1111_TEXT


def test_stealth_settings_survive_webp_lossless_and_text_chunks_win(tmp_path):
    image = stealth_write(noise(64, 64), A1111_TEXT, "alpha", True)
    image.save(tmp_path / "a.webp", lossless=True)
    assert read_metadata(tmp_path / "a.webp").seed == 123
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", A1111_TEXT.replace("Seed: 123", "Seed: 9"))
    image.save(tmp_path / "both.png", pnginfo=info)  # as A1111: the text chunk is read first
    assert read_metadata(tmp_path / "both.png").seed == 9


def test_a_cropped_stealth_image_says_its_settings_are_cut_off(tmp_path):
    image = stealth_write(noise(64, 64), A1111_TEXT, "alpha", False)
    image.crop((0, 0, 3, 64)).save(tmp_path / "cropped.png")  # 192 of ~3,000 bits left
    meta = read_metadata(tmp_path / "cropped.png")
    assert meta.source_format is None
    assert meta.notes == ["The hidden settings are cut off (the image was cropped or resized)."]


def test_ordinary_images_are_not_mistaken_for_stealth_ones(tmp_path):
    noise(300, 200).save(tmp_path / "photo.png")
    noise(300, 200).convert("RGBA").save(tmp_path / "alpha.png")
    for name in ("photo.png", "alpha.png"):
        meta = read_metadata(tmp_path / name)
        assert meta.source_format is None
        assert meta.notes == ["The image carries no generation settings."]


def test_a_huge_image_is_not_decoded_to_look_for_hidden_settings(monkeypatch, tmp_path):
    import studio.core.metadata_stealth as stealth

    image = stealth_write(noise(40, 40), A1111_TEXT, "alpha", True)
    image.save(tmp_path / "big.png")
    assert MAX_PIXELS >= 40 * 40
    monkeypatch.setattr(stealth, "MAX_PIXELS", 40 * 40 - 1)
    assert read_metadata(tmp_path / "big.png").source_format is None
