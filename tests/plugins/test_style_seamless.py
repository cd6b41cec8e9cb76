"""Tileable style transfer: a texture that tiles still tiles once stylised."""

from __future__ import annotations

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
        return textures.seam_ratio(result.image)

    tiled, plain = styled(True), styled(False)
    assert tiled < 1.3, (tiled, plain)  # no seam across the wrap: like any step inside
    assert plain > 2.0, (tiled, plain)  # the networks' own edge padding leaves one
