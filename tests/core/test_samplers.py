"""The one sampler table: every tool's names onto A1111's (sampler, schedule type) pair, and
that pair onto a text-to-image form whose labels are A1111's names."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.core.generator import ChoiceParam
from studio.core.metadata_read import read_metadata
from studio.core.metadata_restore import restore_values
from studio.core.samplers import SAMPLER_NAMES, SCHEDULE_TYPES, a1111_sampler
from tests.core.test_metadata_tools import T2I_SPECS


@pytest.mark.parametrize(
    ("name", "schedule", "expected"),
    [
        # A1111 >= 1.9 writes the pair; before 1.9 one combined name; its aliases
        ("DPM++ 2M", "Karras", ("DPM++ 2M", "Karras")),
        ("DPM++ 2M Karras", None, ("DPM++ 2M", "Karras")),
        ("DPM++ SDE Karras", None, ("DPM++ SDE", "Karras")),
        ("DPM++ 2M SDE Exponential", None, ("DPM++ 2M SDE", "Exponential")),
        ("DPM++ 2M SDE Heun Karras", None, ("DPM++ 2M SDE Heun", "Karras")),
        ("LMS Karras", None, ("LMS", "Karras")),
        ("Euler a", "Automatic", ("Euler a", None)),
        ("DPM++ SDE", "SGM Uniform", ("DPM++ SDE", "SGM Uniform")),
        ("k_dpmpp_2m_ka", None, ("DPM++ 2M", "Karras")),
        ("k_euler_a", None, ("Euler a", None)),
        # ComfyUI: sampler_name + scheduler ("normal" is its default); older "sample_" names
        ("dpmpp_2m", "karras", ("DPM++ 2M", "Karras")),
        ("euler_ancestral", "normal", ("Euler a", None)),
        ("dpmpp_2m_sde_gpu", "karras", ("DPM++ 2M SDE", "Karras")),
        ("dpmpp_3m_sde_gpu", "exponential", ("DPM++ 3M SDE", "Exponential")),
        ("uni_pc_bh2", "sgm_uniform", ("UniPC", "SGM Uniform")),
        ("sample_dpmpp_sde", "simple", ("DPM++ SDE", "Simple")),
        ("ddim", "ddim_uniform", ("DDIM", "DDIM")),
        ("lcm", "beta", ("LCM", "Beta")),
        # NovelAI (k_ names, noise_schedule) and InvokeAI (k_ names; `_k` is Karras)
        ("k_euler_ancestral", "native", ("Euler a", None)),
        ("k_dpmpp_2m", "karras", ("DPM++ 2M", "Karras")),
        ("k_lms", None, ("LMS", None)),
        ("dpmpp_2m_sde_k", None, ("DPM++ 2M SDE", "Karras")),
        ("euler_a", None, ("Euler a", None)),
        ("unipc", None, ("UniPC", None)),
        # diffusers scheduler classes
        ("EulerAncestralDiscreteScheduler", None, ("Euler a", None)),
        ("DPMSolverMultistepScheduler", "karras", ("DPM++ 2M", "Karras")),
    ],
)
def test_every_tools_names_map_to_a1111s_pair(name, schedule, expected):
    assert a1111_sampler(name, schedule) == expected


def test_unknown_samplers_and_schedules_are_kept_as_written():
    assert a1111_sampler("heunpp2", "normal") is None  # ComfyUI's, no A1111 equivalent
    assert a1111_sampler("euler", "linear_quadratic") == ("Euler", "linear_quadratic")
    assert a1111_sampler("", None) is None and a1111_sampler(None) is None


def test_the_table_speaks_the_names_the_text_to_image_form_offers():
    wanted = "Euler a, Euler, DPM++ 2M, DPM++ SDE, DPM++ 2M SDE, UniPC, LMS, Heun, DDIM, DDPM, LCM"
    assert set(wanted.split(", ")) <= set(SAMPLER_NAMES)
    assert SCHEDULE_TYPES[:3] == ("Automatic", "Uniform", "Karras")


def png(**texts: str) -> bytes:
    info = PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def restored(data: bytes) -> tuple[str, str, list[str]]:
    values, notes = restore_values(read_metadata(data), T2I_SPECS, title="Text to image")
    spec = {s.name: s for s in T2I_SPECS}
    sampler = spec["scheduler"].label_of(values.get("scheduler"))
    return sampler, spec["schedule"].label_of(values.get("schedule")), notes


A1111_HEAD = "a fox\nSteps: 20, Sampler: {}, CFG scale: 7, Seed: 1, Size: 512x512"


@pytest.mark.parametrize(
    ("sampler", "expected"),
    [
        ("DPM++ 2M, Schedule type: Karras", ("DPM++ 2M", "Karras")),  # A1111 >= 1.9
        ("DPM++ 2M Karras", ("DPM++ 2M", "Karras")),  # A1111 < 1.9
        ("Euler a", ("Euler a", "Automatic")),
        ("DPM++ SDE, Schedule type: Automatic", ("DPM++ SDE", "Automatic")),
    ],
)
def test_an_a1111_sampler_restores_sampler_and_schedule(sampler, expected):
    meta = read_metadata(png(parameters=A1111_HEAD.format(sampler)))
    assert "Karras" not in str(meta.params.get("sampler"))
    sampler_label, schedule_label, notes = restored(png(parameters=A1111_HEAD.format(sampler)))
    assert (sampler_label, schedule_label) == expected
    assert not any("Sampler" in note or "Schedule" in note for note in notes)


def test_a_comfyui_sampler_and_scheduler_restore_as_a_pair():
    graph = {
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": 2**64 - 1,
                "steps": 20,
                "cfg": 7.0,
                "sampler_name": "dpmpp_2m",
                "scheduler": "karras",
                "model": ["4", 0],
                "positive": ["6", 0],
                "negative": ["6", 0],
                "latent_image": ["5", 0],
            },
        },
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 640, "height": 512}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a fox", "clip": ["4", 1]}},
    }
    data = png(prompt=json.dumps(graph))
    assert restored(data)[:2] == ("DPM++ 2M", "Karras")
    values, _notes = restore_values(read_metadata(data), T2I_SPECS)
    assert (values["seed"], values["width"], values["height"]) == (2**64 - 1, 640, 512)


def test_a_form_field_named_scheduler_is_not_filled_from_comfyuis_scheduler():
    # ComfyUI's `scheduler` is a schedule; the form's `scheduler` is the sampler choice.
    graph = {
        "1": {
            "class_type": "KSampler",
            "inputs": {"seed": 5, "steps": 9, "cfg": 5, "sampler_name": "heunpp2"}
            | {"scheduler": "exponential"},
        }
    }
    meta = read_metadata(png(prompt=json.dumps(graph)))
    assert (meta.params["sampler"], meta.params["schedule"]) == ("heunpp2", "Exponential")
    values, notes = restore_values(meta, T2I_SPECS)
    assert "scheduler" not in values and values["schedule"] == "exponential"
    assert any("'heunpp2' is not one of" in note for note in notes)


def test_a_studio_record_keeps_its_own_sampler_fields():
    from studio.core.metadata import ImageMetadata

    meta = ImageMetadata(
        source_format="studio",
        generator="text_to_image",
        params={"scheduler": "dpm++_2m", "schedule": "karras", "sampler": "Euler a"},
    )
    values, _notes = restore_values(meta, T2I_SPECS)
    assert (values["scheduler"], values["schedule"]) == ("dpm++_2m", "karras")  # not the alias


def test_a_form_with_combined_labels_and_no_schedule_field_gets_the_combined_choice():
    legacy = [
        ChoiceParam(
            name="scheduler",
            choices=("dpmpp_2m", "dpmpp_2m_karras", "euler_a"),
            labels=("DPM++ 2M", "DPM++ 2M Karras", "Euler a"),
        )
    ]
    for sampler in ("DPM++ 2M, Schedule type: Karras", "DPM++ 2M Karras"):
        values, notes = restore_values(
            read_metadata(png(parameters=A1111_HEAD.format(sampler))), legacy
        )
        assert values == {"scheduler": "dpmpp_2m_karras"}
        assert not any("Sampler" in n or "Schedule" in n for n in notes)
    values, _ = restore_values(read_metadata(png(parameters=A1111_HEAD.format("Euler a"))), legacy)
    assert values == {"scheduler": "euler_a"}


def test_novelais_sampler_and_noise_schedule_become_a1111s_pair():
    comment = {"steps": 28, "sampler": "k_dpmpp_2m", "noise_schedule": "karras", "seed": 5}
    comment |= {"scale": 5.0, "uc": "lowres", "strength": 0.7, "noise": 0.0}
    data = png(
        Title="AI generated image",
        Description="a cat in space",
        Software="NovelAI",
        Source="NovelAI Diffusion V3 7BCCAA2C",
        Comment=json.dumps(comment),
    )
    meta = read_metadata(data)
    assert meta.source_format == "novelai"
    assert (meta.params["sampler"], meta.params["schedule"], meta.seed) == ("DPM++ 2M", "Karras", 5)
