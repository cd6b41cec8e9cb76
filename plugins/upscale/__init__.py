"""Upscale: enlarge any picture with Real-ESRGAN, the user's own ESRGAN-family files, or
Lanczos."""

from __future__ import annotations


def generators() -> list:
    from .generator import Upscale

    return [Upscale()]
