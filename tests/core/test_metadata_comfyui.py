"""ComfyUI graphs: the size of the latent the sampler actually denoises, and linked seeds."""

from __future__ import annotations

import json

import pytest

from studio.core.metadata_comfyui import latent_size, sampler_seed
from studio.core.metadata_read import read_metadata
from tests.core.test_metadata import COMFY_PROMPT
from tests.core.test_samplers import png


def UP(width: int, height: int) -> dict:  # noqa: N802 - reads as a node's widgets
    return {"upscale_method": "nearest-exact", "width": width, "height": height, "crop": "x"}


def graph_with(latent: dict, **more: dict) -> dict:
    graph = json.loads(json.dumps(COMFY_PROMPT))
    graph["3"]["inputs"]["latent_image"] = ["20", 0]
    graph["20"] = latent
    graph.update(more)
    return graph


@pytest.mark.parametrize(
    ("latent", "more", "size"),
    [
        # ComfyUI's LatentUpscale: width/height in pixels; 0 keeps the aspect ratio
        (
            {"class_type": "LatentUpscale", "inputs": {"samples": ["5", 0]} | UP(1024, 1536)},
            {},
            (1024, 1536),
        ),
        (
            {"class_type": "LatentUpscale", "inputs": {"samples": ["5", 0]} | UP(0, 1152)},
            {},
            (768, 1152),
        ),
        # LatentUpscaleBy scales the latent (pixels / 8): 512x768 by 1.5 -> 96x144 latents
        (
            {"class_type": "LatentUpscaleBy", "inputs": {"samples": ["5", 0], "scale_by": 1.5}},
            {},
            (768, 1152),
        ),
        # a composite takes the size of what it pastes onto
        (
            {
                "class_type": "LatentComposite",
                "inputs": {"samples_to": ["21", 0], "samples_from": ["5", 0], "x": 0, "y": 0},
            },
            {"21": {"class_type": "EmptyLatentImage", "inputs": {"width": 960, "height": 640}}},
            (960, 640),
        ),
    ],
    ids=["upscale", "upscale-keep-aspect", "upscale-by", "composite"],
)
def test_the_size_is_that_of_the_latent_the_sampler_denoises(latent, more, size):
    graph = graph_with(latent, **more)
    assert latent_size(graph, "3") == size
    meta = read_metadata(png(prompt=json.dumps(graph)))
    assert (meta.params["width"], meta.params["height"]) == size


def test_img2img_has_no_latent_size_even_with_a_sized_node_elsewhere():
    graph = graph_with(
        {"class_type": "VAEEncode", "inputs": {"pixels": ["22", 0], "vae": ["4", 2]}},
        **{"22": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}}},
    )
    assert "width" not in read_metadata(png(prompt=json.dumps(graph))).params
    assert graph["5"]["inputs"]["width"] == 512  # the unused EmptyLatentImage is still there


def test_a_seed_from_a_seed_node_is_followed_and_a_cycle_ends():
    graph = json.loads(json.dumps(COMFY_PROMPT))
    graph["3"]["inputs"]["seed"] = ["30", 0]
    graph["30"] = {"class_type": "Seed (rgthree)", "inputs": {"seed": 18446744073709551615}}
    assert sampler_seed(graph, "3") == 2**64 - 1
    meta = read_metadata(png(prompt=json.dumps(graph)))
    assert meta.seed == 2**64 - 1 and not meta.notes
    graph["3"]["inputs"]["latent_image"] = ["31", 0]
    graph["31"] = {"class_type": "LatentBatch", "inputs": {"samples": ["31", 0]}}
    assert latent_size(graph, "3") is None
