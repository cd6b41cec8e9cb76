"""Finding the user's diffusers models on disk, without importing torch or diffusers.

Three kinds: diffusers pipeline folders (with `model_index.json`), single-file checkpoints
(`.safetensors`, or `.ckpt` read weights-only), and snapshots in the Hugging Face cache. Each
entry says its family (from the pipeline class and the text encoder's width, or from a single
file's tensor names, read from the safetensors header), size and a short hash, and why it
cannot load if it cannot.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .headers import (  # re-exported: discovery's public names
    FAMILIES,
    MAX_HEADER,
    SUPPORTED,
    ModelProblem,
    family_from_keys,
    file_info,
    file_kind,
    is_embedding,
    is_lora,
    is_vae,
    safetensors_header,
    safetensors_keys,
)

T = TypeVar("T")

CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")
FOLDER_NAME = "text_to_image"  # <models>/text_to_image is always searched
DEPTH = 3  # model folders are searched this deep (A1111 users keep sub-folders)


def roots(models_dir: Any) -> list[Path]:
    """Where models are looked for: the user's model folders (Preferences) and, under
    Studio's own models folder, FOLDER_NAME."""
    from studio.core import config

    found = list(config.model_paths())
    if models_dir is not None:
        found.append(Path(models_dir) / FOLDER_NAME)
    return found


@dataclass(frozen=True)
class ModelEntry:
    """One model Studio found. kind: folder, file or cache. family: a FAMILIES key or
    "unknown". problem: why it cannot load (None when it can)."""

    name: str
    path: Path
    kind: str
    family: str
    size: int
    short_hash: str
    problem: str | None = None
    config: Path | None = None  # for a single file: Studio's configuration folder for it
    variant: str = ""  # for a single file: that folder's name (e.g. "sd1-inpaint", "sd2-v")
    paired: Path | None = None  # a local diffusers folder of its family, if there is one

    @property
    def family_name(self) -> str:
        return FAMILIES.get(self.family, "unknown family")

    @property
    def label(self) -> str:
        from studio.core.models import format_size

        text = f"{self.name} · {self.family_name} · {format_size(self.size)} · {self.short_hash}"
        return text + ("  (cannot load)" if self.problem else "")


# ---------------------------------------------------------------- single files

__all__ = [
    "MAX_HEADER",
    "ModelEntry",
    "ModelProblem",
    "family_from_keys",
    "file_info",
    "file_kind",
    "find",
    "is_embedding",
    "is_lora",
    "is_vae",
    "safetensors_header",
    "safetensors_keys",
    "scan",
]


def quick_hash(path: Path) -> str:
    """A short hash that reads 64 KiB, not gigabytes: SHA-256 of the bytes at 1 MiB (the
    "model hash" of A1111's earlier versions), first 8 hex digits; of the UNet for a folder."""
    if path.is_dir():
        weights = _weights(path / "unet") or _weights(path / "transformer")
        if weights is None:
            return "--------"
        path = weights
    with open(path, "rb") as handle:
        handle.seek(0x100000)
        block = handle.read(0x10000)
        if not block:
            handle.seek(0)
            block = handle.read(0x10000)
    return hashlib.sha256(block).hexdigest()[:8]


def _weights(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    for pattern in ("*.safetensors", "*.bin"):
        found = sorted(folder.glob(pattern))
        if found:
            return found[0]
    return None


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def file_size(path: Path) -> int:
    """A file's size, 0 where it cannot be read (a list of models must not fail on one)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def walk(
    path: Path,
    depth: int,
    take: Callable[[Path], T | None],
    stop: Callable[[Path], bool] = lambda _: False,
) -> Iterator[T]:
    """What `take` makes of `path` or, where it makes nothing, of the folder's entries,
    `depth` levels deep in name order. Hidden entries are skipped; nothing is looked for
    inside what `take` accepted or inside a folder where `stop` is true."""
    found = take(path)
    if found is not None:
        yield found
        return
    if depth <= 0 or not path.is_dir() or stop(path):
        return
    try:
        children = sorted(path.iterdir())
    except OSError:
        return
    for child in children:
        if not child.name.startswith("."):
            yield from walk(child, depth - 1, take, stop)


# ---------------------------------------------------------------- folders


def folder_family(folder: Path) -> tuple[str, str | None]:
    """(family, problem) of a diffusers pipeline folder."""
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "unknown", f"'{folder.name}' has no model_index.json, so it is no diffusers folder"
    except (OSError, ValueError) as exc:
        return "unknown", f"'{folder.name}/model_index.json' cannot be read: {exc}"
    if not isinstance(index, dict):
        return "unknown", f"'{folder.name}/model_index.json' is not a pipeline description"
    missing = []
    for part, spec in index.items():
        if part.startswith("_") or not isinstance(spec, list) or not spec or spec[0] is None:
            continue
        missing += _missing_files(folder / part, part)
    name = str(index.get("_class_name", ""))
    if "XL" in name:
        family = "sdxl"
    elif name.startswith("StableDiffusion3"):
        family = "sd3"
    elif name.startswith("Flux"):
        family = "flux"
    elif name.startswith(("StableDiffusion", "LatentConsistencyModel")):
        family = "sd2" if _cross_dim(folder) == 1024 else "sd1"
    else:
        family = "unknown"
    if missing:
        return family, f"'{folder.name}' is incomplete: missing {', '.join(missing[:4])}"
    if family == "unknown":
        return family, f"'{folder.name}' is a {name or 'pipeline'} of a family Studio cannot run"
    if family not in SUPPORTED:
        return family, f"'{folder.name}' is {FAMILIES[family]}; Studio runs SD 1.x, 2.x and SDXL"
    return family, None


def folder_variant(folder: Path, family: str) -> str:
    """ "sd2-v" for an SD 2.x folder whose scheduler predicts v (768 px), else the family."""
    if family != "sd2":
        return family
    try:
        config = json.loads((folder / "scheduler" / "scheduler_config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return family
    v = isinstance(config, dict) and config.get("prediction_type") == "v_prediction"
    return "sd2-v" if v else family


def _missing_files(part: Path, name: str) -> list[str]:
    if not part.is_dir():
        return [f"{name}/"]
    if name.startswith("tokenizer"):
        wanted = any((part / f).is_file() for f in ("tokenizer.json", "vocab.json"))
        return [] if wanted else [f"{name}/tokenizer.json"]
    if name == "scheduler":
        return (
            [] if (part / "scheduler_config.json").is_file() else [f"{name}/scheduler_config.json"]
        )
    if name in ("feature_extractor", "image_processor"):
        return []
    problems = [] if (part / "config.json").is_file() else [f"{name}/config.json"]
    if _weights(part) is None:
        problems.append(f"{name}/ weights")
    return problems


def _cross_dim(folder: Path) -> int | None:
    try:
        config = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = config.get("cross_attention_dim") if isinstance(config, dict) else None
    return value if isinstance(value, int) else None


# ---------------------------------------------------------------- scanning


def entry_for(path: Path, kind: str = "folder", name: str | None = None) -> ModelEntry | None:
    """The entry for one model file or pipeline folder; None if it is neither. A damaged one
    is an entry with its problem: one bad model never hides the others."""
    try:
        return _entry_for(Path(path), kind, name)
    except Exception as exc:  # noqa: BLE001 - any damage reads as that model's problem
        problem = f"'{Path(path).name}' cannot be read: {type(exc).__name__}: {exc}"[:300]
        return ModelEntry(
            name or Path(path).name, Path(path), kind, "unknown", 0, "--------", problem
        )


def _entry_for(path: Path, kind: str, name: str | None) -> ModelEntry | None:
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            return None
        family, problem = folder_family(path)
        size = _size(path)
        short = quick_hash(path) if problem is None else "--------"
        return ModelEntry(name or path.name, path, kind, family, size, short, problem)
    if path.is_file() and path.suffix.lower() in CHECKPOINT_SUFFIXES:
        try:
            what, family, variant = file_info(path)
        except (ModelProblem, OSError) as exc:
            return ModelEntry(
                path.stem, path, "file", "unknown", file_size(path), "--------", str(exc)
            )
        if what != "checkpoint":
            return None
        problem = None
        if family != "unknown" and family not in SUPPORTED:
            problem = f"'{path.name}' is {FAMILIES[family]}; Studio runs SD 1.x, 2.x and SDXL"
        elif family == "unknown" and path.suffix.lower() != ".ckpt":
            problem = f"'{path.name}' is not a Stable Diffusion checkpoint Studio knows"
        if variant == "sd2" and _v_hint(path):
            variant = "sd2-v"
        return ModelEntry(
            path.stem,
            path,
            "file",
            family,
            path.stat().st_size,
            quick_hash(path),
            problem,
            variant=variant,
        )
    return None


def _v_hint(path: Path) -> bool:
    from .components import v_hint_from_file, yaml_says_v

    beside = yaml_says_v(path)
    return beside if beside is not None else v_hint_from_file(path)


def scan(roots: Iterable[Path], hf_cache: bool = True) -> list[ModelEntry]:
    """Models in `roots` (each a model itself, or a folder searched three levels deep) and,
    with `hf_cache`, in the Hugging Face cache. Single files get Studio's configuration of
    their variant. Sorted by name; each path once."""
    found: dict[Path, ModelEntry] = {}
    for root in roots:
        for entry in walk(Path(root).expanduser(), DEPTH, entry_for):
            found.setdefault(entry.path.resolve(), entry)
    if hf_cache:
        for entry in cache_entries():
            found.setdefault(entry.path.resolve(), entry)
    entries = sorted(found.values(), key=lambda e: (e.name.lower(), str(e.path)))
    return [pair_config(e, entries) for e in entries]


def pair_config(entry: ModelEntry, entries: list[ModelEntry]) -> ModelEntry:
    """A single file with Studio's configuration for its variant, and the first loadable
    local folder of its family (used only where Studio's tokenizer is not installed)."""
    if entry.kind != "file" or entry.problem:
        return entry
    from .components import config_folder

    folders = [e for e in entries if e.kind != "file" and e.problem is None]
    if entry.family != "unknown":
        folders = [e for e in folders if e.family == entry.family]
    paired = folders[0].path if folders else None
    config = config_folder(entry.variant) if entry.variant else None
    return ModelEntry(**{**entry.__dict__, "config": config, "paired": paired})


def cache_dir() -> Path:
    """The Hugging Face hub cache, found as huggingface_hub finds it."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
    )
    return Path(home) / "hub"


def cache_entries() -> list[ModelEntry]:
    """Pipelines in the Hugging Face cache: snapshot folders holding model_index.json."""
    folder = cache_dir()
    if not folder.is_dir():  # the common case: no import of huggingface_hub at all
        return []
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from huggingface_hub import scan_cache_dir

    try:
        info = scan_cache_dir(folder)
    except Exception:  # noqa: BLE001 - a damaged cache must not hide the other models
        return []
    entries = []
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        for revision in sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True):
            entry = entry_for(Path(revision.snapshot_path), "cache", repo.repo_id)
            if entry is not None:
                entries.append(entry)
                break  # the newest snapshot of each repository
    return entries


def find(value: str, entries: list[ModelEntry]) -> ModelEntry:
    """The entry a --set model=... value names: a path, a name, or a cache repository id."""
    path = Path(value).expanduser()
    for entry in entries:
        if str(entry.path) == value or entry.name == value:
            return entry
    if path.exists():
        entry = entry_for(path)
        if entry is None:
            raise ModelProblem(
                f"'{path}' is neither a diffusers folder (with model_index.json) nor a "
                ".safetensors/.ckpt checkpoint"
            )
        return pair_config(entry, entries)
    if not path.is_absolute() and entries:
        names = ", ".join(e.name for e in entries[:8])
        raise ModelProblem(f"No model named '{value}'; the model folders hold: {names}")
    if not entries and not path.is_absolute():
        raise ModelProblem(
            f"No model named '{value}': no models were found in your model folders "
            "(Edit → Preferences, or $STUDIO_MODEL_PATHS); give a path instead"
        )
    raise ModelProblem(f"'{value}' does not exist")
