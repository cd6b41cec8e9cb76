"""GAN faces and VAE digits take 64-bit seeds: below 2**32 the very same noise as always (what
`torch.Generator().manual_seed(seed)` gave), above it distinct faces for distinct seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plugins.gan_faces.generator import GanFaces
from plugins.gan_faces.latents import seed_latents
from plugins.vae_digits.generator import prior_latents
from studio.core.devices import CPU
from studio.core.generator import SEED_MAX, Context, seed_at

SMALL = [0, 7, 2**31 + 3, 2**32 - 1]
LARGE = [2**32, 2**32 + 1, 1084614416978598, 6952411511246973023, SEED_MAX]


def torch_noise(seed: int, size: int) -> torch.Tensor:
    """The noise the plugins drew before seeds went past 32 bits."""
    return torch.randn(size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("seed", SMALL)
def test_gan_seeds_below_2_to_the_32_draw_the_same_latent_as_before(seed):
    assert torch.equal(seed_latents(seed, 1)[0], torch_noise(seed, 100))


@pytest.mark.parametrize("seed", SMALL)
def test_vae_seeds_below_2_to_the_32_draw_the_same_latent_as_before(seed):
    assert np.array_equal(prior_latents(16, [seed])[0], torch_noise(seed, 16).numpy())


def test_distinct_seeds_give_distinct_latents_and_seed_plus_one_differs():
    seeds = sorted({seed_at(s, i) for s in [*SMALL, *LARGE] for i in (0, 1)})
    gan_rows = {tuple(seed_latents(seed, 1)[0].tolist()) for seed in seeds}
    vae_rows = {tuple(row) for row in prior_latents(16, seeds).tolist()}
    assert len(gan_rows) == len(vae_rows) == len(seeds)  # torch alone: 0 == 2**32 == 2**63
    assert len(seeds) == 15


@pytest.fixture(scope="module")
def gan(models_dir):
    generator = GanFaces()
    generator.load(Context(CPU, models_dir))
    return generator


def test_a_gan_batch_from_the_largest_seed_wraps_to_seed_0(gan, models_dir):
    ctx = Context(CPU, models_dir)
    results = gan.run(gan.make_request({"count": 2, "seed": SEED_MAX}), ctx)
    assert [r.seed for r in results] == [SEED_MAX, 0]
    zero = gan.run(gan.make_request({"count": 1, "seed": 0}), ctx)[0]
    big = gan.run(gan.make_request({"count": 1, "seed": 2**32}), ctx)[0]
    assert np.array_equal(np.asarray(results[1].image), np.asarray(zero.image))
    assert not np.array_equal(np.asarray(big.image), np.asarray(zero.image))
