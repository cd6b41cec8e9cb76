"""Models: where they live, their cards, and the published wheels they come from.

The plugin-facing names, gathered from the modules that each hold one role: `paths` (folders),
`hashing` (digests), `model_cards` (provenance cards), `wheels` (files fetched from published
wheels) and `sizes` (byte counts as text). Nothing here imports torch.
"""

from __future__ import annotations

from studio.core.hashing import sha256_of
from studio.core.model_cards import CARD_NAME, InstalledModel, ModelCard, installed_models
from studio.core.paths import APP_NAME, data_dir, models_dir, plugins_dir, projects_dir
from studio.core.sizes import format_size
from studio.core.wheels import PublishedWheel

__all__ = [
    "APP_NAME",
    "CARD_NAME",
    "InstalledModel",
    "ModelCard",
    "PublishedWheel",
    "data_dir",
    "format_size",
    "installed_models",
    "models_dir",
    "plugins_dir",
    "projects_dir",
    "sha256_of",
]
