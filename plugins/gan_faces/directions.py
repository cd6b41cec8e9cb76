"""Principal directions of a GAN's latent space, found as GANSpace does (Härkönen et al.,
"GANSpace: Discovering Interpretable GAN Controls", 2020), and a walk along them.

PCA of the generator's first-layer activations over SAMPLES random latents gives the main
ways its pictures vary; a linear regression of the latents on the PCA coordinates carries
each component back into latent space. Moving a latent by `amount` along direction k adds
amount * sigma_k * u_k, where sigma_k is the spread of the data along component k, so the
amounts read in standard deviations. The directions and their names are kept with the model.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.generator import GeneratorError

from . import store

SAMPLES = 4000
COUNT = 10  # directions found (and sliders shown)
SEED = 0
AMOUNT_LIMIT = 20.0
_PAIR = re.compile(r"^\s*(\d{1,3})\s*:\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")


def compute(net: Any, count: int = COUNT, samples: int = SAMPLES, seed: int = SEED) -> Any:
    """The (count, nz) latent directions, scaled by sigma, and the spread of each."""
    import torch

    nz = int(net.main[0].weight.shape[0])
    z = torch.randn(samples, nz, generator=torch.Generator().manual_seed(seed))
    first = net.main[:3]  # ConvTranspose2d, BatchNorm2d, ReLU: the 4x4 feature maps
    with torch.inference_mode():
        activations = torch.cat([first(b[:, :, None, None]).flatten(1) for b in z.split(500)])
    mean = activations.mean(dim=0, keepdim=True)
    torch.manual_seed(seed)  # pca_lowrank's random projection: the same directions every time
    _u, _s, components = torch.pca_lowrank(activations - mean, q=count + 10, center=False)
    coords = (activations - mean) @ components[:, :count]  # samples x count
    sigma = coords.std(dim=0)
    # z ~ coords @ B: B's row k is the latent step for one unit along component k.
    solution = torch.linalg.lstsq(coords, z - z.mean(dim=0)).solution
    return (solution * sigma[:, None]).contiguous(), sigma.contiguous()


def save(path: Path, directions: Any, sigma: Any, names: list[str]) -> None:
    from safetensors.torch import save_file

    meta = {"names": json.dumps(names), "samples": str(SAMPLES), "layer": "main.2 (first)"}
    tmp = path.with_name(path.name + ".tmp")
    save_file({"directions": directions, "sigma": sigma}, str(tmp), metadata=meta)
    os.replace(tmp, path)


def load(path: Path) -> tuple[Any, list[str]]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        names = json.loads((handle.metadata() or {}).get("names", "[]"))
        directions = handle.get_tensor("directions")
    names = [str(n) for n in names][: len(directions)]
    names += [default_name(i) for i in range(len(names), len(directions))]
    return directions, names


def default_name(index: int) -> str:
    return f"Direction {index + 1}"


def directions_of(model: store.GanModel, net: Any) -> tuple[Any, list[str]]:
    """The model's saved directions, found (and saved beside it) the first time."""
    path = model.directions_path
    if path.is_file():
        directions, names = load(path)
        if directions.shape[1] == int(net.main[0].weight.shape[0]):
            return directions, names
    directions, sigma = compute(net)
    names = [default_name(i) for i in range(len(directions))]
    with contextlib.suppress(OSError):  # a read-only folder: they still work, unsaved
        save(path, directions, sigma, names)
    return directions, names


def parse_offsets(text: str) -> dict[int, float]:
    """'0:1.5, 3:-2' -> {0: 1.5, 3: -2.0}; a clear error for anything else."""
    offsets: dict[int, float] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        match = _PAIR.match(part)
        if match is None:
            raise GeneratorError(
                f"Directions: {part.strip()!r} is not 'direction:amount' (e.g. 0:1.5,3:-2)"
            )
        index, amount = int(match.group(1)), float(match.group(2))
        if abs(amount) > AMOUNT_LIMIT:
            raise GeneratorError(f"Directions: {amount:g} is beyond ±{AMOUNT_LIMIT:g}")
        offsets[index] = offsets.get(index, 0.0) + amount
    return offsets


def format_offsets(offsets: list[float] | dict[int, float]) -> str:
    pairs = offsets.items() if isinstance(offsets, dict) else enumerate(offsets)
    return ",".join(f"{i}:{round(a, 2):g}" for i, a in pairs if round(a, 2) != 0)


def apply_offsets(latents: Any, offsets: dict[int, float], model: store.GanModel) -> Any:
    """Latents moved along the model's saved directions."""
    path = model.directions_path
    if not path.is_file():
        raise GeneratorError(
            f"{model.value} has no directions yet: open the Directions panel with it once."
        )
    directions, _names = load(path)
    step = latents.new_zeros(latents.shape[1])
    for index, amount in offsets.items():
        if index >= len(directions):
            raise GeneratorError(
                f"Directions: {model.value} has {len(directions)} directions (0 to "
                f"{len(directions) - 1}), not {index}"
            )
        step = step + amount * directions[index]
    return latents + step


class Walk:
    """The Directions panel's model: one starting latent of one GAN faces model, moved live.

    Created in the window's process; all its calls come from the panel's own thread."""

    def __init__(self, models_dir: Any, faces: Any) -> None:
        """faces: the GAN faces generator whose form values `open` reads."""
        self.models_dir = Path(models_dir) if models_dir is not None else None
        self.values: dict[str, Any] = {}
        self._model: store.GanModel | None = None
        self._loaded: Any = None
        self._start: Any = None
        self._faces: Any = faces
        self._base: dict[int, float] = {}
        self.directions: Any = None
        self.names: list[str] = []

    def open(self, values: dict[str, Any], progress: Callable[[int, int], None] | None = None):
        """Load the model and starting latent the GAN faces form `values` name."""

        from .latents import truncate

        faces = self._faces
        values = dict(
            faces.make_request({k: v for k, v in values.items() if _known(faces, k)}).params
        )
        model = store.resolve(values["model"], self.models_dir)
        self._loaded, self._model = faces.loaded(model), model
        if values["mode"] == "find":  # walk from the picture that search found
            from .latents import found_name

            if not values["image"]:
                raise GeneratorError("Find needs a picture to walk from.")
            found = found_name(values["image"], model, values["find_steps"], values["seed"])
            values.update(mode="sample", start=found, truncation=1.0, directions="")
        if progress is not None:
            progress(0, 1)
        self.directions, self.names = directions_of(model, self._loaded.cpu_net)
        if progress is not None:
            progress(1, 1)
        self._start, self.values = self._starting_point(values, model), dict(values)
        if float(values["truncation"]) < 1.0:
            typical = self._loaded.typical_latent()
            self._start = truncate(self._start[None], typical, float(values["truncation"]))[0]
        # The form's own moves are part of the start; the sliders add to them.
        self._base = parse_offsets(values["directions"]) if values["directions"] else {}
        if self._base:
            self._start = apply_offsets(self._start[None], self._base, model)[0]
        return list(self.names)

    def _starting_point(self, values: Any, model: store.GanModel) -> Any:
        from .find import load_found
        from .latents import seed_latent

        if values["start"]:
            return load_found(values["start"], self.models_dir, model)[0]
        return seed_latent(values["seed"], self._loaded.nz)

    def render(self, offsets: list[float]) -> Any:
        """The starting face moved by `offsets` (standard deviations per direction)."""
        import torch
        from PIL import Image

        from studio.core.devices import torch_threads

        z = self._start.clone()
        for index, amount in enumerate(offsets[: len(self.directions)]):
            if amount:
                z += amount * self.directions[index]
        # One thread: a training job may keep both cores busy, and OpenMP's workers then wait
        # on each other (measured under load: median 11 ms, p95 212 ms on two; 17 and 34 on one).
        with torch.inference_mode(), torch_threads(1):
            (pixels,) = _decode_cpu(self._loaded, z[None])
        return Image.fromarray(pixels, "RGB")

    def rename(self, index: int, name: str) -> None:
        self.names[index] = name.strip() or default_name(index)
        path = self._model.directions_path
        directions, sigma = self._saved_arrays(path)
        save(path, directions, sigma, self.names)

    def values_for(self, offsets: list[float]) -> dict[str, Any]:
        """GAN faces form values that make this face: one sample, moved by `offsets`."""
        moves = dict(self._base)
        for index, amount in enumerate(offsets):
            moves[index] = moves.get(index, 0.0) + amount
        values = dict(self.values)
        values.update(
            mode="sample", count=1, directions=format_offsets(dict(sorted(moves.items())))
        )
        return values

    def _saved_arrays(self, path: Path) -> tuple[Any, Any]:
        from safetensors.torch import load_file

        tensors = load_file(str(path))
        return tensors["directions"], tensors["sigma"]


def _decode_cpu(loaded: Any, z: Any) -> list[Any]:
    import torch

    images = loaded.cpu_net(z[:, :, None, None])
    scaled = ((images + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    if scaled.shape[1] == 1:
        scaled = scaled.expand(-1, 3, -1, -1)
    return list(scaled.permute(0, 2, 3, 1).numpy())


def _known(faces: Any, key: str) -> bool:
    return any(p.name == key for p in faces.params)
