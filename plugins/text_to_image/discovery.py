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
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")
FAMILIES = {"sd1": "SD 1.x", "sd2": "SD 2.x", "sdxl": "SDXL", "sd3": "SD 3", "flux": "Flux"}
SUPPORTED = ("sd1", "sd2", "sdxl")
FOLDER_NAME = "text_to_image"  # <models>/text_to_image is always searched
MAX_HEADER = 100 << 20  # a safetensors header larger than this is not a real one


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
    config: Path | None = None  # for a single file: the local folder that describes it

    @property
    def family_name(self) -> str:
        return FAMILIES.get(self.family, "unknown family")

    @property
    def label(self) -> str:
        from studio.core.models import format_size

        text = f"{self.name} · {self.family_name} · {format_size(self.size)} · {self.short_hash}"
        return text + ("  (cannot load)" if self.problem else "")


class ModelProblem(ValueError):
    """A model that cannot be used; the message says exactly what is missing or wrong."""


# ---------------------------------------------------------------- single files


def safetensors_keys(path: Path) -> list[str]:
    """Tensor names from a .safetensors header (8-byte length + JSON); reads only the header."""
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) != 8:
            raise ModelProblem(f"'{path.name}' is too short to be a safetensors file")
        (length,) = struct.unpack("<Q", raw)
        if not 2 <= length <= MAX_HEADER:
            raise ModelProblem(f"'{path.name}' is not a safetensors file (bad header length)")
        try:
            header = json.loads(handle.read(length))
        except (ValueError, RecursionError):
            raise ModelProblem(f"'{path.name}' is not a safetensors file (bad header)") from None
    if not isinstance(header, dict):
        raise ModelProblem(f"'{path.name}' is not a safetensors file (bad header)")
    return [k for k in header if k != "__metadata__"]


def family_from_keys(keys: Iterable[str]) -> str:
    """SD family of an original-layout (A1111/ComfyUI) checkpoint from its tensor names."""
    names = list(keys)

    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in names)

    if has("conditioner.embedders.1."):
        return "sdxl"
    if has("cond_stage_model.model."):
        return "sd2"
    if has("cond_stage_model.transformer."):
        return "sd1"
    if has("text_encoders.") or has("model.diffusion_model.joint_blocks."):
        return "sd3"
    if has("double_blocks.") or has("model.diffusion_model.double_blocks."):
        return "flux"
    return "unknown"


def is_lora(keys: Iterable[str]) -> bool:
    return any(marker in k for k in keys for marker in ("lora_up", "lora_down", "lora_A", "lora_B"))


def file_kind(path: Path) -> tuple[str, str]:
    """("checkpoint" | "lora" | "other", family) of one file; .ckpt reads as a checkpoint of a
    family found when it loads."""
    if path.suffix.lower() == ".ckpt":
        return "checkpoint", "unknown"
    keys = safetensors_keys(path)
    if is_lora(keys):
        return "lora", family_from_keys(keys)
    if any(k.startswith("model.diffusion_model.") for k in keys):
        return "checkpoint", family_from_keys(keys)
    return "other", "unknown"


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
            what, family = file_kind(path)
        except (ModelProblem, OSError) as exc:
            return ModelEntry(
                path.stem, path, "file", "unknown", _safe_size(path), "--------", str(exc)
            )
        if what != "checkpoint":
            return None
        problem = None
        if family != "unknown" and family not in SUPPORTED:
            problem = f"'{path.name}' is {FAMILIES[family]}; Studio runs SD 1.x, 2.x and SDXL"
        return ModelEntry(
            path.stem, path, "file", family, path.stat().st_size, quick_hash(path), problem
        )
    return None


def _safe_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def scan(roots: Iterable[Path], hf_cache: bool = True) -> list[ModelEntry]:
    """Models in `roots` (each a model itself, or a folder searched two levels deep) and, with
    `hf_cache`, in the Hugging Face cache. Single files are paired with a local folder of their
    family for their configuration. Sorted by name; each path once."""
    found: dict[Path, ModelEntry] = {}
    for root in roots:
        for entry in _walk(Path(root).expanduser(), depth=2):
            found.setdefault(entry.path.resolve(), entry)
    if hf_cache:
        for entry in cache_entries():
            found.setdefault(entry.path.resolve(), entry)
    entries = sorted(found.values(), key=lambda e: (e.name.lower(), str(e.path)))
    return [pair_config(e, entries) for e in entries]


def _walk(path: Path, depth: int) -> Iterable[ModelEntry]:
    entry = entry_for(path)
    if entry is not None:
        yield entry
        return
    if depth <= 0 or not path.is_dir():
        return
    try:
        children = sorted(path.iterdir())
    except OSError:
        return
    for child in children:
        if not child.name.startswith("."):
            yield from _walk(child, depth - 1)


def pair_config(entry: ModelEntry, entries: list[ModelEntry]) -> ModelEntry:
    """A single file with the first loadable folder of its family as its configuration, or a
    problem naming exactly what to add."""
    if entry.kind != "file" or entry.problem:
        return entry
    if entry.family == "unknown" and entry.path.suffix.lower() == ".ckpt":
        folders = [e for e in entries if e.kind != "file" and e.problem is None]
        config = folders[0].path if folders else None  # the family is checked when it loads
    else:
        folders = [
            e for e in entries if e.kind != "file" and e.family == entry.family and not e.problem
        ]
        config = folders[0].path if folders else None
    if config is None:
        family = entry.family_name if entry.family != "unknown" else "matching"
        problem = (
            f"'{entry.path.name}' is a single file: Studio needs a local {family} diffusers "
            "folder (one with model_index.json) for its configuration, and will not download "
            "one. Add such a folder to your model folders."
        )
        return ModelEntry(**{**entry.__dict__, "problem": problem})
    return ModelEntry(**{**entry.__dict__, "config": config})


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


@dataclass(frozen=True)
class LoraEntry:
    name: str
    path: Path
    family: str
    size: int

    @property
    def label(self) -> str:
        from studio.core.models import format_size

        family = FAMILIES.get(self.family, "")
        return " · ".join(x for x in (self.name, family, format_size(self.size)) if x)


def scan_loras(roots: Iterable[Path]) -> list[LoraEntry]:
    """LoRA .safetensors files in `roots` (files, or folders two levels deep)."""
    found: dict[Path, LoraEntry] = {}

    def visit(path: Path, depth: int) -> None:
        if path.is_file() and path.suffix.lower() == ".safetensors":
            try:
                what, family = file_kind(path)
            except (ModelProblem, OSError):
                return
            if what == "lora":
                found.setdefault(
                    path.resolve(), LoraEntry(path.stem, path, family, _safe_size(path))
                )
        elif path.is_dir() and depth > 0 and not (path / "model_index.json").exists():
            try:
                children = sorted(path.iterdir())
            except OSError:
                return
            for child in children:
                if not child.name.startswith("."):
                    visit(child, depth - 1)

    for root in roots:
        visit(Path(root).expanduser(), 2)
    return sorted(found.values(), key=lambda e: e.name.lower())
