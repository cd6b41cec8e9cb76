"""Settings shared by the window and the command line, in `<data dir>/config.json`.

Qt-free, so the CLI and plugins read the same values the window's Preferences write.
Writes are atomic; a damaged file reads as defaults (and is kept aside for inspection).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from studio.core.paths import data_dir

FILE = "config.json"
MODEL_PATHS_ENV = "STUDIO_MODEL_PATHS"  # os.pathsep-separated, added to the configured ones
_lock = threading.Lock()


def _path() -> Path:
    return data_dir() / FILE


def load() -> dict[str, Any]:
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            _path().replace(_path().with_suffix(".damaged.json"))
        return {}
    return data if isinstance(data, dict) else {}


def save(data: dict[str, Any]) -> None:
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def model_paths() -> list[Path]:
    """Model files and folders the user added (Preferences, or by dropping them on the window),
    then any in $STUDIO_MODEL_PATHS."""
    stored = stored_model_paths()
    extra = [Path(p) for p in os.environ.get(MODEL_PATHS_ENV, "").split(os.pathsep) if p]
    return stored + extra


def stored_model_paths() -> list[Path]:
    """The model paths in config.json; anything but a list of text is ignored."""
    value = load().get("model_paths", [])
    if not isinstance(value, list):
        return []
    return [Path(p) for p in value if isinstance(p, str) and p]


def set_model_paths(paths: list[Path]) -> None:
    with _lock:
        data = load()
        unique: list[str] = []
        for path in paths:
            text = str(Path(path).expanduser())
            if text not in unique:
                unique.append(text)
        data["model_paths"] = unique
        save(data)


def add_model_path(path: Path) -> bool:
    """Add one model file or folder; False if it was there already."""
    current = stored_model_paths()
    if Path(path).expanduser() in current:
        return False
    set_model_paths([*current, Path(path)])
    return True
