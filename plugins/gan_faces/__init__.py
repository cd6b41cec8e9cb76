"""GAN faces: a pretrained DCGAN face generator with seeds, truncation and interpolation."""

from __future__ import annotations


def generators() -> list:
    from .generator import GanFaces

    return [GanFaces()]
