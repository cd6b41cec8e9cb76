"""The user's LoRAs, textual-inversion embeddings and VAEs, found in the model folders by
what their files hold (a header read, no weights), as AUTOMATIC1111's extra networks are.

A1111 finds a LoRA by its file name (`<lora:name:0.8>`) and an embedding by its file name
written in the prompt; the same names work here. Short hashes are A1111's: the first 10 hex
digits of the file's SHA-256 for checkpoints and VAEs ("autov2"), 12 for LoRAs and
embeddings (A1111 hashes a LoRA's safetensors payload without its header, as sd-scripts
does), cached per file size and time so a large file is hashed once.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .discovery import DEPTH, FAMILIES, ModelProblem, file_kind, file_size, walk

EMBEDDING_SUFFIXES = (".safetensors", ".pt")
KINDS = ("lora", "embedding", "vae")


@dataclass(frozen=True)
class LibraryEntry:
    """One LoRA, embedding or VAE file. name: its file name without the suffix."""

    kind: str
    name: str
    path: Path
    family: str
    size: int

    @property
    def label(self) -> str:
        from studio.core.models import format_size

        family = FAMILIES.get(self.family, "")
        return " · ".join(x for x in (self.name, family, format_size(self.size)) if x)


# kept under its old name: the LoRA list of the form
LoraEntry = LibraryEntry


def scan_files(roots: Iterable[Path], kind: str) -> list[LibraryEntry]:
    """Files of one kind ("lora", "embedding", "vae") in `roots` (files, or folders searched
    a few levels deep); sorted by name, each path once."""
    found: dict[Path, LibraryEntry] = {}

    def take(path: Path) -> LibraryEntry | None:
        return _entry(path, kind) if path.is_file() else None

    def pipeline(path: Path) -> bool:  # a diffusers folder's parts are not the user's files
        return (path / "model_index.json").exists()

    for root in roots:
        for entry in walk(Path(root).expanduser(), DEPTH, take, pipeline):
            found.setdefault(entry.path.resolve(), entry)
    return sorted(found.values(), key=lambda e: (e.name.lower(), str(e.path)))


def _entry(path: Path, kind: str) -> LibraryEntry | None:
    suffix = path.suffix.lower()
    if kind == "embedding" and suffix == ".pt":
        return LibraryEntry(kind, path.stem, path, "unknown", file_size(path))  # read when used
    if suffix != ".safetensors":
        return None
    try:
        what, family = file_kind(path)
    except (ModelProblem, OSError):
        return None
    return LibraryEntry(kind, path.stem, path, family, file_size(path)) if what == kind else None


def scan_loras(roots: Iterable[Path]) -> list[LibraryEntry]:
    return scan_files(roots, "lora")


def by_name(entries: Iterable[LibraryEntry], name: str) -> LibraryEntry | None:
    """The entry a prompt names (A1111 matches the file name; case is ignored)."""
    wanted = name.strip().lower()
    for entry in entries:
        if entry.name.lower() == wanted:
            return entry
    return None


# ---------------------------------------------------------------- A1111's short hashes

_hashes: dict[tuple, str] = {}
_lock = threading.Lock()


def sha256_hex(path: Path, skip_safetensors_header: bool = False) -> str:
    """SHA-256 of a file (or of a safetensors file's tensor data only, A1111's LoRA hash),
    remembered per path, size and time."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, skip_safetensors_header)
    with _lock:
        if key in _hashes:
            return _hashes[key]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if skip_safetensors_header:
            (length,) = struct.unpack("<Q", handle.read(8))
            handle.seek(8 + length)
        while block := handle.read(1 << 20):
            digest.update(block)
    value = digest.hexdigest()
    with _lock:
        _hashes[key] = value
    return value


def short_hash(path: Path, kind: str) -> str:
    """The hash A1111 writes for a file: "autov2" (10 hex digits of the SHA-256) for
    checkpoints and VAEs; 12 digits for LoRAs (of the tensor data) and embeddings."""
    path = Path(path)
    if kind == "lora":
        return sha256_hex(path, _is_safetensors(path))[:12]
    if kind == "embedding":
        return sha256_hex(path)[:12]
    return sha256_hex(path)[:10]


def _is_safetensors(path: Path) -> bool:
    if path.suffix.lower() != ".safetensors":
        return False
    try:
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            json.loads(handle.read(min(length, 100 << 20)))
    except (OSError, ValueError, struct.error):
        return False
    return True
