"""VAE digits: Studio's own VAE of MNIST digits (sample, reconstruct, interpolate), and training."""

from __future__ import annotations


def generators() -> list:
    from .generator import VaeDigits
    from .trainer import VaeTrainer

    return [VaeDigits(), VaeTrainer()]
