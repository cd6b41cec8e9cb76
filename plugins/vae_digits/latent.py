"""A VAE's latent space without Qt: decode points, draw the manifold, place digits on the map.

The window's latent-map panel and drawing pad use `LatentSpace` from a background thread; the
generators use it too. Importing this module imports no torch (only using it does).

The manifold's axes are in probability units, as in Kingma & Welling's figure: cell i of n sits
at the latent value Phi^-1((i + 0.5) / n), so a map of side S pixels shows latent x at
Phi(x) * S from the left and latent y at (1 - Phi(y)) * S from the top (y grows upwards).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from statistics import NormalDist
from typing import Any

from PIL import Image

from studio.core.generator import GeneratorError, seed32
from studio.core.models import ModelCard

from . import prepare, store

_NORMAL = NormalDist()
_EDGE = 1e-6  # keeps Phi^-1 finite at the map's very edges
BATCH = 256  # decoding in blocks bounds memory for big requests


def grid_values(n: int) -> list[float]:
    """The latent value of each of the n rows/columns of the manifold (ascending)."""
    return [_NORMAL.inv_cdf((i + 0.5) / n) for i in range(n)]


def to_map(x: float, y: float, size: float) -> tuple[float, float]:
    """Where latent (x, y) lies on a manifold image `size` px square, in pixels."""
    return _NORMAL.cdf(x) * size, (1.0 - _NORMAL.cdf(y)) * size


def from_map(px: float, py: float, size: float) -> tuple[float, float]:
    """The latent point under pixel (px, py) of a manifold image `size` px square."""
    u = min(max(px / size, _EDGE), 1.0 - _EDGE)
    v = min(max(1.0 - py / size, _EDGE), 1.0 - _EDGE)
    return _NORMAL.inv_cdf(u), _NORMAL.inv_cdf(v)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on the calling thread alone, for this block only.

    The map decodes while a training job may keep both cores busy; OpenMP's worker threads
    then wait on each other (measured: 0.5 ms -> 64 ms per point). One thread is also the
    fastest for these small batches. torch's thread count is per OS thread under OpenMP,
    so this does not slow a training job on another thread.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class LatentSpace:
    """One VAE (any latent size) with decode, encode and map helpers; usable off the UI thread."""

    def __init__(self, model: Any, card: ModelCard | None = None, models_dir: Any = None) -> None:
        self.model = model.eval()
        self.card = card
        self.z_dim = int(model.z_dim)
        self._models_dir = Path(models_dir) if models_dir is not None else None
        self._heldout: list[tuple[float, float, int]] | None = None

    @classmethod
    def open(cls, models_dir: Any, model: str = "z2") -> LatentSpace:
        """Load a 2-D model by request value ("z2", a trained version's name or a folder)."""
        version = store.resolve(model, models_dir, default="z2")
        if version.z_dim != 2:
            raise GeneratorError(
                f"The latent map needs a 2-D model; {version.value!r} has {version.z_dim} "
                "latent dimensions."
            )
        net, card = store.load_model(version.folder)
        return cls(net, card, models_dir)

    # -- the map's layout, for the window (pure arithmetic, any thread)

    @staticmethod
    def to_unit(x: float, y: float) -> tuple[float, float]:
        """Latent point -> (u, v) on the manifold image, (0, 0) top left."""
        return to_map(x, y, 1.0)

    @staticmethod
    def from_unit(u: float, v: float) -> tuple[float, float]:
        return from_map(u, v, 1.0)

    # -- decoding

    def decode(self, points: Sequence[Sequence[float]]) -> list[Image.Image]:
        """One 28x28 grayscale (L) digit per latent point."""
        import torch

        z = torch.tensor([list(map(float, p)) for p in points], dtype=torch.float32)
        return [prepare.to_gray_image(d) for d in self.decode_pixels(z)]

    def decode_pixels(self, z: Any, one_by_one: bool = False) -> Any:
        """Pixel means [N, 28, 28] (numpy, 0..1) for latents z [N, z_dim].

        one_by_one decodes each latent alone, so a digit's pixels never depend on what else
        was in its batch (batched matrix products may round differently in the last bit).
        """
        import torch

        z = torch.as_tensor(z, dtype=torch.float32).reshape(-1, self.z_dim)
        step = 1 if one_by_one else BATCH
        with torch.inference_mode(), _one_thread():
            parts = [
                torch.sigmoid(self.model.decode(z[i : i + step])) for i in range(0, len(z), step)
            ]
            pixels = torch.cat(parts) if parts else torch.zeros(0, 1, 28, 28)
        return pixels[:, 0].numpy()

    def manifold(self, n: int = 20, cell: int = 28) -> Image.Image:
        """An n x n grid of decoded digits over the prior's quantiles (y up), `cell` px each."""
        values = grid_values(n)
        points = [(x, y) for y in reversed(values) for x in values]
        return prepare.grid(self.decode_pixels(self._lift(points)), n, cell)

    def grid_extent(self, n: int) -> tuple[float, float]:
        """(lo, hi): the latent values at the centres of the manifold's first and last cells."""
        values = grid_values(n)
        return values[0], values[-1]

    def sample_grid(self, seed: int, count: int = 64, columns: int = 8) -> Image.Image:
        """`count` digits from the prior, z ~ N(0, I) with a generator seeded by `seed`."""
        import torch

        generator = torch.Generator().manual_seed(seed32(seed))
        z = torch.randn(count, self.z_dim, generator=generator)
        return prepare.grid(self.decode_pixels(z), columns)

    # -- encoding

    def encode_pixels(self, digits: Any) -> Any:
        """Posterior means [N, z_dim] (numpy) of digits [N, 28, 28] in [0, 1]."""
        import torch

        x = torch.as_tensor(digits, dtype=torch.float32).reshape(-1, 1, 28, 28)
        with torch.inference_mode(), _one_thread():
            parts = [self.model.encode(x[i : i + BATCH])[0] for i in range(0, len(x), BATCH)]
        return torch.cat(parts).numpy()

    def encode(self, image: Image.Image) -> tuple[float, ...]:
        """The posterior mean of a picture of a digit (prepared like a dropped image)."""
        mu = self.encode_pixels(prepare.to_digit(image)[None])[0]
        return tuple(float(v) for v in mu)

    def reconstruct(self, image: Image.Image) -> Image.Image:
        """The decoder's digit at the posterior mean of `image`: 28x28, L mode."""
        mu = self.encode_pixels(prepare.to_digit(image)[None])
        return prepare.to_gray_image(self.decode_pixels(mu, one_by_one=True)[0])

    def heldout_points(self) -> list[tuple[float, float, int]]:
        """(x, y, label) of the 500 held-out digits' posterior means (needs the data; cached)."""
        if self._heldout is None:
            from . import data

            if self._models_dir is None:
                raise GeneratorError("This latent space was opened without a models folder.")
            x, y = data.load_digits(self._models_dir)
            _, (x_held, y_held) = data.split(x, y)
            mu = self.encode_pixels(x_held)
            self._heldout = [
                (float(m[0]), float(m[1] if self.z_dim > 1 else 0.0), int(label))
                for m, label in zip(mu, y_held, strict=True)
            ]
        return list(self._heldout)

    def _lift(self, points: Sequence[tuple[float, float]]) -> Any:
        """2-D points as latents; a bigger latent gets zeros (the prior's mean) elsewhere."""
        import torch

        z = torch.zeros(len(points), self.z_dim)
        z[:, : min(2, self.z_dim)] = torch.tensor(points)[:, : self.z_dim]
        return z
