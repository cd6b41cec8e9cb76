"""Metadata out (A1111 text, our record in PNG/JPEG/WebP) and in (ours and other tools')."""

from __future__ import annotations

import dataclasses
import io
import json
import random
import struct
import zlib

import pytest
from PIL import Image, ImageFile
from PIL.PngImagePlugin import PngInfo

from studio.core.generator import (
    ChoiceParam,
    FloatParam,
    IntParam,
    Result,
    SeedParam,
    TextParam,
)
from studio.core.images import ImageLoadError
from studio.core.metadata import (
    a1111_text,
    png_info,
    read_studio_record,
    result_record,
    save_options,
)
from studio.core.metadata_read import read_metadata, split_a1111
from studio.core.metadata_restore import describe, restore_values

FORMATS = ("PNG", "JPEG", "WEBP")
COMMENT_KEY = {"PNG": "parameters", "JPEG": "EXIF UserComment", "WEBP": "EXIF UserComment"}

# What a real A1111 1.6 image says, written here by hand.
A1111_TEXT = (
    "masterpiece, a red fox in the snow, (detailed fur:1.2)\n"
    "Negative prompt: blurry, lowres, watermark\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 123, Size: 512x512, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.6.0"
)
TEXT_TO_IMAGE_SPECS = [
    TextParam(name="prompt"),
    TextParam(name="negative_prompt"),
    IntParam(name="steps", default=30, minimum=1, maximum=150),
    FloatParam(name="cfg", default=7.5, minimum=1.0, maximum=30.0),
    SeedParam(name="seed"),
]
GAN_SPECS = [
    ChoiceParam(name="mode", choices=("sample", "interpolate")),
    IntParam(name="count", default=8, minimum=1, maximum=4096),
    SeedParam(name="seed"),
    FloatParam(name="truncation", default=1.0, minimum=0.05, maximum=1.0),
    ChoiceParam(name="size", choices=(64, 128, 256, 512)),
]

# ComfyUI's default graph as its SaveImage node stores it: the API `prompt` and the UI `workflow`.
COMFY_PROMPT = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 156680208700286,
            "steps": 20,
            "cfg": 8,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5.safetensors"}},
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": 512, "height": 768, "batch_size": 1},
    },
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "purple galaxy bottle", "clip": ["4", 1]},
    },
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}
COMFY_WORKFLOW = {
    "last_node_id": 9,
    "last_link_id": 9,
    "nodes": [{"id": int(key), "type": node["class_type"]} for key, node in COMFY_PROMPT.items()],
    "links": [
        [1, 4, 0, 3, 0, "MODEL"],
        [2, 5, 0, 3, 3, "LATENT"],
        [3, 4, 1, 6, 0, "CLIP"],
        [4, 6, 0, 3, 1, "CONDITIONING"],
        [5, 4, 1, 7, 0, "CLIP"],
        [6, 7, 0, 3, 2, "CONDITIONING"],
        [7, 3, 0, 8, 0, "LATENT"],
        [8, 4, 2, 8, 1, "VAE"],
        [9, 8, 0, 9, 0, "IMAGE"],
    ],
    "version": 0.4,
}


def gan_record(**changes):
    record = {
        "generator": "gan_faces",
        "generator_title": "GAN faces",
        "generator_version": "1",
        "method": "DCGAN",
        "index": 3,
        "params": {"mode": "sample", "count": 16, "seed": 7, "truncation": 0.8, "size": 128},
        "seed": 10,
        "model": "gan-face-generate",
        "model_hash": "0123456789",
        "device": "cpu",
        "width": 128,
        "height": 128,
        "created": 1700000000.5,
    }
    return {**record, **changes}


def prompt_record(prompt="a lighthouse at dusk", **params):
    return gan_record(
        generator="text_to_image",
        generator_title="Text to image",
        method="Euler a",
        params={
            "prompt": prompt,
            "negative_prompt": "blurry",
            "steps": 20,
            "cfg": 7.5,
            "seed": 123,
            **params,
        },
        seed=123,
        model="v1-5-pruned-emaonly",
        model_hash="6ce0161689",
        width=512,
        height=512,
    )


def encode(fmt, size=(16, 16), **options):
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, fmt, **options)
    return buffer.getvalue()


def png_with_text(**chunks):
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value if isinstance(value, str) else json.dumps(value))
    return encode("PNG", pnginfo=info)


def jpeg_with_user_comment(text, codec="utf-16-be"):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + text.encode(codec)  # as A1111 (piexif) does
    return encode("JPEG", exif=exif.tobytes())


# ---------------------------------------------------------------- writing and reading back


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("record", [gan_record(), prompt_record("café ✓, 猫\nsecond line")])
def test_the_record_and_the_a1111_text_round_trip(fmt, record):
    data = encode(fmt, **save_options(record, fmt))
    meta = read_metadata(data)
    assert (meta.source_format, meta.file_format, meta.generator) == (
        "studio",
        fmt,
        record["generator"],
    )
    assert meta.record == record
    assert meta.seed == record["seed"]
    assert meta.params == {**record["params"], "seed": record["seed"]}
    assert meta.raw[COMMENT_KEY[fmt]] == a1111_text(record)
    json.dumps(dataclasses.asdict(meta))  # `studio info --json` prints exactly this


@pytest.mark.parametrize("fmt", FORMATS)
def test_sd_parsers_reads_the_a1111_text_we_write(fmt):
    from sd_parsers import ParserManager

    record = prompt_record()
    info = ParserManager().parse(io.BytesIO(encode(fmt, **save_options(record, fmt))))
    sampler = info.samplers[0]
    assert str(info.prompts[0]) == record["params"]["prompt"]
    assert str(info.negative_prompts[0]) == record["params"]["negative_prompt"]
    assert sampler.name == record["method"]
    assert sampler.parameters["seed"] == str(record["seed"])
    assert sampler.parameters["steps"] == str(record["params"]["steps"])
    assert sampler.model.hash == record["model_hash"]
    assert info.metadata["Size"] == f"{record['width']}x{record['height']}"


def test_parameters_is_text_when_latin1_allows_and_international_text_otherwise():
    latin = encode("PNG", **save_options(prompt_record("crème brûlée"), "PNG"))
    wide = encode("PNG", **save_options(prompt_record("猫"), "PNG"))
    assert b"tEXtparameters\0" in latin and b"iTXtparameters\0" not in latin
    assert b"iTXtparameters\0" in wide and b"tEXtparameters\0" not in wide


def test_the_a1111_layout():
    record = prompt_record()
    lines = a1111_text(record).split("\n")
    assert lines[0] == record["params"]["prompt"]
    assert lines[1] == "Negative prompt: blurry"
    assert lines[2].startswith(
        "Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 123, Size: 512x512, "
        "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, "
    )
    assert lines[2].endswith("Studio generator: text_to_image")
    assert len(lines) == 3


def test_a_promptless_generator_writes_its_title_and_a_one_step_sampler():
    record = gan_record()
    text = a1111_text(record)
    first, last = text.split("\n")
    assert first.startswith("GAN faces") and "sample" in first
    assert last.startswith("Steps: 1, Sampler: DCGAN, Seed: 10, Size: 128x128, ")
    assert "Truncation: 0.8" in last and "Count: 16" in last
    assert "Size: 128," not in last  # the size param only repeats Size: 128x128
    # A size param that differs from the image's is kept, under a key that cannot clash.
    other = read_metadata(png_with_text(parameters=a1111_text(gan_record(width=64, height=64))))
    assert (other.params["width"], other.params["size"]) == (64, "128")
    assert restore_values(other, GAN_SPECS)[0]["size"] == 128


def test_values_with_commas_colons_and_quotes_are_quoted_and_read_back_intact():
    tricky = 'oil, "thick" 3:2'
    record = prompt_record(style=tricky, model_note=" padded ")
    record["model"] = "sdxl, refined: v2"
    text = a1111_text(record)
    assert json.dumps(tricky) in text
    _, pairs = split_a1111(text)
    assert dict(pairs)["Style"] == tricky
    meta = read_metadata(png_with_text(parameters=text))  # the A1111 text alone, no record
    assert meta.source_format == "a1111"
    assert meta.params["style"] == tricky
    assert meta.params["model_note"] == " padded "
    assert meta.params["model"] == record["model"]
    assert meta.params["prompt"] == record["params"]["prompt"]


def test_our_a1111_text_alone_restores_our_settings():
    record = gan_record()
    meta = read_metadata(png_with_text(parameters=a1111_text(record)))
    assert (meta.source_format, meta.generator, meta.seed) == ("a1111", "gan_faces", 10)
    values, notes = restore_values(meta, GAN_SPECS, title="GAN faces")
    assert values == {**record["params"], "seed": 10}
    # Prompt line, Steps, Sampler, Model hash and Model are written for other tools' readers;
    # a generator without such fields restores without a word about them.
    assert notes == []


def test_a1111_fields_a_studio_generator_lacks_are_still_reported_for_other_tools():
    meta = read_metadata(png_with_text(parameters=A1111_TEXT))
    _values, notes = restore_values(meta, GAN_SPECS, title="GAN faces")
    assert any(note.startswith("Sampler 'Euler a' has no field in GAN faces") for note in notes)


def test_a_jpeg_record_too_big_for_its_segment_is_left_out_not_fatal():
    record = prompt_record("猫" * 25_000)
    jpeg = read_metadata(encode("JPEG", **save_options(record, "JPEG")))
    webp = read_metadata(encode("WEBP", **save_options(record, "WEBP")))
    assert jpeg.source_format == "a1111" and jpeg.params["prompt"] == record["params"]["prompt"]
    assert webp.source_format == "studio" and webp.record == record


def test_png_info_and_read_studio_record_cover_results_and_jpeg(tmp_path):
    result = Result(Image.new("RGB", (8, 8)), "solid", "1", {"seed": 5}, 5, title="Solid")
    path = tmp_path / "x.png"
    result.image.save(path, pnginfo=png_info(result))
    with Image.open(path) as image:
        assert read_studio_record(image) == result_record(result)
        assert image.info["parameters"] == a1111_text(result_record(result))
    record = gan_record()
    with Image.open(io.BytesIO(encode("JPEG", **save_options(record, "JPEG")))) as image:
        assert read_studio_record(image) == record


# ---------------------------------------------------------------- other tools


def test_a_hand_written_a1111_png_is_read_and_restored():
    meta = read_metadata(png_with_text(parameters=A1111_TEXT))
    assert meta.source_format == "a1111" and meta.generator is None and not meta.notes
    assert meta.params["prompt"] == A1111_TEXT.split("\n")[0]
    assert meta.params["negative_prompt"] == "blurry, lowres, watermark"
    expected = {"steps": 20, "cfg": 7, "seed": 123, "width": 512, "height": 512}
    assert {key: meta.params[key] for key in expected} == expected
    assert meta.params["sampler"] == "Euler a"
    assert (meta.params["model"], meta.params["model_hash"]) == (
        "v1-5-pruned-emaonly",
        "6ce0161689",
    )
    values, notes = restore_values(meta, TEXT_TO_IMAGE_SPECS, title="Text to image")
    assert values == {
        "prompt": meta.params["prompt"],
        "negative_prompt": "blurry, lowres, watermark",
        "steps": 20,
        "cfg": 7.0,
        "seed": 123,
    }
    assert "Sampler 'Euler a' has no field in Text to image" in notes
    assert not any("Steps" in note or "Seed" in note for note in notes)


@pytest.mark.parametrize("codec", ["utf-16-be", "utf-16-le"])
def test_a_jpeg_with_an_a1111_user_comment(codec):
    meta = read_metadata(jpeg_with_user_comment(A1111_TEXT, codec))
    assert (meta.source_format, meta.file_format) == ("a1111", "JPEG")
    assert meta.raw["EXIF UserComment"] == A1111_TEXT
    assert (meta.params["prompt"], meta.seed, meta.params["steps"]) == (
        A1111_TEXT.split("\n")[0],
        123,
        20,
    )


@pytest.mark.parametrize("with_workflow", [True, False], ids=["ui", "api"])
def test_a_comfyui_png(with_workflow):
    chunks = {"prompt": COMFY_PROMPT, **({"workflow": COMFY_WORKFLOW} if with_workflow else {})}
    meta = read_metadata(png_with_text(**chunks))
    assert meta.source_format == "comfyui"
    assert meta.params["prompt"] == "purple galaxy bottle"
    assert meta.params["negative_prompt"] == "text, watermark"
    assert (meta.seed, meta.params["steps"], meta.params["cfg"]) == (156680208700286, 20, 8)
    assert (meta.params["width"], meta.params["height"]) == (512, 768)
    assert meta.params["model"] == "v1-5.safetensors"
    values, notes = restore_values(meta, TEXT_TO_IMAGE_SPECS)
    assert (values["steps"], values["seed"]) == (20, 156680208700286)  # past 2**32
    assert not any("out of range" in note for note in notes)


@pytest.mark.parametrize("model", [{"model_name": "sd-1.5"}, {"name": "sd-1.5", "base": "sd-1"}])
def test_an_invokeai_png(model):
    metadata = {
        "generation_mode": "txt2img",
        "positive_prompt": "a cat in a hat",
        "negative_prompt": "blurry",
        "width": 512,
        "height": 768,
        "seed": 3914215374,
        "cfg_scale": 7.5,
        "steps": 30,
        "scheduler": "euler",
        "model": model,
        "app_version": "3.4.0",
    }
    meta = read_metadata(png_with_text(invokeai_metadata=metadata))
    assert meta.source_format == "invokeai"
    assert (meta.params["prompt"], meta.params["negative_prompt"]) == ("a cat in a hat", "blurry")
    assert (meta.seed, meta.params["steps"], meta.params["cfg"]) == (3914215374, 30, 7.5)
    assert (meta.params["width"], meta.params["height"]) == (512, 768)
    assert meta.params["model"] == "sd-1.5"


def test_text_after_the_pixels_is_read_without_decoding_them(monkeypatch):
    data = encode("PNG")
    end = data.rindex(b"IEND") - 4
    body = b"parameters\0" + A1111_TEXT.encode("latin-1")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    data = data[:end] + chunk + struct.pack(">I", zlib.crc32(b"tEXt" + body)) + data[end:]

    def no_decoding(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    assert read_metadata(data).params["seed"] == 123
    for fmt in ("JPEG", "WEBP"):
        assert read_metadata(encode(fmt, **save_options(gan_record(), fmt))).seed == 10


# ---------------------------------------------------------------- odd input


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: random.Random(4).randbytes(4096),
        lambda tmp: b"",
        lambda tmp: encode("PNG"),
        lambda tmp: encode("JPEG"),
        lambda tmp: encode("PNG")[:40],  # cut off inside the first chunks
        lambda tmp: png_with_text(Software="Paint", prompt="not json"),
        lambda tmp: jpeg_with_user_comment("just a caption"),
        lambda tmp: (tmp / "notes.txt").write_text("Steps: 20") and tmp / "notes.txt",
    ],
    ids=["random", "empty", "plain-png", "plain-jpeg", "cut-png", "odd-chunks", "caption", "text"],
)
def test_garbage_gives_no_format_and_no_exception(make, tmp_path):
    meta = read_metadata(make(tmp_path))
    assert meta.source_format is None and meta.params == {}
    assert meta.notes
    assert describe(meta).startswith("No generation settings found")


def test_a_damaged_record_falls_back_to_the_a1111_text():
    meta = read_metadata(png_with_text(parameters=A1111_TEXT, studio="{not json"))
    assert meta.source_format == "a1111" and meta.seed == 123
    assert any("damaged" in note for note in meta.notes)


def test_a_missing_file_is_a_load_error(tmp_path):
    with pytest.raises(ImageLoadError) as caught:
        read_metadata(tmp_path / "gone.png")
    assert caught.value.reason == "not_found"


# ---------------------------------------------------------------- restoring and describing


def test_restore_reports_what_it_cannot_map_and_keeps_valid_values():
    meta = read_metadata(encode("PNG", **save_options(prompt_record(steps=500), "PNG")))
    values, notes = restore_values(meta, TEXT_TO_IMAGE_SPECS)
    assert "steps" not in values and values["cfg"] == 7.5
    assert any("500 is out of range" in note for note in notes)
    values, notes = restore_values(meta, GAN_SPECS, title="GAN faces")
    assert values == {"seed": 123}
    assert any(note.startswith("Prompt 'a lighthouse") for note in notes)


def test_describe_lists_format_generator_params_and_notes():
    record = gan_record(note="upscaled 64 → 128 px (Lanczos)")
    meta = read_metadata(encode("WEBP", **save_options(record, "WEBP")))
    meta.notes.append("something odd")
    text = describe(meta)
    assert text.startswith("Format: Studio (WEBP)")
    assert "Generator: GAN faces (gan_faces, v1)" in text
    assert f"Seed: {record['seed']}" in text and record["note"] in text
    for name, value in meta.params.items():
        assert f"  {name}: {value}" in text
    assert text.endswith("  - something odd")


def test_infotext_pairs_are_written_in_a1111_names_and_read_by_sd_parsers():
    from sd_parsers import ParserManager

    record = prompt_record()
    record["infotext"] = {"Schedule type": "Karras", "Lora hashes": "detail: 1a2b3c4d5e6f"}
    line = a1111_text(record).split("\n")[2]
    assert "Model: v1-5-pruned-emaonly, Schedule type: Karras, " in line
    assert 'Lora hashes: "detail: 1a2b3c4d5e6f"' in line
    info = ParserManager().parse(io.BytesIO(encode("PNG", **save_options(record, "PNG"))))
    assert info.samplers[0].parameters["scheduler"] == "Karras"  # sd-parsers' name for it
