"""Hires fix, AUTOMATIC1111's two passes: make the picture at the model's own size, upscale it
(in latent space, or as an image with Lanczos or an upscaler network), then run image to image
over the larger picture at a denoising strength, with steps of its own.

Everything follows A1111 (`modules/processing.py`, `StableDiffusionProcessingTxt2Img`): the
target size (`Hires upscale` × the first pass, or `Hires resize` W×H, cropped to that aspect in
latent steps), its latent modes (`shared.latent_upscale_modes`), the second pass running
exactly `Hires steps` (0: as many as the first) out of a schedule of steps / strength, the same
seed for the second pass's noise, and the metadata: `Size` is the first pass, then
`Denoising strength`, `Hires upscale` (or `Hires resize`), `Hires steps` (when set) and
`Hires upscaler`. Light to import: torch is only needed inside the functions that run.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from studio.core.generator import (
    BoolParam,
    FloatParam,
    GeneratorError,
    IntParam,
    ModelParam,
    Param,
)

# A1111's `shared.latent_upscale_modes`: name -> (torch interpolate mode, antialias)
LATENT_MODES = {
    "Latent": ("bilinear", False),
    "Latent (antialiased)": ("bilinear", True),
    "Latent (bicubic)": ("bicubic", False),
    "Latent (bicubic antialiased)": ("bicubic", True),
    "Latent (nearest)": ("nearest", False),
    "Latent (nearest-exact)": ("nearest-exact", False),
}
# A1111's built-in image upscalers (modules/upscaler.py: UpscalerNone, Lanczos, Nearest)
IMAGE_BUILTINS = ("None", "Lanczos", "Nearest")
DEFAULT_UPSCALER = "Latent"
UPSCALER_KIND = "hires_upscaler"
LATENT_FACTOR = 8  # A1111's opt_f; a model's own VAE factor is used where it differs
# Params A1111's text never carries under these names; the metadata says it its own way.
PARAM_NAMES = (
    "hires_fix",
    "hires_upscaler",
    "hires_upscale",
    "hires_steps",
    "denoising_strength",
    "hires_resize_x",
    "hires_resize_y",
)


def params() -> tuple[Param, ...]:
    on = ("hires_fix", True)
    return (
        BoolParam(
            name="hires_fix", label="Hires. fix",
            help="Make the picture at the model's own size, upscale it, then repaint the "
            "details at the larger size (AUTOMATIC1111's Hires. fix). Text to image only.",
        ),
        ModelParam(
            name="hires_upscaler", label="Upscaler", kind=UPSCALER_KIND, scan=True,
            default=DEFAULT_UPSCALER, visible_when=on,
            help="Latent modes upscale before decoding (use a strength of 0.5 or more); "
            "Lanczos and the upscaler networks upscale the picture (0.2-0.4 keeps it).",
        ),
        FloatParam(
            name="hires_upscale", label="Upscale by", default=2.0, minimum=1.0, maximum=4.0,
            step=0.05, visible_when=on, help="The second pass's size, as a multiple of Width × "
            "Height (unless Resize width/height are set).",
        ),
        IntParam(
            name="hires_steps", label="Hires steps", default=0, minimum=0, maximum=150,
            visible_when=on, help="Steps of the second pass; 0 runs as many as Steps.",
        ),
        FloatParam(
            name="denoising_strength", label="Denoising strength", default=0.7, minimum=0.0,
            maximum=1.0, visible_when=on,
            help="How much the second pass repaints: 0 keeps the upscaled picture.",
        ),
        IntParam(
            name="hires_resize_x", label="Resize width to", default=0, minimum=0,
            maximum=4096, step=8, multiple=8, visible_when=on,
            help="0: Upscale by decides. With a height too, the picture fills this size "
            "and is cropped to it.",
        ),
        IntParam(
            name="hires_resize_y", label="Resize height to", default=0, minimum=0,
            maximum=4096, step=8, multiple=8, visible_when=on,
            help="0: Upscale by decides (or the width keeps the aspect ratio).",
        ),
    )  # fmt: skip


# ---------------------------------------------------------------- choices


def upscaler_choices(models_dir: Any) -> list[tuple[str, str]]:
    """(value, label): A1111's latent modes and built-ins, then the shared upscalers' own."""
    found = [(name, name) for name in (*LATENT_MODES, *IMAGE_BUILTINS)]
    runtime = _runtime()
    if runtime is not None:
        # a broken upscaler folder hides only those choices
        with contextlib.suppress(Exception):
            offered = {value for value, _label in found}
            found += [
                (str(v), str(label))
                for v, label in runtime.choices(models_dir)
                if str(v) not in offered  # Lanczos and Nearest are A1111's built-ins above
            ]
    return found


def _runtime() -> Any:
    import importlib

    try:  # the module as sys.modules has it (a test may stand another in its place)
        return importlib.import_module("studio.upscalers")
    except ImportError:
        return None


def find_upscaler(value: str, models_dir: Any) -> tuple[str, str]:
    """(value, label) of the upscaler named by value or by label (A1111 writes labels)."""
    wanted = str(value or DEFAULT_UPSCALER).strip()
    choices = upscaler_choices(models_dir)
    for choice, label in choices:
        if wanted == choice:
            return choice, label
    for choice, label in choices:
        if wanted.lower() == label.lower():
            return choice, label
    raise GeneratorError(
        f"The hires upscaler '{wanted}' is not installed; pick Latent, Lanczos or one of "
        "your upscalers"
    )


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Plan:
    """Where the second pass goes, and how it gets there."""

    upscaler: str  # the value: a latent mode, a built-in or an upscaler's own
    label: str  # as A1111 writes it
    width: int  # the upscaled picture, before the crop
    height: int
    crop: tuple[int, int, int, int]  # (left, top, right, bottom) in latent pixels
    steps: int  # the second pass runs exactly these
    schedule: int  # out of a schedule of this many
    strength: float  # what diffusers is given so that it runs exactly `steps`

    @property
    def latent(self) -> bool:
        return self.upscaler in LATENT_MODES

    @property
    def size(self) -> tuple[int, int]:
        """The final picture's size."""
        left, top, right, bottom = self.crop
        f = LATENT_FACTOR
        return (right - left) * f, (bottom - top) * f


def plan(p: Any, models_dir: Any) -> Plan | None:
    """The second pass of a request, or None when hires fix is off."""
    if not p.get("hires_fix"):
        return None
    value, label = find_upscaler(p["hires_upscaler"], models_dir)
    width, height, trunc_x, trunc_y = target_size(
        p["width"], p["height"], p["hires_upscale"], p["hires_resize_x"], p["hires_resize_y"]
    )
    lat_w, lat_h = width // LATENT_FACTOR, height // LATENT_FACTOR
    crop = (trunc_x // 2, trunc_y // 2, lat_w - (trunc_x + 1) // 2, lat_h - (trunc_y + 1) // 2)
    strength = p["denoising_strength"]
    wanted = p["hires_steps"] or p["steps"]
    if strength <= 0:
        raise GeneratorError(
            "Hires fix at a denoising strength of 0 repaints nothing; use 0.2 or more"
        )
    schedule, run_strength = second_pass_steps(wanted, strength)
    if crop[2] - crop[0] < 1 or crop[3] - crop[1] < 1:
        raise GeneratorError(f"Hires fix to {width}×{height} leaves no picture")
    return Plan(value, label, width, height, crop, wanted, schedule, run_strength)


def target_size(
    width: int, height: int, scale: float, resize_x: int, resize_y: int
) -> tuple[int, int, int, int]:
    """A1111's `calculate_target_resolution`: (width, height to upscale to, latent pixels to
    crop across, latent pixels to crop down)."""
    if not resize_x and not resize_y:
        return int(width * scale), int(height * scale), 0, 0
    if not resize_y:
        return resize_x, resize_x * height // width, 0, 0
    if not resize_x:
        return resize_y * width // height, resize_y, 0, 0
    if width / height < resize_x / resize_y:
        up_w, up_h = resize_x, resize_x * height // width
    else:
        up_w, up_h = resize_y * width // height, resize_y
    return up_w, up_h, (up_w - resize_x) // LATENT_FACTOR, (up_h - resize_y) // LATENT_FACTOR


def second_pass_steps(steps: int, strength: float) -> tuple[int, float]:
    """A1111 runs exactly `steps` of a schedule of int(steps / strength) (its
    `setup_img2img_steps` when the steps are given); diffusers runs int(schedule × strength)
    of `schedule`, so it is given a strength that lands on `steps` without rounding down."""
    schedule = max(steps, int(steps / min(strength, 0.999)))
    return schedule, min(1.0, (steps + 0.5) / schedule)


# ---------------------------------------------------------------- running


def upscale_latents(latents: Any, plan: Plan, factor: int) -> Any:
    """Latents interpolated to the target size as A1111 does, then cropped."""
    import torch

    mode, antialias = LATENT_MODES[plan.upscaler]
    size = (plan.height // factor, plan.width // factor)
    scaled = torch.nn.functional.interpolate(
        latents.float(), size=size, mode=mode, antialias=antialias
    ).to(latents.dtype)
    left, top, right, bottom = _scaled_crop(plan, factor)
    return scaled[:, :, top:bottom, left:right]


def upscale_image(image: Any, plan: Plan, factor: int, models_dir: Any, ctx: Any) -> Any:
    """The first pass's picture at the target size: A1111's `resize_image(0, …, upscaler)`
    (the upscaler, then Lanczos to the exact size), then cropped."""
    from PIL import Image

    size = (plan.width, plan.height)
    if plan.upscaler in ("None", "Lanczos"):
        scaled = image.resize(size, Image.Resampling.LANCZOS)
    elif plan.upscaler == "Nearest":
        scaled = image.resize(size, Image.Resampling.NEAREST)
    else:
        runtime = _runtime()
        if runtime is None:
            raise GeneratorError(f"The hires upscaler '{plan.label}' needs Studio's upscalers")
        scale = max(plan.width / image.width, plan.height / image.height)
        scaled = runtime.upscale(
            image, plan.upscaler, scale, models_dir=models_dir, device=ctx.device,
            cancelled=_cancelled_check(ctx),
        )  # fmt: skip
        if scaled.size != size:
            scaled = scaled.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    left, top, right, bottom = _scaled_crop(plan, factor)
    return scaled.crop((left * factor, top * factor, right * factor, bottom * factor))


def _scaled_crop(plan: Plan, factor: int) -> tuple[int, int, int, int]:
    # The crop is in A1111's latent pixels (1/8); a VAE of another factor scales it.
    return tuple(round(v * LATENT_FACTOR / factor) for v in plan.crop)  # type: ignore[return-value]


def _cancelled_check(ctx: Any) -> Any:
    from studio.core.generator import Cancelled

    def cancelled() -> bool:
        try:
            ctx.check_cancelled()
        except Cancelled:
            return True
        return False

    return cancelled


# ---------------------------------------------------------------- what the result says


def infotext(p: Any, plan: Plan | None) -> dict[str, Any]:
    """A1111's pairs for the second pass, in its order; params it never writes map to None
    (left out of the text; our record keeps them)."""
    text: dict[str, Any] = {}
    if plan is not None:
        _pairs(text, p, plan)
    return {**text, **{_a1111_key(n): None for n in PARAM_NAMES if _a1111_key(n) not in text}}


def _pairs(text: dict[str, Any], p: Any, plan: Plan) -> None:
    text["Denoising strength"] = p["denoising_strength"]
    if p["hires_resize_x"] or p["hires_resize_y"]:
        text["Hires resize"] = f"{p['hires_resize_x']}x{p['hires_resize_y']}"
    else:
        text["Hires upscale"] = p["hires_upscale"]
    if p["hires_steps"]:
        text["Hires steps"] = p["hires_steps"]
    text["Hires upscaler"] = plan.label


def _a1111_key(name: str) -> str:
    return name.replace("_", " ").capitalize()


def restore(values: dict, carried: dict, notes: list, models_dir: Any) -> None:
    """A1111's settings onto the form. Hires fix is on when the text has a denoising strength
    and an upscale, a resize or an upscaler (A1111's own test when pasting); without them its
    `Denoising strength` is image to image's strength. Studio's own record says it all."""
    if "hires_fix" in carried:
        return
    hires = "denoising_strength" in carried and any(
        key in carried for key in ("hires_upscale", "hires_upscaler", "hires_resize")
    )
    values["hires_fix"] = hires
    if not hires:
        if "denoising_strength" in values:
            values["strength"] = values.pop("denoising_strength")
        return
    if "hires_resize" not in carried:
        values["hires_resize_x"] = values["hires_resize_y"] = 0
    values.setdefault("hires_steps", 0)  # A1111 leaves it out when it is 0
    values.setdefault("hires_upscale", 2.0)
    wanted = values.get("hires_upscaler") or DEFAULT_UPSCALER
    try:
        values["hires_upscaler"] = find_upscaler(str(wanted), models_dir)[0]
    except GeneratorError:
        values.pop("hires_upscaler", None)
        notes.append(f"The hires upscaler '{wanted}' is not installed; kept the current one")


def note(plan: Plan) -> str:
    width, height = plan.size
    return f" · hires fix {width}×{height} ({plan.label}, {plan.steps} steps)"


class TwoPasses:
    """One picture made in two passes: the first at the form's size, the second (image to
    image over the same weights) at the plan's; progress runs on across both. `run_pass`
    (pipe, first step, seed, **arguments) makes one pipeline call of the job."""

    def __init__(self, plan: Plan, loaded: Any, p: Any, ctx: Any, run_pass: Any) -> None:
        self.plan, self.loaded, self.p, self.ctx, self.run_pass = plan, loaded, p, ctx, run_pass

    def __call__(self, seed: int, done: int) -> Any:
        plan, p = self.plan, self.p
        first, second = self.loaded.pipe("txt2img"), self.loaded.pipe("img2img")
        factor = int(getattr(first, "vae_scale_factor", LATENT_FACTOR))
        low = self.run_pass(
            first, done, seed, output_type="latent" if plan.latent else "pil",
            num_inference_steps=p["steps"], width=p["width"], height=p["height"],
        ).images  # fmt: skip
        if plan.latent:
            image = upscale_latents(low, plan, factor)
        else:
            image = upscale_image(low[0], plan, factor, self.ctx.models_dir, self.ctx)
        second.scheduler = first.scheduler  # the first pass's sampler, its state reset per call
        output = self.run_pass(
            second, done + p["steps"], seed, image=image, num_inference_steps=plan.schedule,
            strength=plan.strength,
        )  # fmt: skip
        return output.images[0]
