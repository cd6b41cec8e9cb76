"""Upscalers any plugin may use: the built-in Real-ESRGAN networks, the user's own
ESRGAN-family files, and plain resampling, behind two calls.

`choices(models_dir)` lists what can run, as (value, label) pairs; `upscale(image, name,
scale, ...)` enlarges a picture to exactly round(w*scale) x round(h*scale): the network's
passes (tiled, memory bounded), then Lanczos to the exact size, as AUTOMATIC1111 does.
Qt-free; torch is imported only when a network runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.upscalers.builtin import BUILTINS, FOLDER, by_name
from studio.upscalers.runtime import UpscalerError

__all__ = [
    "DEFAULT",
    "LANCZOS",
    "NEAREST",
    "SIZE_CHOICES",
    "SIZE_LABELS",
    "UpscalerError",
    "choices",
    "enlarge",
    "size_note",
    "upscale",
    "user_files",
]

LANCZOS, NEAREST = "Lanczos", "Nearest"  # AUTOMATIC1111's names for plain resampling
DEFAULT = BUILTINS[0].name
SUFFIXES = (".pth", ".pt", ".safetensors")
# Where other tools keep these files, inside a model folder the user added.
TOOL_FOLDERS = (
    "ESRGAN",
    "RealESRGAN",
    "upscale_models",
    "models/ESRGAN",
    "models/RealESRGAN",
    "models/upscale_models",
    FOLDER,
)
TILE, OVERLAP = 256, 12  # input pixels; the overlap is context around each tile
MAX_PASSES = 3  # a 4x network run again for 8x and 16x, as AUTOMATIC1111 does
MAX_OUTPUT = 16384  # the longest side upscale() will make
# For a generator's Size parameter: how a small native picture is brought up to size.
SIZE_CHOICES = (LANCZOS, "R-ESRGAN 4x+", "R-ESRGAN 4x+ Anime6B", "R-ESRGAN AnimeVideo")
SIZE_LABELS = (
    "Lanczos (soft, instant)",
    "×4 with Real-ESRGAN (photos)",
    "×4 with Real-ESRGAN Anime6B (drawings)",
    "×4 with Real-ESRGAN AnimeVideo (fast)",
)


def user_files(models_dir: Path | None) -> list[Path]:
    """The user's upscaler files: in <models>/upscalers and in the ESRGAN/RealESRGAN/
    upscale_models folders of the model folders added in Preferences (sorted by name)."""
    from studio.core import config

    folders: list[Path] = [Path(models_dir) / FOLDER] if models_dir is not None else []
    for root in config.model_paths():
        folders += [Path(root) / sub for sub in TOOL_FOLDERS]
    found: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in SUFFIXES and not path.name.startswith("."):
                found.setdefault(path.stem, path)
    return [found[k] for k in sorted(found, key=str.lower)]


def choices(models_dir: Path | None) -> list[tuple[str, str]]:
    """(value, label) of every upscaler that can run now: Lanczos and Nearest, the
    installed built-in networks, then the user's own files (value: the file's stem, as
    AUTOMATIC1111 names them)."""
    out = [(LANCZOS, "Lanczos (no network)"), (NEAREST, "Nearest (hard pixels)")]
    for builtin in BUILTINS:
        if models_dir is not None and builtin.installed(Path(models_dir)):
            out.append((builtin.name, f"{builtin.name} ({builtin.use})"))
    out += [(path.stem, f"{path.stem} · your file") for path in user_files(models_dir)]
    return out


def upscale(
    image: Any,
    name: str,
    scale: float,
    *,
    models_dir: Path | None,
    device: Any = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    tile: int = TILE,
) -> Any:
    """`image` (PIL) enlarged `scale` times with the upscaler `name` (a value of `choices`,
    or a path to an upscaler file), exactly round(w*scale) x round(h*scale).

    A network runs tile by tile (`tile` input pixels; 0: one pass); `progress(done, total)`
    after each tile; `cancelled()` is checked between tiles and raises
    `studio.core.generator.Cancelled`. `device`: a studio Device, a torch device string, or
    None for the CPU. Alpha is resampled with Lanczos; a grey picture comes back grey.
    """
    from PIL import Image

    from studio.core.generator import Cancelled

    width, height = image.size
    target = max(1, round(width * scale)), max(1, round(height * scale))
    if scale <= 0 or max(target) > MAX_OUTPUT:
        raise UpscalerError(
            f"×{scale:g} would make {target[0]}x{target[1]} px; the limit is {MAX_OUTPUT} px"
        )
    if cancelled is not None and cancelled():
        raise Cancelled()
    if name in (LANCZOS, NEAREST) or scale <= 1:
        method = Image.Resampling.NEAREST if name == NEAREST else Image.Resampling.LANCZOS
        done = image.resize(target, method)
        if progress is not None:
            progress(1, 1)
        return done
    rgb = image.convert("RGB")
    loaded = _load(name, models_dir, device)
    passes = _passes(loaded.scale, width, height, target)
    from studio.upscalers.tiles import tile_count

    total = sum(
        tile_count(width * loaded.scale**k, height * loaded.scale**k, tile) for k in range(passes)
    )
    counter = [0]

    def step() -> None:
        counter[0] += 1
        if progress is not None:
            progress(counter[0], total)
        if cancelled is not None and cancelled() and counter[0] < total:
            raise Cancelled()

    from studio.upscalers.runtime import run

    for _ in range(passes):
        rgb = run(loaded, rgb, tile, OVERLAP, step)
    if rgb.size != target:
        rgb = rgb.resize(target, Image.Resampling.LANCZOS)
    return _restore_mode(image, rgb, target)


def _passes(net_scale: int, width: int, height: int, target: tuple[int, int]) -> int:
    passes, w, h = 0, width, height
    while passes < MAX_PASSES and (w < target[0] or h < target[1]):
        passes, w, h = passes + 1, w * net_scale, h * net_scale
    if max(w, h) > MAX_OUTPUT * 2:
        raise UpscalerError(f"×{net_scale} passes to {w}x{h} px would exceed the limit")
    return max(1, passes)


def _restore_mode(source: Any, rgb: Any, target: tuple[int, int]) -> Any:
    from PIL import Image

    if source.mode in ("RGBA", "LA", "PA") or (
        source.mode == "P" and "transparency" in source.info
    ):
        alpha = source.convert("RGBA").getchannel("A").resize(target, Image.Resampling.LANCZOS)
        rgba = rgb.convert("RGBA")
        rgba.putalpha(alpha)
        return rgba
    if source.mode in ("L", "I", "I;16", "F", "1"):
        return rgb.convert("L")
    return rgb


def _load(name: str, models_dir: Path | None, device: Any) -> Any:
    from studio.upscalers.runtime import builtin_path, load

    kind = getattr(device, "torch_device", None) or (str(device) if device else "cpu")
    dtype = getattr(device, "dtype", "float16" if kind != "cpu" else "float32")
    if by_name(name) is not None:
        if models_dir is None:
            raise UpscalerError(f"{name} needs the models folder")
        return load(builtin_path(name, Path(models_dir)), name, kind, dtype)
    path = Path(name).expanduser()
    if not (path.suffix.lower() in SUFFIXES and path.is_file()):
        path = next((p for p in user_files(models_dir) if p.stem == name), None)
    if path is None:
        known = ", ".join(value for value, _label in choices(models_dir))
        raise UpscalerError(f"no upscaler called {name!r} here; there are: {known}")
    return load(path, path.stem, kind, dtype)


def enlarge(image: Any, size: tuple[int, int], name: str, ctx: Any) -> Any:
    """`image` brought to `size` with the upscaler `name` (a SIZE_CHOICES value), for a
    generator running with Context `ctx` (its models folder, device and cancel)."""
    from studio.core.generator import Cancelled, GeneratorError

    if tuple(image.size) == tuple(size):
        return image

    def cancelled() -> bool:
        try:
            ctx.check_cancelled()
        except Cancelled:
            return True
        return False

    scale = size[0] / image.width
    try:
        out = upscale(
            image, name, scale, models_dir=ctx.models_dir, device=ctx.device, cancelled=cancelled
        )
    except UpscalerError as exc:
        raise GeneratorError(str(exc)) from None
    return out if out.size == tuple(size) else out.resize(size)


def size_note(native: int, size: int, name: str) -> str:
    """What a result's note says about it, e.g. "upscaled 64 → 256 px (R-ESRGAN 4x+)"."""
    return f"upscaled {native} → {size} px ({name})"
