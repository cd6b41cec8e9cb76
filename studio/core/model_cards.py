"""The cards that say where each installed model came from.

Every installed model is a folder under the user's model folder holding weight files
(safetensors or ONNX only) and a `model.json` card: name, generator, source, licence,
SHA-256 of each file. Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from studio.core.paths import models_dir

CARD_NAME = "model.json"


@dataclass
class ModelCard:
    """Provenance of an installed model, stored as model.json beside its weights."""

    name: str
    generator: str
    files: dict[str, str]  # file name -> SHA-256
    source: str
    license: str
    description: str = ""
    installed: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    extra: dict[str, object] = field(default_factory=dict)

    def save(self, folder: Path) -> Path:
        path = folder / CARD_NAME
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, folder: Path) -> ModelCard:
        data = json.loads((folder / CARD_NAME).read_text(encoding="utf-8"))
        return cls(**data)

    @property
    def short_hash(self) -> str:
        first = next(iter(self.files.values()), "")
        return first[:10]


@dataclass(frozen=True)
class InstalledModel:
    """An installed model folder and its card."""

    folder: Path
    card: ModelCard

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())


def installed_models(root: Path | None = None) -> Iterator[InstalledModel]:
    """Every model folder with a readable card under `root`: generator/model, or
    generator/<group>/model (e.g. trained versions under <generator>/models/)."""
    root = root or models_dir()
    if not root.is_dir():
        return
    cards = [*root.glob(f"*/*/{CARD_NAME}"), *root.glob(f"*/*/*/{CARD_NAME}")]
    for card_path in sorted(cards):
        try:
            yield InstalledModel(card_path.parent, ModelCard.load(card_path.parent))
        except (OSError, ValueError, TypeError):
            continue
