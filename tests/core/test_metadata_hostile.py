"""No file can hang reading: A1111's pairs read in linear time, every text bounded, and what
is skipped is said to be too large rather than missing."""

from __future__ import annotations

import io
import random
import re
import struct
import time
import zlib

import pytest
from PIL import Image

from studio.core.metadata_a1111 import pairs_of, split_a1111
from studio.core.metadata_read import TEXT_LIMIT, TOTAL_LIMIT, read_metadata
from studio.core.metadata_restore import describe
from tests.odd_images import png_chunk

# AUTOMATIC1111's own pattern, `re_param_code` in modules/infotext_utils.py (v1.10).
A1111_PAIR = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def png_with_chunks(*chunks: bytes) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, "PNG")
    data = out.getvalue()
    return data[:-12] + b"".join(chunks) + data[-12:]  # before IEND


def ztxt(key: str, text: bytes) -> bytes:
    return png_chunk(b"zTXt", key.encode() + b"\0\0" + zlib.compress(text, 9))


@pytest.mark.parametrize("alphabet", ['ab: ,"\\-/_', 'Steps: 20, Sampler: "a, b"\\ ', "a:,é\t x"])
def test_the_linear_reader_finds_exactly_what_a1111s_pattern_finds(alphabet):
    rng = random.Random(alphabet)
    for _ in range(20_000):
        line = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        assert pairs_of(line) == A1111_PAIR.findall(line), line


def test_real_a1111_lines_give_a1111s_pairs():
    line = (
        "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, "
        'Size: 512x768, Lora hashes: "detail: 1a2b3c, style: 4d5e6f", '
        'Template: "a \\"quoted\\" word", Version: v1.10.1'
    )
    assert pairs_of(line) == A1111_PAIR.findall(line)
    assert dict(split_a1111("x\n" + line)[1])["Lora hashes"] == "detail: 1a2b3c, style: 4d5e6f"


@pytest.mark.parametrize(
    "unit",
    ["a", " ", "a-", "a,", 'k: "', "é/", "Steps: 20, "],
    ids=["letters", "spaces", "dashes", "commas", "open-quotes", "slashes", "pairs"],
)
def test_texts_that_made_a1111s_pattern_quadratic_read_at_once(unit):
    # 200 KB of each took A1111's pattern (and Studio before) minutes; linear reading takes
    # milliseconds. The bound is a hang detector with a thousandfold margin, not a benchmark.
    text = unit * (200_000 // len(unit))
    start = time.perf_counter()
    split_a1111("prompt\n" + text)
    assert time.perf_counter() - start < 10


def test_a_zip_bomb_text_is_skipped_and_said_to_be_too_large():
    bomb = b"x" * (50 * 2**20)  # 50 MB of one letter: a 51 KB file
    data = png_with_chunks(ztxt("parameters", bomb))
    assert len(data) < 100_000
    meta = read_metadata(data)
    assert meta.source_format is None
    assert meta.notes == [
        "The settings text 'parameters' inflates to more than 16 MB, "
        "over Studio's limit of 16 MB; skipped."
    ]
    assert "carries no generation settings" not in describe(meta)
    assert "over Studio's limit" in describe(meta)


def test_a_plain_text_over_the_limit_is_skipped_unread_with_its_size(tmp_path):
    text = b"parameters\0" + b"a" * (TEXT_LIMIT + 2**20)
    path = tmp_path / "huge.png"
    path.write_bytes(png_with_chunks(png_chunk(b"tEXt", text)))
    meta = read_metadata(path)
    assert meta.notes == [
        "The settings text 'parameters' is 17 MB, over Studio's limit of 16 MB; skipped."
    ]
    assert meta.raw == {}


def test_texts_past_the_total_limit_are_skipped_and_the_rest_kept():
    filler = "a" * (TEXT_LIMIT - 100)
    chunks = [png_chunk(b"tEXt", f"filler{i}\0".encode() + filler.encode()) for i in range(2)]
    params = png_chunk(b"tEXt", b"parameters\0a cat\nSteps: 5, Sampler: Euler, Seed: 1")
    meta = read_metadata(png_with_chunks(*chunks, params))
    assert meta.source_format == "a1111"  # the small one after two large ones still counts
    chunks.append(png_chunk(b"tEXt", b"late\0" + b"b" * 300))
    meta = read_metadata(png_with_chunks(*chunks))
    assert any(f"limit of {TOTAL_LIMIT // 2**20} MB for all texts" in n for n in meta.notes)


def test_a_webp_with_a_huge_xmp_is_skipped_with_a_note():
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "WEBP", xmp=b"<x>" + b"a" * (TEXT_LIMIT + 10) + b"</x>")
    meta = read_metadata(out.getvalue())
    assert meta.file_format == "WEBP"
    assert any(note.startswith("The settings text 'XMP' is 16 MB, over") for note in meta.notes)


def test_millions_of_empty_chunks_end_the_walk_with_a_note():
    empty = png_chunk(b"tEXt", b"k\0")
    data = png_with_chunks(empty * 250_000)
    meta = read_metadata(data)
    assert any("over 200,000 chunks" in note for note in meta.notes)


def test_a_comfyui_graph_too_large_to_walk_is_refused_with_a_note():
    import json

    graph = {
        str(i): {
            "class_type": "KSampler",
            "inputs": {"sampler_name": "euler", "steps": 1, "cfg": 1},
        }
        for i in range(100)
    }
    meta = read_metadata(
        png_with_chunks(png_chunk(b"tEXt", b"prompt\0" + json.dumps(graph).encode()))
    )
    assert meta.source_format is None
    assert meta.notes == ["The ComfyUI graph has 100 samplers, over Studio's limit of 64. Skipped."]


def test_exif_user_comment_is_written_as_undefined_like_a1111(tmp_path):
    from studio.core.export import save_image_as
    from tests.core.test_metadata import prompt_record

    for suffix in (".jpg", ".webp"):
        path = save_image_as(Image.new("RGB", (16, 16)), prompt_record(), tmp_path / f"a{suffix}")
        assert user_comment_type(path.read_bytes()) == 7  # UNDEFINED; Pillow alone writes 1


def user_comment_type(data: bytes) -> int:
    """The TIFF type of EXIF tag 0x9286, read from the file's bytes by hand."""
    if data.startswith(b"RIFF"):  # WebP: a RIFF chunk "EXIF" holding the TIFF data
        tiff = data[data.index(b"EXIF") + 8 :]
    else:  # JPEG: an APP1 segment "Exif\0\0" + TIFF data
        tiff = data[data.index(b"Exif\0\0") + 6 :]
    order = {b"MM": ">", b"II": "<"}[tiff[:2]]

    def entries(offset: int):
        (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
        for i in range(count):
            yield struct.unpack(order + "HHII", tiff[offset + 2 + 12 * i : offset + 14 + 12 * i])

    (ifd0,) = struct.unpack(order + "I", tiff[4:8])
    exif_ifd = next(value for tag, _t, _n, value in entries(ifd0) if tag == 0x8769)
    return next(kind for tag, kind, _n, _v in entries(exif_ifd) if tag == 0x9286)
