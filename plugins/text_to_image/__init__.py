"""Text-to-image, image-to-image and inpainting with the user's own diffusers models."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read when huggingface_hub is imported


def generators() -> list:
    from .generator import TextToImage

    return [TextToImage()]
