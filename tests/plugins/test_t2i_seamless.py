"""Seamless tiles in text to image: circular padding makes the picture wrap around."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.text_to_image import pipelines
from plugins.text_to_image.generator import TextToImage
from studio.core.devices import CPU
from studio.core.generator import Context
from studio.core.metadata import a1111_text, result_record
from tests.t2i_tiny import build_pipeline

# DDIM: no fresh noise per step, so a picture is a function of its starting noise alone
SMALL = {"prompt": "a cat", "steps": 3, "width": 64, "height": 64, "seed": 3, "scheduler": "ddim"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny pipeline whose VAE decoder averages (positive kernels): its pictures are smooth,
    so a seam between unrelated edges shows, as in real pictures (random kernels give noise,
    in which no seam can be seen)."""
    import torch
    from diffusers import StableDiffusionPipeline

    root = tmp_path_factory.mktemp("models")
    folder = build_pipeline(root / "tiny-sd")
    pipe = StableDiffusionPipeline.from_pretrained(str(folder), local_files_only=True)
    with torch.no_grad():
        for layer in pipe.vae.decoder.modules():
            if isinstance(layer, torch.nn.Conv2d):
                weight = layer.weight.abs()
                layer.weight.copy_(weight / weight.sum(dim=(1, 2, 3), keepdim=True))
    pipe.vae.save_pretrained(folder / "vae")
    return root


@pytest.fixture
def generator(models, monkeypatch, tmp_path):
    monkeypatch.setenv("STUDIO_MODEL_PATHS", str(models))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))
    return TextToImage()


def run(generator, models, **values):
    ctx = Context(CPU, None, threads=1)
    request = generator.make_request({"model": str(models / "tiny-sd"), **SMALL, **values})
    return generator.run(request, ctx)


def seam_ratio(images: list, axes: tuple[int, ...]) -> float:
    """Mean energy (squared difference) across the wrap / across the seams inside, over the
    pictures and `axes`; inside, only the seams of the wrap's phase count: the VAE doubles
    each latent pixel, so seams between two copies of one pixel are quieter than others."""
    wrap, inside = [], []
    for image in images:
        for axis in axes:
            a = np.moveaxis(np.asarray(image, dtype=np.float64), axis, 0)
            steps = ((a[1:] - a[:-1]) ** 2).mean(axis=(1, 2))
            inside.extend(steps[1::2])
            wrap.append(((a[0] - a[-1]) ** 2).mean())
    return float(np.mean(wrap) / np.mean(inside))


@pytest.mark.slow
def test_tileable_pictures_have_no_seam_across_the_wrap(generator, models):
    tiled_results = run(generator, models, tiling=True, count=6)
    plain_results = run(generator, models, tiling=False, count=6)
    tiled, plain = [r.image for r in tiled_results], [r.image for r in plain_results]
    ratios = [seam_ratio(tiled, (0,)), seam_ratio(tiled, (1,)), seam_ratio(plain, (0, 1))]
    # no higher than inside, down and across (the spread of six pictures aside; DDIM and one
    # thread make the figures the same every run); the measure sees a plain picture's seams
    assert ratios[0] <= 1.5 and ratios[1] <= 1.5 and ratios[2] >= 2.5, ratios
    text = a1111_text(result_record(tiled_results[0]))
    assert "Tiling: True" in text and "tileable" in tiled_results[0].note  # as A1111 writes it
    assert "Tiling" not in a1111_text(result_record(plain_results[0]))


def test_shifting_the_noise_rolls_the_picture(generator, models):
    """With circular padding the model is equivariant to shifts of its stride: the tiny UNet
    downsamples once (2 latent pixels; SD's UNet: 8) and the VAE doubles each pixel, so noise
    rolled by 2 latent pixels rolls the picture by 4 pixels, exactly."""
    import torch

    from studio.core.devices import torch_threads

    run(generator, models, tiling=True, steps=1)  # the app's pipeline, switched to tileable
    pipe = pipelines.shared.current.text2img
    noise = torch.randn(1, 4, 32, 32, generator=torch.Generator().manual_seed(3))

    def picture(latents):
        with torch_threads(1):
            out = pipe("a cat", latents=latents, num_inference_steps=3, output_type="np")
        return out.images[0]

    first = picture(noise)
    rolled = picture(torch.roll(noise, (2, -2), dims=(2, 3)))
    assert np.abs(np.roll(first, (4, -4), axis=(0, 1)) - rolled).max() < 1e-4
    run(generator, models, tiling=False, steps=1)  # and back: no circular padding is left
    convs = [m for m in pipe.unet.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.padding_mode == "zeros" for m in convs)
    again = picture(torch.roll(noise, (2, -2), dims=(2, 3)))
    assert np.abs(np.roll(first, (4, -4), axis=(0, 1)) - again).max() > 1e-2
