"""Latents of the GAN faces: drawn by seed, truncated toward a typical face, interpolated
along the sphere, and the names a found picture's latent is kept under."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from studio.core.generator import seed32, seed_at

from . import store


def found_name(image_path: str, model: store.GanModel, steps: int, seed: int) -> str:
    """The name a search's latent is kept under: the picture's name and what found it."""
    digest = hashlib.sha256()
    with open(image_path, "rb") as handle:
        digest.update(handle.read())
    digest.update(f"{model.value}|{model.short_hash}|{steps}|{seed}".encode())
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in Path(image_path).stem)[:40]
    return f"{stem or 'image'}-{digest.hexdigest()[:8]}"


NZ = 100  # the DigiFace DCGAN's latent size
TYPICAL_CANDIDATES = 256
TYPICAL_SEED = 0


def seed_latents(seed: int, count: int, nz: int = NZ) -> Any:
    """Latent i is drawn from N(0, I) with seed + i (on the CPU, so every device agrees)."""
    import torch

    return torch.stack([seed_latent(seed_at(seed, i), nz) for i in range(count)])


def truncate(latents: Any, centre: Any, truncation: float) -> Any:
    """Each latent moved toward `centre` along the sphere: slerp(centre, z, truncation).

    The truncation trick of StyleGAN, pulled toward a face on the prior's shell instead of
    the prior's mean (see `Loaded.typical_latent`); 1 leaves each latent as it is."""
    import torch

    return torch.stack([slerp(centre, z, truncation) for z in latents])


def typical_latent(net: Any, nz: int = NZ) -> Any:
    import numpy as np
    import torch

    candidates = torch.randn(
        TYPICAL_CANDIDATES, nz, generator=torch.Generator().manual_seed(TYPICAL_SEED)
    )
    with torch.inference_mode():
        images = net(candidates[:, :, None, None]).numpy()  # N x C x 64 x 64 in -1..1
    gray = images.mean(axis=1)
    sharpness = (np.diff(gray, axis=1) ** 2).mean(axis=(1, 2))
    sharpness += (np.diff(gray, axis=2) ** 2).mean(axis=(1, 2))
    distance = ((images - images.mean(axis=0)) ** 2).reshape(len(images), -1).sum(axis=1)
    distance[sharpness < np.median(sharpness)] = np.inf
    return candidates[int(distance.argmin())].clone()


def interpolation_latents(seed_a: int, seed_b: int, frames: int, nz: int = NZ) -> Any:
    """Spherical interpolation from seed_a's latent to seed_b's, ends included exactly."""
    return interpolation_between(seed_latent(seed_a, nz), seed_latent(seed_b, nz), frames)


def interpolation_between(a: Any, b: Any, frames: int) -> Any:
    import torch

    steps = [slerp(a, b, i / (frames - 1)) for i in range(frames)]
    steps[0], steps[-1] = a, b
    return torch.stack(steps)


def slerp(a: Any, b: Any, t: float) -> Any:
    import torch

    cos = torch.dot(a, b) / (a.norm() * b.norm())
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:  # nearly parallel: the linear path is the same curve
        return (1 - t) * a + t * b
    sin = torch.sin(omega)
    return torch.sin((1 - t) * omega) / sin * a + torch.sin(t * omega) / sin * b


def seed_latent(seed: int, nz: int = NZ) -> Any:
    """The latent of one seed, drawn from N(0, I) on the CPU."""
    import torch

    generator = torch.Generator().manual_seed(seed32(seed))  # 64-bit seeds, folded
    return torch.randn(nz, generator=generator)
