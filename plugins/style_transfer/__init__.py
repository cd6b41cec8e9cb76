"""Style transfer: any painting, 26 built-in styles, or the user's own PyTorch checkpoints."""

from __future__ import annotations


def generators() -> list:
    from .generator import StyleTransfer

    return [StyleTransfer()]
