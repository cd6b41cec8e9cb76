"""GAN faces: DCGAN face generators (the DigiFace one, yours, or one trained here) with seeds,
truncation, interpolation, principal directions, finding a picture's latent, and training."""

from __future__ import annotations


def generators() -> list:
    from .generator import GanFaces
    from .trainer import GanTrainer

    return [GanFaces(), GanTrainer()]
