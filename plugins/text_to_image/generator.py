"""The text-to-image generator: txt2img, img2img and inpainting on the user's own models."""

from __future__ import annotations

import importlib.util
import threading
import time
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
    Param,
    Request,
    Result,
    SeedParam,
    TextParam,
    seed_at,
)

from . import discovery

SCHEDULER_LABELS = {
    "euler_a": "Euler a",
    "euler": "Euler",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_karras": "DPM++ 2M Karras",
    "ddim": "DDIM",
    "lcm": "LCM (LCM models only)",
}
PREVIEW_INTERVAL_S = 0.25  # at most four previews a second; the first step always has one
MAX_SIDE = 2048
TILE_VAE_PIXELS = 1024 * 1024  # above this the VAE decodes in tiles
# latents to RGB without the VAE: a linear map per family (SD 1.x/2.x, SDXL)
LATENT_RGB = {
    "sd": [
        [0.298, 0.207, 0.208],
        [0.187, 0.286, 0.173],
        [-0.158, 0.189, 0.264],
        [-0.184, -0.271, -0.473],
    ],
    "sdxl": [
        [0.3651, 0.4232, 0.4341],
        [-0.2533, -0.0042, 0.1068],
        [0.1076, 0.1111, -0.0362],
        [-0.3165, -0.2492, -0.2188],
    ],
}


def _roots(models_dir: Any) -> list[Path]:
    from studio.core import config

    roots = list(config.model_paths())
    if models_dir is not None:
        roots.append(Path(models_dir) / discovery.FOLDER_NAME)
    return roots


class TextToImage(Generator):
    id = "text_to_image"
    title = "Text to image"
    version = "1.0"
    method = "diffusers"
    description = (
        "Stable Diffusion 1.x, 2.x and SDXL from your own model files (diffusers folders, "
        ".safetensors checkpoints, the Hugging Face cache). Add an init image for "
        "image-to-image, and a mask (paint one on the canvas) for inpainting. Never downloads."
    )
    params = (
        ModelParam(
            name="model",
            kind="text_to_image",
            scan=True,
            help="A model from your model folders (Edit → Preferences, or drop a model file or "
            "folder on the window), or a path.",
        ),
        TextParam(name="prompt", multiline=True, help="What to make."),
        TextParam(
            name="negative_prompt", label="Negative prompt", multiline=True, help="What to avoid."
        ),
        ChoiceParam(
            name="scheduler",
            choices=tuple(SCHEDULER_LABELS),
            labels=tuple(SCHEDULER_LABELS.values()),
            help="The sampler. LCM needs an LCM-distilled model or an LCM LoRA (4-8 steps).",
        ),
        IntParam(name="steps", default=20, minimum=1, maximum=150, help="Denoising steps."),
        FloatParam(
            name="cfg",
            label="CFG scale",
            default=7.0,
            minimum=0.0,
            maximum=30.0,
            step=0.5,
            decimals=1,
            help="How closely to follow the prompt (1 turns the negative prompt off).",
        ),
        IntParam(
            name="width", default=512, minimum=64, maximum=MAX_SIDE, step=8, multiple=8,
            help="Multiples of 8. Image-to-image and inpainting use the init image's size.",
        ),
        IntParam(
            name="height", default=512, minimum=64, maximum=MAX_SIDE, step=8, multiple=8,
            help="Multiples of 8.",
        ),
        IntParam(
            name="count", label="Batch count", default=1, minimum=1, maximum=64,
            help="How many images; image i uses seed + i.",
        ),
        SeedParam(name="seed", help="Seed of the first image (random if empty)."),
        ImageParam(
            name="init_image", label="Init image", role="init", optional=True,
            help="Image-to-image: start from this picture (right-click a canvas image → "
            "Use as Init image).",
        ),
        FloatParam(
            name="strength", default=0.6,
            help="Image-to-image and inpainting: how much to change (1 ignores the picture).",
        ),
        ImageParam(
            name="mask", role="mask", optional=True,
            help="Inpainting: white is repainted, black kept. Paint one on the canvas "
            "(right-click an image → Paint a mask).",
        ),
        ModelParam(
            name="lora", label="LoRA", kind="lora", optional=True, scan=True,
            help="A LoRA .safetensors file from your model folders, or a path.",
        ),
        FloatParam(
            name="lora_weight", label="LoRA weight", default=0.8, minimum=-2.0, maximum=2.0,
            help="How strongly the LoRA applies.",
        ),
        BoolParam(
            name="cpu_offload", label="CPU offload (CUDA)",
            help="Keep parts of the model in system memory on NVIDIA GPUs with little memory.",
        ),
    )  # fmt: skip

    def __init__(self) -> None:
        self._lock = threading.Lock()

    # -- discovery

    def unavailable_reason(self, models_dir: Any) -> str | None:
        for module in ("diffusers", "transformers", "torch"):
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed; run ./run.sh again"
        return None

    def entries(self, models_dir: Any) -> list[discovery.ModelEntry]:
        return discovery.scan(_roots(models_dir))

    def choices_for(self, spec: Param, models_dir: Any) -> list[tuple[str, str]]:
        if spec.name == "lora":
            return [(str(e.path), e.label) for e in discovery.scan_loras(_roots(models_dir))]
        return self.model_choices(models_dir)

    def model_choices(self, models_dir: Any) -> list[tuple[str, str]]:
        return [(str(e.path), e.label) for e in self.entries(models_dir)]

    def summary(self, request: Request) -> str:
        p = request.params
        model = Path(p["model"] or "?").name
        prompt = (p["prompt"] or "").strip().replace("\n", " ")
        prompt = prompt if len(prompt) < 40 else prompt[:39] + "…"
        return f"{self.title} ({model}) · {p['count']} × “{prompt}” · seed {request.seed}"

    # -- running

    def run(self, request: Request, ctx: Context) -> list[Result]:
        from studio.core.devices import torch_threads

        with torch_threads(ctx.threads):
            return self._run(request, ctx)

    def _run(self, request: Request, ctx: Context) -> list[Result]:
        p = request.params
        entries = self.entries(ctx.models_dir)  # one scan per job, for the model and configs
        entry = self._entry(p["model"], entries)
        import torch

        from . import pipelines

        mode = "inpaint" if p["mask"] else "img2img" if p["init_image"] else "txt2img"
        if p["mask"] and not p["init_image"]:
            raise GeneratorError("Inpainting needs an init image as well as a mask")
        try:
            with self._lock:
                configs = _configs(entries)
                loaded = pipelines.shared.get(entry, ctx.device, p["cpu_offload"], configs)
                loaded.set_lora(p["lora"], p["lora_weight"])
            entry = loaded.entry  # a .ckpt knows its family once read
        except discovery.ModelProblem as exc:
            raise GeneratorError(str(exc)) from None
        pipe = loaded.pipe(mode)
        if p["scheduler"] == "lcm" and not _fits_lcm(loaded, p["lora"]):
            raise GeneratorError(
                "LCM needs an LCM-distilled model or an LCM LoRA; pick another scheduler"
            )
        # from the model's own settings each time: one run's sampler never leaks into the next
        pipe.scheduler = pipelines.make_scheduler(p["scheduler"], loaded.scheduler_config)
        width, height = p["width"], p["height"]
        extra: dict[str, Any] = {}
        if mode != "txt2img":
            if int(p["steps"] * p["strength"]) < 1:
                need = -(-1 // p["strength"]) if p["strength"] > 0 else None
                hint = f"at least {int(need)} steps" if need else "a strength above 0"
                raise GeneratorError(
                    f"{p['steps']} steps at strength {p['strength']:g} leave no step to run; "
                    f"use {hint}"
                )
            init = _open(p["init_image"], "init image").convert("RGB")
            width, height = _snap(init.width, init.height)
            extra["image"] = init.resize((width, height)) if init.size != (width, height) else init
            extra["strength"] = p["strength"]
            if mode == "inpaint":  # the inpainting pipeline also takes the size
                mask = _open(p["mask"], "mask").convert("L").resize((width, height))
                extra.update(mask_image=mask, width=width, height=height)
        else:
            extra.update(width=width, height=height)
        vae = pipe.vae
        if width * height > TILE_VAE_PIXELS:
            vae.enable_tiling()
        else:
            vae.disable_tiling()
        steps_per_image = _steps(mode, p["steps"], p["strength"])
        total = steps_per_image * p["count"]
        family = "sdxl" if entry.family == "sdxl" else "sd"
        results = []
        for index in range(p["count"]):
            ctx.check_cancelled()
            seed = seed_at(request.seed, index)
            watcher = _StepWatcher(ctx, index * steps_per_image, total, family)
            try:
                output = pipe(
                    prompt=p["prompt"],
                    negative_prompt=p["negative_prompt"] or None,
                    num_inference_steps=p["steps"],
                    guidance_scale=p["cfg"],
                    generator=torch.Generator("cpu").manual_seed(seed),
                    callback_on_step_end=watcher,
                    callback_on_step_end_tensor_inputs=["latents"],
                    **extra,
                )
            except _Stop:
                output = None
            if watcher.cancelled:  # the half-denoised latents are never decoded nor shown
                del output
                _free()
                raise _cancelled()
            image = output.images[0]
            results.append(
                self.result(
                    request,
                    image,
                    seed,
                    model_name=entry.name,
                    model_hash=entry.short_hash,
                    method=pipelines.SCHEDULERS[p["scheduler"]],
                    note=_note(mode, entry, p, ctx.device.kind),
                )
            )
        ctx.progress(total, total)
        return results

    def _entry(self, value: str | None, entries: list) -> discovery.ModelEntry:
        if not value:
            raise GeneratorError(
                "No model chosen. Add a folder with your models in Edit → Preferences (or drop "
                "a model file or folder on the window), then pick one."
            )
        try:
            entry = discovery.find(value, entries)
        except discovery.ModelProblem as exc:
            raise GeneratorError(str(exc)) from None
        if entry.problem:
            raise GeneratorError(entry.problem)
        return entry


def _configs(entries: list) -> dict[str, Path]:
    """The first loadable diffusers folder of each family (configurations for .ckpt files)."""
    configs: dict[str, Path] = {}
    for entry in entries:
        if entry.kind != "file" and entry.problem is None:
            configs.setdefault(entry.family, entry.path)
    return configs


class _Stop(Exception):  # noqa: N818 - a signal, not an error
    """Raised from the step callback to leave a cancelled pipeline call at once."""


class _StepWatcher:
    """diffusers' step-end callback: progress, throttled previews, and cancel within a step."""

    def __init__(self, ctx: Context, done: int, total: int, family: str) -> None:
        self.ctx, self.done, self.total, self.family = ctx, done, total, family
        self.cancelled = False
        self._last = 0.0

    def __call__(self, pipe: Any, step: int, timestep: Any, kwargs: dict) -> dict:
        from studio.core.generator import Cancelled

        try:
            self.ctx.check_cancelled()
        except Cancelled:
            self.cancelled = True
            pipe._interrupt = True  # diffusers skips the remaining steps; reset per call
            raise _Stop() from None  # and leave now: decoding a discarded image costs steps

        now = time.monotonic()
        preview = None
        if step == 0 or now - self._last >= PREVIEW_INTERVAL_S:
            self._last = now
            preview = latent_preview(kwargs.get("latents"), self.family)
        self.ctx.progress(min(self.done + step + 1, self.total), self.total, preview)
        return kwargs


def latent_preview(latents: Any, family: str) -> Any:
    """A cheap RGB picture of the latents (no VAE): a fixed linear map per channel."""
    if latents is None or latents.ndim != 4 or latents.shape[1] != 4:
        return None
    import torch
    from PIL import Image

    matrix = torch.tensor(LATENT_RGB[family], dtype=torch.float32)
    rgb = torch.einsum("chw,cr->hwr", latents[0].detach().float().cpu(), matrix)
    pixels = ((rgb + 1.0) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    return Image.fromarray(pixels)


def _fits_lcm(loaded: Any, lora: str | None) -> bool:
    names = [loaded.native_scheduler, loaded.entry.name, Path(lora or "").name]
    return any("lcm" in name.lower() for name in names)


def _steps(mode: str, steps: int, strength: float) -> int:
    if mode == "txt2img":
        return steps
    return max(1, min(int(steps * strength), steps))


def _snap(width: int, height: int) -> tuple[int, int]:
    """The init image's size for the model: one scale for both sides (the longer at most
    MAX_SIDE), each a multiple of 8 and at least 64."""
    scale = min(1.0, MAX_SIDE / max(width, height))

    def side(n: int) -> int:
        n = round(n * scale)
        return max(64, n - n % 8)

    return side(width), side(height)


def _note(mode: str, entry: Any, p: Any, device: str) -> str:
    what = {"txt2img": "text to image", "img2img": "image to image", "inpaint": "inpainting"}
    text = f"{what[mode]} · {entry.family_name}"
    if p["lora"]:
        text += f" · LoRA {Path(p['lora']).stem} × {p['lora_weight']:g}"
    if p["cpu_offload"] and device != "cuda":
        text += " · CPU offload ignored (CUDA only)"
    return text


def _open(path: str, what: str) -> Any:
    from studio.core.images import ImageLoadError, load_image

    try:
        return load_image(Path(path))
    except ImageLoadError as exc:
        raise GeneratorError(f"The {what}: {exc}") from None


def _free() -> None:
    # The latents go with their last reference; only the GPU cache needs a word.
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def _cancelled() -> Exception:
    from studio.core.generator import Cancelled

    return Cancelled()
