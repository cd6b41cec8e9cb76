"""Where GAN faces models live and how each is read: the installed DigiFace generator, the
ones Studio trained, and the user's own DCGAN generator files.

A model's value in a request is "dcgan-digiface", the name of a trained model, the file name
of a checkpoint in <models>/gan_faces/, or a path. Listing and resolving import no torch.
Weights are read from safetensors, or from a PyTorch file with `torch.load(weights_only=True)`
(the DCGAN tutorial's `netG` state dict); the network's size (nz, ngf) comes from the shapes.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.generator import GeneratorError
from studio.core.models import ModelCard, sha256_of

from . import install

DEFAULT = install.MODEL_FOLDER[1]
WEIGHTS_FILE = install.WEIGHTS_FILE
CHECKPOINT_FILE = "checkpoint.safetensors"
USER_SUFFIXES = (".pth", ".pt", ".safetensors")
MAX_FILE_BYTES = 1 << 30  # a 64 px DCGAN generator is ~14 MB; refuse to read anything huge
LAYERS = (0, 3, 6, 9, 12)  # the ConvTranspose2d layers of the tutorial's nn.Sequential
NESTED_KEYS = ("netG_state_dict", "netG", "generator", "state_dict", "model")


@dataclass(frozen=True)
class GanModel:
    """One generator on disk: its request value, weights file, and folder (None for a loose
    file, whose directions are kept beside it)."""

    value: str
    label: str
    path: Path
    folder: Path | None = None
    card: ModelCard | None = None

    @property
    def directions_path(self) -> Path:
        if self.folder is not None:
            return self.folder / "directions.safetensors"
        return self.path.with_name(self.path.name + ".directions.safetensors")

    @property
    def cache_key(self) -> tuple[str, int]:
        return str(self.path.resolve()), self.path.stat().st_mtime_ns

    @property
    def short_hash(self) -> str:
        if self.card is not None and self.card.short_hash:
            return self.card.short_hash
        return sha256_of(self.path)[:10]


def root(models_dir: Path) -> Path:
    return Path(models_dir) / "gan_faces"


def trained_root(models_dir: Path) -> Path:
    return root(models_dir) / "trained"


def models(models_dir: Path | None) -> list[GanModel]:
    """The installed default, then trained models (newest first), then the user's files."""
    if models_dir is None:
        return []
    found: list[GanModel] = []
    default = _folder_model(DEFAULT, install.model_folder(Path(models_dir)))
    if default is not None:
        found.append(default)
    trained = [_folder_model(f.name, f) for f in _dirs(trained_root(models_dir))]
    trained = [m for m in trained if m is not None]
    trained.sort(key=lambda m: (m.card.installed if m.card else "", m.value), reverse=True)
    found += trained
    folder = root(models_dir)
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in USER_SUFFIXES:
                found.append(GanModel(path.name, f"{path.name} (your file)", path))
    return found


def resolve(value: str | None, models_dir: Path | None) -> GanModel:
    """The model a request names; a clear GeneratorError when there is none."""
    value = value or DEFAULT
    known = models(models_dir)
    for model in known:
        if model.value == value:
            return model
    path = Path(value).expanduser()
    if path.is_dir():
        model = _folder_model(path.name, path)
        if model is not None:
            return model
    if path.is_file():
        return GanModel(path.name, path.name, path)
    if value == DEFAULT:
        raise GeneratorError(
            "The GAN face weights are not installed. Run `studio models install-defaults`."
        )
    names = ", ".join(m.value for m in known) or "none"
    raise GeneratorError(f"There is no GAN faces model {value!r}; available: {names}")


def _dirs(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []


def _folder_model(value: str, folder: Path) -> GanModel | None:
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        return None
    try:
        card = ModelCard.load(folder)
    except (OSError, ValueError, TypeError):
        card = None
    return GanModel(value, _label(value, card), weights, folder, card)


def _label(value: str, card: ModelCard | None) -> str:
    if card is None:
        return value
    extra = card.extra
    if value == DEFAULT:
        return card.name
    done, total = extra.get("step"), extra.get("steps")
    images = extra.get("images")
    what = f"{images} images, " if images else ""
    if extra.get("status") == "stopped" and done is not None:
        return f"{value} (trained: {what}stopped at step {done} of {total})"
    return f"{value} (trained: {what}{done} steps)"


def version_name(requested: str, models_dir: Path) -> str:
    """A safe, unused folder name for a new trained model (a timestamp when none is asked)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", requested.strip()).strip(".-")[:60]
    name = name or f"gan-{time.strftime('%Y%m%d-%H%M%S')}"
    if name == DEFAULT:
        name = f"{name}-trained"
    candidate, n = name, 2
    while (trained_root(models_dir) / candidate).exists():
        candidate, n = f"{name}-{n}", n + 1
    return candidate


# ---------------------------------------------------------------- reading weights (torch)


def read_state(path: Path) -> dict[str, Any]:
    """A generator state dict from safetensors or a weights-only PyTorch file, unwrapped."""
    import torch

    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise GeneratorError(f"{path.name} is {size / 2**30:.1f} GB: not a 64 px DCGAN generator")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise GeneratorError(
            f"{path.name} could not be read as weights ({type(exc).__name__}: "
            f"{str(exc)[:200]}). Studio reads safetensors, or PyTorch state dicts saved with "
            "torch.save(netG.state_dict(), ...) (weights only, no pickled code)."
        ) from None
    return unwrap(state, path.name)


def unwrap(state: Any, name: str) -> dict[str, Any]:
    """The generator's tensors of a checkpoint: nested under a known key, `module.` prefixes
    (DataParallel) removed."""
    import torch

    for _ in range(3):
        if not isinstance(state, dict):
            break
        inner = next((state[k] for k in NESTED_KEYS if isinstance(state.get(k), dict)), None)
        if inner is None or "main.0.weight" in state:
            break
        state = inner
    if not isinstance(state, dict):
        raise GeneratorError(f"{name} holds a {type(state).__name__}, not a state dict")
    tensors = {
        (k[len("module.") :] if k.startswith("module.") else k): v
        for k, v in state.items()
        if isinstance(v, torch.Tensor)
    }
    architecture(tensors, name)  # raises with a clear message when it is no DCGAN generator
    return tensors


def architecture(state: dict[str, Any], name: str = "the checkpoint") -> tuple[int, int, int]:
    """(nz, ngf, channels) of a DCGAN-tutorial generator, read from its weight shapes."""
    missing = [f"main.{i}.weight" for i in LAYERS if f"main.{i}.weight" not in state]
    if missing:
        raise GeneratorError(
            f"{name} is not a DCGAN generator in the PyTorch tutorial's layout (main.0 … "
            f"main.12): it has no {missing[0]}"
        )
    shapes = [tuple(state[f"main.{i}.weight"].shape) for i in LAYERS]
    nz, ngf8 = shapes[0][0], shapes[0][1]
    ngf, channels = shapes[4][0], shapes[4][1]
    expected = [
        (nz, ngf * 8),
        (ngf * 8, ngf * 4),
        (ngf * 4, ngf * 2),
        (ngf * 2, ngf),
        (ngf, channels),
    ]
    if (
        ngf8 != ngf * 8
        or [s[:2] for s in shapes] != expected
        or any(s[2:] != (4, 4) for s in shapes)
    ):
        raise GeneratorError(f"{name}: the layer shapes {shapes} are not a 64 px DCGAN generator")
    if channels not in (1, 3):
        raise GeneratorError(f"{name} makes {channels}-channel images; Studio shows 1 or 3")
    return int(nz), int(ngf), int(channels)


def load_network(model: GanModel) -> Any:
    """The generator network of `model`, on the CPU, in eval mode."""
    from .network import DCGANGenerator

    state = read_state(model.path)
    nz, ngf, channels = architecture(state, model.path.name)
    net = DCGANGenerator(nz, ngf, channels)
    result = net.load_state_dict(state, strict=False)
    wanted = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if wanted:
        raise GeneratorError(f"{model.path.name} lacks {len(wanted)} tensors, e.g. {wanted[0]}")
    return net.eval()
