"""Finding a picture in a GAN's latent space: the z whose face looks most like it (GAN
inversion by optimisation), kept under a name so the user can walk from it.

The search starts from the best few of CANDIDATES random latents, then Adam moves them to
lower the pixel error, with a pull keeping |z| on the prior's shell (where the generator
paints faces, not mush). The best one is kept, in <models>/gan_faces/found/NAME.safetensors.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.generator import Context, GeneratorError, seed32

from . import store

CANDIDATES = 256
STARTS = 4  # latents optimised side by side; the best wins
LEARNING_RATE = 0.05
SHELL_WEIGHT = 0.05  # the pull toward |z| = sqrt(nz), against the pixel error
PREVIEW_EVERY = 25


@dataclass(frozen=True)
class FoundLatent:
    """A latent found for a picture, on disk."""

    value: str
    path: Path
    model: str
    image: str
    mse: float

    @property
    def label(self) -> str:
        return f"{self.value} (in {self.model}, error {self.mse:.4f})"


@dataclass(frozen=True)
class Found:
    """The outcome of a search: its name, the face it found and what to tell the user."""

    value: str
    z: Any
    pixels: Any
    mse: float
    note: str


def found_root(models_dir: Path) -> Path:
    return store.root(models_dir) / "found"


def found_latents(models_dir: Path | None) -> list[FoundLatent]:
    """Every found latent, newest first."""
    if models_dir is None or not found_root(models_dir).is_dir():
        return []
    from safetensors import safe_open

    found = []
    paths = sorted(found_root(models_dir).glob("*.safetensors"), key=os.path.getmtime)
    for path in reversed(paths):
        try:
            with safe_open(str(path), "np") as handle:
                meta = handle.metadata() or {}
            found.append(
                FoundLatent(path.stem, path, meta["model"], meta["image"], float(meta["mse"]))
            )
        except (OSError, KeyError, ValueError):
            continue
    return found


def load_found(value: str, models_dir: Path, model: store.GanModel) -> tuple[Any, str]:
    """The latent named `value`, checked to belong to `model`; and a note saying so."""
    from safetensors.torch import load_file

    match = next((f for f in found_latents(Path(models_dir)) if f.value == value), None)
    if match is None:
        raise GeneratorError(
            f"There is no found picture {value!r}; find it first (mode 'Find an image')."
        )
    if match.model != model.value:
        raise GeneratorError(
            f"'{value}' was found in the model '{match.model}'; choose that model, or find the "
            f"picture again in '{model.value}'."
        )
    return load_file(str(match.path))["z"], f"from the found picture {match.image}"


def target_tensor(image_path: str, channels: int) -> Any:
    """The picture as the generator would paint it: centre-cropped, 64x64, in [-1, 1]."""
    import numpy as np
    import torch

    from studio.core.images import ImageLoadError, load_image

    from .data import square

    try:
        picture = load_image(image_path)
    except ImageLoadError as exc:
        raise GeneratorError(exc.message) from exc
    if picture.mode == "RGBA":  # transparency over white, as on the canvas
        from PIL import Image

        backdrop = Image.new("RGBA", picture.size, "white")
        picture = Image.alpha_composite(backdrop, picture)
    pixels = np.asarray(square(picture, "crop", 64), dtype=np.float32) / 127.5 - 1.0
    target = torch.from_numpy(pixels).permute(2, 0, 1)[None]
    return target.mean(dim=1, keepdim=True) if channels == 1 else target


def find_latent(loaded: Any, image_path: str, steps: int, seed: int, ctx: Context) -> Found:
    """Search `loaded`'s latent space for `image_path`; progress per step, cancel between."""
    import torch

    from .latents import found_name

    net, device = loaded.net, ctx.device.torch_device
    channels = int(net.main[-2].weight.shape[1])
    target = target_tensor(image_path, channels).to(device)
    nz = loaded.nz
    for parameter in net.parameters():  # only z learns; the network stays as it is
        parameter.requires_grad_(False)
    rng = torch.Generator().manual_seed(seed32(seed))
    candidates = torch.randn(CANDIDATES, nz, generator=rng)
    with torch.inference_mode():
        errors = torch.cat([
            _errors(net(batch.to(device)[:, :, None, None]), target)
            for batch in candidates.split(64)
        ])  # fmt: skip
    z = candidates[errors.argsort()[:STARTS].cpu()].clone().to(device).requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=LEARNING_RATE)
    radius = math.sqrt(nz)
    ctx.progress(0, steps)
    started = time.perf_counter()
    for step in range(steps):
        ctx.check_cancelled()
        for group in optimiser.param_groups:  # a cosine decay to a tenth
            group["lr"] = LEARNING_RATE * (0.55 + 0.45 * math.cos(math.pi * step / steps))
        images = net(z[:, :, None, None])
        pixel = _errors(images, target)
        shell = (z.norm(dim=1) / radius - 1.0) ** 2
        optimiser.zero_grad(set_to_none=True)
        (pixel + SHELL_WEIGHT * shell).sum().backward()
        optimiser.step()
        preview = None
        if (step + 1) % PREVIEW_EVERY == 0:
            preview = _picture(images[pixel.argmin()].detach())
        ctx.progress(step + 1, steps, preview)
    with torch.inference_mode():
        final = net(z.detach()[:, :, None, None])
        errors = _errors(final, target)
    best = int(errors.argmin())
    mse = float(errors[best]) / 4.0  # in 0..1 pixel units (the images span -1..1)
    psnr = 10 * math.log10(1.0 / max(mse, 1e-10))
    best_z = z.detach()[best].cpu().contiguous()
    value = found_name(image_path, loaded.model, steps, seed)
    _save(value, best_z, loaded.model, Path(image_path).name, mse, Path(ctx.models_dir))
    name = Path(image_path).name
    note = (
        f"found {name} in {loaded.model.value}: error {mse:.4f} (mean squared, 0..1 pixels; "
        f"PSNR {psnr:.1f} dB) after {steps} steps, {time.perf_counter() - started:.1f} s; "
        f"kept as '{value}': pick it in Start from, or walk it in the Directions panel"
    )
    return Found(value, best_z, _pixels(final[best]), mse, note)


def _errors(images: Any, target: Any) -> Any:
    return ((images - target) ** 2).flatten(1).mean(dim=1)


def _pixels(image: Any) -> Any:
    import torch

    scaled = ((image.float().cpu() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    if scaled.shape[0] == 1:
        scaled = scaled.expand(3, -1, -1)
    return scaled.permute(1, 2, 0).numpy()


def _picture(image: Any) -> Any:
    from PIL import Image

    return Image.fromarray(_pixels(image), "RGB").resize((128, 128), Image.Resampling.NEAREST)


def _save(value: str, z: Any, model: store.GanModel, image: str, mse: float, models_dir: Path):
    from safetensors.torch import save_file

    folder = found_root(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"model": model.value, "model_hash": model.short_hash, "image": image}
    meta |= {"mse": f"{mse:.6f}", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    tmp = folder / f"{value}.tmp"
    save_file({"z": z}, str(tmp), metadata=meta)
    os.replace(tmp, folder / f"{value}.safetensors")
