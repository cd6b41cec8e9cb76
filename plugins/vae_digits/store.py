"""Where VAE models live and how they are written and read: safetensors plus a model.json card.

The two shipped models are in resources/vae_digits/<z2|z16>/; models trained in the app go to
<models_dir>/vae_digits/models/<name>/. A model's value in a request is "z2", "z16", the name
of a trained version, or a folder path. Listing and resolving import no torch.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.generator import GeneratorError
from studio.core.models import CARD_NAME, ModelCard, sha256_of

RESOURCES = Path(__file__).resolve().parents[2] / "resources" / "vae_digits"
SHIPPED = ("z16", "z2")
WEIGHTS_FILE = "vae.safetensors"
LICENSE = "MIT, like Studio (our own weights); trained on MNIST digits, see the data entry"


@dataclass(frozen=True)
class ModelVersion:
    """One VAE model on disk: its request value, folder, card and whether it ships with Studio."""

    value: str
    folder: Path
    card: ModelCard
    shipped: bool

    @property
    def z_dim(self) -> int:
        return int(self.card.extra["z_dim"])  # type: ignore[call-overload]

    @property
    def elbo_neg(self) -> float | None:
        heldout = self.card.extra.get("heldout")
        return float(heldout["elbo_neg"]) if isinstance(heldout, dict) else None

    @property
    def label(self) -> str:
        score = f", -ELBO {self.elbo_neg:.1f}" if self.elbo_neg is not None else ""
        if self.shipped:
            return f"{self.value} (shipped{score})"
        day = self.card.installed[:10]
        return f"{self.value} (z{self.z_dim}, trained {day}{score})"


def trained_root(models_dir: Path) -> Path:
    return Path(models_dir) / "vae_digits" / "models"


def shipped_installed() -> bool:
    return all((RESOURCES / name / WEIGHTS_FILE).is_file() for name in SHIPPED)


def versions(models_dir: Path | None) -> list[ModelVersion]:
    """The shipped models, then every trained version with a readable card (newest first)."""
    found = [_version(name, RESOURCES / name, True) for name in SHIPPED]
    trained = []
    root = trained_root(Path(models_dir)) if models_dir is not None else None
    if root is not None and root.is_dir():
        for folder in root.iterdir():
            if folder.name not in SHIPPED:
                trained.append(_version(folder.name, folder, False))
    trained = [v for v in trained if v is not None]
    trained.sort(key=lambda v: (v.card.installed, v.value), reverse=True)
    return [v for v in found if v is not None] + trained


def resolve(value: str | None, models_dir: Path | None, default: str = "z16") -> ModelVersion:
    """The model a request names; a clear GeneratorError when there is no such model."""
    value = value or default
    for version in versions(models_dir):
        if version.value == value:
            return version
    path = Path(value).expanduser()
    if path.is_dir():
        version = _version(path.name, path, False)
        if version is not None:
            return version
    names = ", ".join(v.value for v in versions(models_dir))
    raise GeneratorError(f"There is no VAE digits model {value!r}; available: {names}")


def _version(value: str, folder: Path, shipped: bool) -> ModelVersion | None:
    if not (folder / WEIGHTS_FILE).is_file():
        return None
    try:
        card = ModelCard.load(folder)
        int(card.extra["z_dim"])  # type: ignore[call-overload]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return ModelVersion(value, folder, card, shipped)


def version_name(requested: str, z_dim: int, models_dir: Path) -> str:
    """A safe, unused folder name for a new version (a timestamp when none is asked for)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", requested.strip()).strip(".-")[:60]
    if not name:
        name = f"z{z_dim}-{time.strftime('%Y%m%d-%H%M%S')}"
    if name in SHIPPED:
        name = f"{name}-trained"
    root = trained_root(models_dir)
    candidate, n = name, 2
    while (root / candidate).exists():
        candidate, n = f"{name}-{n}", n + 1
    return candidate


def save_model(
    state: dict[str, Any], z_dim: int, card_fields: dict[str, Any], folder: Path
) -> Path:
    """Write the weights (float16 safetensors) and a model.json card; returns the folder.

    card_fields go into the card's `extra` (data, split, epochs, seed, held-out figures, the
    command...); "name" and "description" there, if given, become the card's own fields.
    """
    import torch
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # float16 halves the files; the card's figures are measured on these rounded weights
    tensors = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in state.items()}
    target = folder / WEIGHTS_FILE
    tmp = target.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"z_dim": str(z_dim), "format": "studio-vae-digits-1"})
    os.chmod(tmp, 0o644)  # safetensors writes 0600; a model folder is meant to be shared
    os.replace(tmp, target)
    extra = dict(card_fields)
    name = str(extra.pop("name", folder.name))
    description = str(extra.pop("description", f"Convolutional VAE of 28x28 digits, z={z_dim}"))
    extra["z_dim"] = z_dim
    ModelCard(
        name=name,
        generator="vae_digits",
        files={WEIGHTS_FILE: sha256_of(target)},
        source="trained by Studio (plugins/vae_digits/train.py); see `command`",
        license=LICENSE,
        description=description,
        extra=json.loads(json.dumps(extra)),  # plain JSON types only, or the card fails to load
    ).save(folder)
    return folder


def load_model(folder: Path) -> tuple[Any, ModelCard]:
    """(ConvVAE in eval mode on the CPU, float32; its card). GeneratorError if unreadable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .model import ConvVAE

    folder = Path(folder)
    path = folder / WEIGHTS_FILE
    try:
        card = ModelCard.load(folder)
        z_dim = int(card.extra["z_dim"])  # type: ignore[call-overload]
        state = {k: v.float() for k, v in load_file(str(path)).items()}
        model = ConvVAE(z_dim)
        model.load_state_dict(state)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
        raise GeneratorError(f"Could not read the VAE model in {folder}: {exc}") from exc
    return model.eval(), card


__all__ = [
    "CARD_NAME",
    "ModelVersion",
    "load_model",
    "resolve",
    "save_model",
    "shipped_installed",
    "trained_root",
    "version_name",
    "versions",
]
