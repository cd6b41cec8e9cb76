"""Tileable style transfer: a texture that tiles still tiles once stylised."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.style_transfer import samples, textures
from plugins.style_transfer.generator import StyleTransfer
from studio.core.devices import CPU
from studio.core.generator import Context


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seamless")
    textures.texture(192, seed=1).save(folder / "texture.png")
    samples.painting(128, seed=3).save(folder / "painting.png")
    return folder


@pytest.mark.parametrize(("model", "detail"), [("builtin", "fine"), ("arbitrary", "coarse")])
def test_a_tileable_texture_stays_tileable(files, model, detail):
    generator = StyleTransfer()
    texture = files / "texture.png"
    assert textures.seam_ratio(textures.texture(192, seed=1)) < 1.2  # the input tiles

    def styled(tileable):
        values = {"image": str(texture), "model": model, "detail": detail, "tileable": tileable}
        values["style_image"] = str(files / "painting.png")
        request = generator.make_request(values)
        (result,) = generator.run(request, Context(CPU, None, threads=1))
        assert result.image.size == (192, 192)
        return textures.seam_steps(result.image)

    (tiled, inside), (plain, plain_inside) = styled(True), styled(False)
    # No seam across the wrap: both steps are smaller than one step in ten inside ...
    assert (tiled < np.percentile(inside, 90)).all(), (tiled, np.percentile(inside, [50, 90]))
    # ... where the networks' own edge padding leaves a step larger than any inside.
    assert (plain > plain_inside.max()).all(), (plain, plain_inside.max())
