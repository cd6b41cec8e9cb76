"""Tileable faces: the DCGAN's upsampling computed circularly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plugins.gan_faces import seamless
from plugins.gan_faces.generator import GanFaces
from plugins.gan_faces.network import DCGANGenerator, init_weights
from plugins.style_transfer.textures import seam_ratio
from studio.core.devices import CPU
from studio.core.generator import Context


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    model = DCGANGenerator()
    model.apply(init_weights)
    return model.eval()


def test_the_circular_network_is_the_plain_one_over_a_tiled_start(net):
    """Independent of the fold: the plain network over the first layer's 4 × 4 output tiled
    3 × 3 paints, far from its zero-padded edges, exactly the circular network's picture."""
    z = torch.randn(2, 100, 1, 1, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        circular = seamless.forward(net, z)
        start = net.main[:3](z)  # first layer, its batch norm and ReLU: [2, 512, 4, 4]
        plain = net.main[3:](start.repeat(1, 1, 3, 3))  # [2, 3, 192, 192]
    assert circular.shape == (2, 3, 64, 64)
    assert torch.allclose(circular, plain[:, :, 64:128, 64:128], atol=1e-5)


def test_tileable_faces_repeat_without_a_seam(models_dir):
    gan = GanFaces()
    ctx = Context(CPU, models_dir)

    def ratios(tileable):
        request = gan.make_request({"count": 8, "seed": 3, "tileable": tileable})
        return [seam_ratio(result.image) for result in gan.run(request, ctx)]

    tiled, plain = ratios(True), ratios(False)
    assert np.median(tiled) < 1.3, (tiled, plain)  # across the wrap like any step inside
    assert np.median(plain) > 5.0, (tiled, plain)  # the edges of a plain face do not meet
    request = gan.make_request({"count": 1, "seed": 3, "tileable": True})
    assert "tileable" in gan.run(request, ctx)[0].note
