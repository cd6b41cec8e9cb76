"""Input files in a record: the project keeps their full paths; written files never do.

A record's params hold what the user chose, including paths to input images and model files
(`/home/ann/Photos/holiday.png`). Every image Studio writes is shared somewhere, so the
metadata written into files names each file by its name alone, and input images also by the
SHA-256 of their content (`inputs`, taken when the image was made), which says exactly which
picture was used without saying where it lives.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Mapping
from typing import Any

IMAGE_SUFFIXES = frozenset(
    (".png", ".jpg", ".jpeg", ".jfif", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".avif")
    + (".heic", ".heif", ".jxl")
)
MAX_HASHED = 1 << 30  # a larger "image" is not hashed (the record names it only)
# Absolute POSIX, home-relative, Windows drive or UNC paths, and file URLs.
_ABSOLUTE = re.compile(r"(?:/|~[/\\]|[A-Za-z]:[/\\]|\\\\|file://)[^\n\r]*")
_HAS_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,12}$")


def is_local_path(value: Any) -> bool:
    """Whether a param value is a path on the user's disk (not a prompt that starts with "/")."""
    if not isinstance(value, str) or len(value) > 4096 or not _ABSOLUTE.fullmatch(value):
        return False
    parts = [p for p in re.split(r"[/\\]", value.removeprefix("file://")) if p]
    if not parts:
        return False
    return len(parts) >= 2 or bool(_HAS_SUFFIX.search(parts[-1]))


def file_name(value: str) -> str:
    """The last part of a path written with / or \\ (a Windows path read on Linux too)."""
    parts = [p for p in re.split(r"[/\\]", value) if p]
    return parts[-1] if parts else value


def input_files(params: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """{param: {"file": name, "sha256": hex}} for the params that name an existing image file."""
    inputs = {}
    for name, value in params.items():
        if not is_local_path(value) or os.path.splitext(value)[1].lower() not in IMAGE_SUFFIXES:
            continue
        try:
            stat = os.stat(value)
        except OSError:
            continue
        if stat.st_size <= MAX_HASHED:
            digest = _sha256(value, stat.st_size, stat.st_mtime_ns)
            if digest is not None:
                inputs[name] = {"file": file_name(value), "sha256": digest}
    return inputs


@functools.lru_cache(maxsize=256)  # a batch of many images from one input hashes it once
def _sha256(path: str, _size: int, _mtime_ns: int) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def public_record(record: dict[str, Any]) -> dict[str, Any]:
    """The record as written into files: every local path in it cut to its file name."""
    if not _has_path(record):
        return record
    public = dict(record)
    for key in ("params", "infotext"):
        if isinstance(record.get(key), dict):
            public[key] = {name: _public(value) for name, value in record[key].items()}
    if "model" in record:
        public["model"] = _public(record["model"])
    return public


def _public(value: Any) -> Any:
    if is_local_path(value):
        return file_name(value.removeprefix("file://"))
    if isinstance(value, list | tuple):
        return [_public(item) for item in value]
    return value


def _has_path(record: dict[str, Any]) -> bool:
    values = [record.get("model")]
    for key in ("params", "infotext"):
        if isinstance(record.get(key), dict):
            values.extend(record[key].values())
    return any(
        is_local_path(v) or (isinstance(v, list | tuple) and any(map(is_local_path, v)))
        for v in values
    )
