"""Where Studio keeps things: its data folder, the model folder, projects, plugins."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "studio"


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
