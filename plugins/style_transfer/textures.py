"""Seamless test textures and the seam measure that tileable style transfer is checked with
(the tests and bench/style_seamless.py). numpy only."""

from __future__ import annotations

from typing import Any


def texture(side: int, seed: int = 0, scale: float = 24.0) -> Any:
    """A smooth random RGB picture that tiles exactly (noise low-passed in Fourier space)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((side, side, 3))
    f = np.fft.fftfreq(side)
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    smooth = np.real(
        np.fft.ifft2(
            np.fft.fft2(noise, axes=(0, 1)) * np.exp(-((radius * scale) ** 2))[..., None],
            axes=(0, 1),
        )  # fmt: skip
    )
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return Image.fromarray((smooth * 255).round().astype(np.uint8))


def seam_steps(image: Any) -> tuple[Any, Any]:
    """The mean squared steps across the wrap (last row to first, last column to first) and
    between neighbouring rows and columns inside, as arrays."""
    import numpy as np

    a = np.asarray(image.convert("RGB"), dtype=np.float64)
    inside = np.concatenate(
        [((a[1:] - a[:-1]) ** 2).mean(axis=(1, 2)), ((a[:, 1:] - a[:, :-1]) ** 2).mean(axis=(0, 2))]
    )
    wrap = np.array([((a[0] - a[-1]) ** 2).mean(), ((a[:, 0] - a[:, -1]) ** 2).mean()])
    return wrap, inside


def seam_ratio(image: Any) -> float:
    """Mean step across the wrap over the mean step inside (`seam_steps`): about 1 for a
    picture that tiles, more at a seam."""
    wrap, inside = seam_steps(image)
    return float(wrap.mean() / inside.mean())
