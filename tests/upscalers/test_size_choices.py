"""GAN faces' and VAE digits' Size: Lanczos by default, or a Real-ESRGAN network, and the
note says which ran."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.gan_faces.generator import GanFaces
from plugins.vae_digits.generator import VaeDigits
from studio.core.devices import CPU
from studio.core.generator import Context

FAST = "R-ESRGAN AnimeVideo"


@pytest.mark.slow
@pytest.mark.parametrize(("generator", "values", "native", "size"), [
    (GanFaces, {"count": 1, "seed": 5}, 64, 128),
    (VaeDigits, {"count": 1, "seed": 5}, 28, 112),
])  # fmt: skip
def test_size_upscales_with_the_chosen_upscaler(models_dir, generator, values, native, size):
    gen = generator()
    assert gen.param("upscaler").default == "Lanczos"
    ctx = Context(CPU, models_dir, threads=2)
    gen.load(ctx)
    made = {}
    for upscaler in ("Lanczos", FAST):
        request = gen.make_request({**values, "size": size, "upscaler": upscaler})
        (result,) = gen.run(request, ctx)
        assert result.size == (size, size)
        assert f"upscaled {native} → {size} px ({upscaler})" in result.note
        made[upscaler] = np.asarray(result.image.convert("RGB"), np.int16)
    assert np.abs(made["Lanczos"] - made[FAST]).mean() > 1  # a network ran, not Lanczos
