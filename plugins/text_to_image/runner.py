"""One text-to-image job on the worker thread: model, networks, sampler, images, results."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.generator import Context, GeneratorError, Request, Result, seed_at

from . import discovery, fast, hires, imaging, samplers, seamless

PREVIEW_INTERVAL_S = 0.25  # at most four previews a second; the first step always has one
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
MODES = {"txt2img": "text to image", "img2img": "image to image", "inpaint": "inpainting"}


@dataclass
class Prepared:
    """The pictures a job runs on: what goes into the pipeline, and how results come back."""

    mode: str
    width: int
    height: int
    extra: dict[str, Any] = field(default_factory=dict)
    original: Any = None  # the init image, for pasting back outside the mask
    overlay_mask: Any = None  # the blurred mask the paste-back blends with
    box: tuple[int, int, int, int] | None = None  # "only masked": where the crop goes back
    note: str = ""


def run(generator: Any, request: Request, ctx: Context) -> list[Result]:
    from . import conditioning, networks, pipelines, speed, taesd

    p = request.params
    entries = generator.entries(ctx.models_dir)  # one scan per job, for the model and configs
    entry = generator.find_entry(p["model"], entries)
    mode = "inpaint" if p["mask"] else "img2img" if p["init_image"] else "txt2img"
    if p["mask"] and not p["init_image"]:
        raise GeneratorError("Inpainting needs an init image as well as a mask")
    if mode != "txt2img":
        _check_strength(p)
    second = hires.plan(p, ctx.models_dir) if mode == "txt2img" else None
    prompt, tags = _prompt_and_tags(p["prompt"])
    negative, negative_tags = _prompt_and_tags(p["negative_prompt"] or "")
    roots = discovery.roots(ctx.models_dir)
    loras = _loras(p, tags + negative_tags, roots)
    embeddings = _embeddings([prompt, negative], roots)
    vae = Path(p["vae"]) if p["vae"] else None
    if p["scheduler"] == "dpmpp_sde" and not samplers.sde_available():
        raise GeneratorError("DPM++ SDE needs the torchsde package; run ./run.sh again")
    try:
        with generator._lock:
            configs = _configs(entries)
            loaded = pipelines.shared.get(
                entry, ctx.device, p["cpu_offload"], configs, ctx.models_dir
            )
            networks.set_loras(loaded, [(e.path, w) for e, w, _ in loras])
            tokens = networks.set_embeddings(loaded, [(e.name, e.path) for e in embeddings])
            networks.set_vae(loaded, vae)
        entry = loaded.entry  # a .ckpt knows its family once read
    except discovery.ModelProblem as exc:
        raise GeneratorError(str(exc)) from None
    few = fast.for_job(entry.path, [e.path for e, _, _ in loras])
    if p["scheduler"] == "lcm" and not (_fits_lcm(loaded, loras) or few and few.kind == fast.LCM):
        raise GeneratorError(
            "LCM needs an LCM-distilled model or an LCM LoRA; pick another sampler"
        )
    prepared = _prepare(p, mode, loaded)
    if second is not None and loaded.inpainting_model:
        raise GeneratorError("Hires fix needs a normal model, not an inpainting model")
    pipe = loaded.pipe(mode)
    seamless.apply(loaded, p["tiling"])
    schedule = p["schedule"] if samplers.supports(p["scheduler"], p["schedule"]) else "automatic"
    # from the model's own settings each time: one run's sampler never leaks into the next
    config = fast.scheduler_config(few, loaded.scheduler_config)
    pipe.scheduler = samplers.make_scheduler(p["scheduler"], schedule, config)
    decoder = taesd.for_job(p, entry, roots, pipe)
    vae_model = pipe.vae
    final = second.size if second is not None else (prepared.width, prepared.height)
    if final[0] * final[1] > TILE_VAE_PIXELS:
        vae_model.enable_tiling()
    else:
        vae_model.disable_tiling()
    embeds = conditioning.Conditioner(pipe)(
        _with_tokens(prompt, tokens), _with_tokens(negative, tokens)
    )
    steps_per_image = _steps(mode, p["steps"], p["strength"]) + (second.steps if second else 0)
    total = steps_per_image * p["count"]
    family = "sdxl" if entry.family == "sdxl" else "sd"
    infotext = {**_infotext(p, schedule, loras, embeddings, vae), **seamless.infotext(p)}
    infotext.update(hires.infotext(p, second))
    note = _note(mode, entry, p, ctx.device.kind, loras, prepared, schedule) + decoder.note
    offload = bool(p["cpu_offload"]) and ctx.device.kind == "cuda"
    device = speed.device_line(ctx.device, pipe.unet.dtype, ctx.threads, offload)
    results = []
    run_pass = _pass_runner(ctx, embeds, p["cfg"], total, family, decoder.preview)
    for index in range(p["count"]):
        ctx.check_cancelled()
        seed = seed_at(request.seed, index)
        done = index * steps_per_image
        if second is not None:  # the VAE decodes both passes (the fast decoder previews)
            image = hires.TwoPasses(second, loaded, p, ctx, run_pass)(seed, done)
            made = _result(generator, request, image, seed, entry, note + hires.note(second))
            made.infotext = {"Size": f"{p['width']}x{p['height']}", **infotext}
            made.device = device
            results.append(made)
            continue
        output = run_pass(
            pipe, done, seed, num_inference_steps=p["steps"], **prepared.extra, **decoder.call
        )
        image = _finish(decoder.image(pipe, output), prepared)
        made = _result(generator, request, image, seed, entry, note)
        made.infotext = dict(infotext)
        made.device = device
        made.params["width"], made.params["height"] = prepared.width, prepared.height
        results.append(made)
    ctx.progress(total, total)
    return results


def _pass_runner(
    ctx: Context, embeds: dict, cfg: float, total: int, family: str, preview: Any = None
) -> Any:
    """One pipeline call of a job (progress from step `done` on, previews, cancel)."""
    import torch

    def run_pass(pipe: Any, done: int, seed: int, **extra: Any) -> Any:
        watcher = StepWatcher(ctx, done, total, family, preview)
        try:
            output = pipe(
                **embeds,
                guidance_scale=cfg,
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
        return output

    return run_pass


def _result(generator: Any, request: Request, image: Any, seed: int, entry: Any, note: str) -> Any:
    made = generator.result(
        request,
        image,
        seed,
        model_name=entry.name,
        model_hash=entry.short_hash,
        method=samplers.label(request.params["scheduler"]),
        note=note,
    )
    made.params = dict(request.params)
    return made


# ---------------------------------------------------------------- inputs


def _prompt_and_tags(text: str) -> tuple[str, list]:
    from .prompts import extract_networks

    return extract_networks(text)


def _loras(p: Any, tags: list, roots: list[Path]) -> list[tuple[Any, float, str]]:
    """(entry, weight, name as written) for the form's LoRAs and the prompt's <lora:…> tags."""
    from . import library

    found = library.scan_files(roots, "lora") if tags else []
    chosen: list[tuple[Any, float, str]] = []
    slots = [("lora", "lora_weight")] + [(f"lora_{i}", f"lora_{i}_weight") for i in (2, 3)]
    for name, weight in slots:
        if p.get(name):
            path = Path(p[name])
            if not path.is_file():
                raise GeneratorError(f"The LoRA '{path.name}' does not exist")
            chosen.append(
                (library.LibraryEntry("lora", path.stem, path, "", 0), p[weight], path.stem)
            )
    missing = []
    for tag in tags:
        if tag.kind not in ("lora", "lyco"):
            continue
        entry = library.by_name(found, tag.name)
        if entry is None:
            missing.append(tag.name)
        else:
            chosen.append((entry, tag.weight, tag.name))
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        raise GeneratorError(
            f"The prompt names LoRA {names}, which is not in your model folders "
            "(Edit → Preferences, or Add an existing install…)"
        )
    return chosen


def _embeddings(texts: list[str], roots: list[Path]) -> list[Any]:
    from . import library
    from .prompts import used_embeddings

    found = library.scan_files(roots, "embedding")
    if not found:
        return []
    names = used_embeddings(texts, [e.name for e in found])
    return [library.by_name(found, name) for name in names]


def _with_tokens(text: str, tokens: dict[str, str]) -> str:
    from .prompts import embedding_pattern

    pattern = embedding_pattern(list(tokens))
    if pattern is None:
        return text
    lowered = {name.lower(): value for name, value in tokens.items()}
    return pattern.sub(lambda m: lowered[m.group(1).lower()], text)


def _check_strength(p: Any) -> None:
    if int(p["steps"] * p["strength"]) < 1:
        need = -(-1 // p["strength"]) if p["strength"] > 0 else None
        hint = f"at least {int(need)} steps" if need else "a strength above 0"
        raise GeneratorError(
            f"{p['steps']} steps at strength {p['strength']:g} leave no step to run; use {hint}"
        )


def _prepare(p: Any, mode: str, loaded: Any) -> Prepared:
    width, height = p["width"], p["height"]
    if mode == "txt2img":
        prepared = Prepared(mode, width, height, {"width": width, "height": height})
        if loaded.inpainting_model:  # a 9-channel model makes pictures from a blank canvas
            image, mask = imaging.neutral_init(width, height)
            prepared.extra.update(image=image, mask_image=mask, strength=1.0)
        return prepared
    init = _open(p["init_image"], "init image").convert("RGB")
    if mode == "img2img":
        image = imaging.resize(init, width, height, p["resize_mode"])
        extra: dict[str, Any] = {"image": image, "strength": p["strength"]}
        if loaded.inpainting_model:
            extra.update(
                mask_image=imaging.neutral_init(width, height)[1], width=width, height=height
            )
        note = _resized_note(init, width, height, p["resize_mode"])
        return Prepared(mode, width, height, extra, note=note)
    mask = _open(p["mask"], "mask").convert("L").resize(init.size)
    overlay = imaging.blurred(mask, p["mask_blur"])
    if p["inpaint_area"] == "masked":
        box = imaging.crop_region(mask, p["mask_padding"], width, height)
        if box is None:
            raise GeneratorError("The mask is empty: paint the area to repaint in white")
        crop = imaging.resize(init.crop(box), width, height, "resize_fill")
        crop_mask = imaging.resize(overlay.crop(box), width, height, "resize_fill")
        extra = {"image": crop, "mask_image": crop_mask, "width": width, "height": height}
        extra["strength"] = p["strength"]
        size = f"{box[2] - box[0]}×{box[3] - box[1]}"
        note = f"only masked: {size} px around the mask at {width}×{height}"
        return Prepared(mode, width, height, extra, init, overlay, box, note)
    image = imaging.resize(init, width, height, p["resize_mode"])
    mask_sized = imaging.resize(overlay, width, height, p["resize_mode"])
    extra = {"image": image, "mask_image": mask_sized, "width": width, "height": height}
    extra["strength"] = p["strength"]
    note = _resized_note(init, width, height, p["resize_mode"])
    return Prepared(mode, width, height, extra, image, mask_sized, None, note)


def _resized_note(init: Any, width: int, height: int, mode: str) -> str:
    if init.size == (width, height):
        return ""
    label = dict(zip(imaging.RESIZE_MODES, imaging.RESIZE_LABELS, strict=True))[mode].lower()
    return f"init {init.width}×{init.height} → {width}×{height} ({label})"


def _finish(image: Any, prepared: Prepared) -> Any:
    """The pipeline's picture, with the original pasted back outside the mask."""
    if prepared.mode != "inpaint":
        return image
    if prepared.box is not None:
        return imaging.paste_back(image, prepared.original, prepared.overlay_mask, prepared.box)
    return imaging.composite(image, prepared.original, prepared.overlay_mask)


def _open(path: str, what: str) -> Any:
    from studio.core.images import ImageLoadError, load_image

    try:
        return load_image(Path(path))
    except ImageLoadError as exc:
        raise GeneratorError(f"The {what}: {exc}") from None


def _configs(entries: list) -> dict[str, Path]:
    """The first loadable diffusers folder of each family (for a single file where Studio's
    tokenizer is not installed)."""
    configs: dict[str, Path] = {}
    for entry in entries:
        if entry.kind != "file" and entry.problem is None:
            configs.setdefault(entry.family, entry.path)
    return configs


def _fits_lcm(loaded: Any, loras: list) -> bool:
    names = [loaded.native_scheduler, loaded.entry.name, *(str(e.path.name) for e, _, _ in loras)]
    return any("lcm" in name.lower() for name in names)


def _steps(mode: str, steps: int, strength: float) -> int:
    if mode == "txt2img":
        return steps
    return max(1, min(int(steps * strength), steps))


# ---------------------------------------------------------------- what the result says


def _infotext(p: Any, schedule: str, loras: list, embeddings: list, vae: Path | None) -> dict:
    """A1111's extra `parameters` pairs, named and laid out as A1111 writes them."""
    from . import library

    text: dict[str, Any] = {"Schedule type": samplers.schedule_label(schedule)}
    if vae is not None:
        text["VAE hash"] = library.short_hash(vae, "vae")
        text["VAE"] = vae.name
    if loras:
        pairs = [f"{_alias(name)}: {library.short_hash(e.path, 'lora')}" for e, _, name in loras]
        text["Lora hashes"] = ", ".join(dict.fromkeys(pairs))
    if embeddings:
        pairs = [f"{_alias(e.name)}: {library.short_hash(e.path, 'embedding')}" for e in embeddings]
        text["TI hashes"] = ", ".join(pairs)
    return text


def _alias(name: str) -> str:
    return name.replace(":", "").replace(",", "")  # A1111 strips these from the names it lists


def _note(
    mode: str, entry: Any, p: Any, device: str, loras: list, prepared: Prepared, schedule: str
) -> str:
    text = f"{MODES[mode]} · {entry.family_name}"
    for lora, weight, _name in loras:
        text += f" · LoRA {lora.name} × {weight:g}"
    if prepared.note:
        text += f" · {prepared.note}"
    if schedule != p["schedule"]:
        text += f" · {samplers.schedule_label(p['schedule'])} does not apply to " + (
            f"{samplers.label(p['scheduler'])}; ran Automatic"
        )
    if p["tiling"]:
        text += " · tileable"
    if p["cpu_offload"] and device != "cuda":
        text += " · CPU offload ignored (CUDA only)"
    return text


# ---------------------------------------------------------------- steps, previews, cancel


class _Stop(Exception):  # noqa: N818 - a signal, not an error
    """Raised from the step callback to leave a cancelled pipeline call at once."""


class StepWatcher:
    """diffusers' step-end callback: progress, throttled previews, and cancel within a step."""

    def __init__(
        self, ctx: Context, done: int, total: int, family: str, preview: Any = None
    ) -> None:
        self.ctx, self.done, self.total, self.family = ctx, done, total, family
        self.preview = preview  # latents -> picture or None (TAESD); None: the linear map
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
            latents = kwargs.get("latents")
            if self.preview is not None:
                preview = self.preview(latents)
            else:
                preview = latent_preview(latents, self.family)
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
