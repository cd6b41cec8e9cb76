"""Loaded diffusers pipelines: one at a time, shared by text-to-image, image-to-image and
inpainting through `from_pipe`. Imported on the worker thread only (torch, diffusers)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported

import gc  # noqa: E402
import logging  # noqa: E402
import weakref  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402

from .discovery import ModelEntry, ModelProblem, family_from_keys  # noqa: E402

log = logging.getLogger(__name__)


def torch_dtype(device: Any) -> torch.dtype:
    if device.kind == "cpu":
        return torch.float32
    return {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(device.dtype, torch.float16)


@dataclass
class Loaded:
    """One model in memory and the pipelines made from it, with the LoRAs, embeddings and VAE
    applied to its shared weights."""

    key: tuple
    entry: ModelEntry
    text2img: Any
    device: Any
    native_scheduler: str  # the scheduler class the model came with
    scheduler_config: Any = None  # the model's own scheduler settings, never altered
    modes: dict[str, Any] = field(default_factory=dict)
    variant: str = ""  # e.g. "sd1", "sd2-v", "sdxl-inpaint"; "" for folders
    networks: Any = None  # networks.Applied: LoRAs, embeddings and VAE now in the weights

    @property
    def inpainting_model(self) -> bool:
        return self.variant.endswith("-inpaint") or int(self.text2img.unet.config.in_channels) == 9

    def pipe(self, mode: str) -> Any:
        """The pipeline for txt2img, img2img or inpaint; all share one set of weights. A
        9-channel inpainting model runs every mode through its inpainting pipeline."""
        if self.inpainting_model:
            mode = "inpaint"
        if mode == "txt2img" or (mode == "inpaint" and _is_inpaint_pipe(self.text2img)):
            return self.text2img
        if mode not in self.modes:
            from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

            auto = AutoPipelineForImage2Image if mode == "img2img" else AutoPipelineForInpainting
            made = auto.from_pipe(self.text2img)
            made.set_progress_bar_config(disable=True)
            self.modes[mode] = made
        return self.modes[mode]

    def all_pipes(self) -> list[Any]:
        return [self.text2img, *self.modes.values()]


def _is_inpaint_pipe(pipe: Any) -> bool:
    return "Inpaint" in type(pipe).__name__


class Pipelines:
    """Holds at most one loaded model: switching models unloads the previous one."""

    def __init__(self) -> None:
        self.current: Loaded | None = None

    def get(
        self,
        entry: ModelEntry,
        device: Any,
        offload: bool = False,
        configs: Any = None,
        models_dir: Any = None,
    ) -> Loaded:
        """The loaded model (loading it, and unloading any other, if needed). `configs` maps a
        family to a local folder, for a .ckpt whose family is only known once it is read."""
        offload = offload and device.kind == "cuda"  # elsewhere it changes nothing
        key = (_file_key(entry.path), device.kind, str(torch_dtype(device)), offload)
        if self.current is not None and self.current.key == key:
            return self.current
        self.unload()
        pipe, entry, variant = load(entry, device, offload, configs or {}, models_dir)
        native = type(pipe.scheduler).__name__
        frozen = dict(pipe.scheduler.config)
        self.current = Loaded(key, entry, pipe, device, native, frozen, variant=variant)
        return self.current

    def unload(self) -> None:
        """Drop the loaded model. Its weights are usually freed at once; a full garbage
        collection (half a second or more with torch and diffusers loaded) runs only when
        something still holds them in a reference cycle, e.g. a traceback kept from a failure."""
        if self.current is None:
            return
        weights = [
            weakref.ref(module)
            for pipe in self.current.all_pipes()
            for module in pipe.components.values()
            if isinstance(module, torch.nn.Module)
        ]
        self.current = None
        if any(ref() is not None for ref in weights):
            gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _file_key(path: Path) -> tuple:
    """A model or LoRA as loaded: its path, and its size and time (for a folder: those of the
    files in it), so a file replaced on disk is loaded again."""
    path = Path(path)
    try:
        if path.is_dir():
            stats = [p.stat() for p in sorted(path.rglob("*")) if p.is_file()]
        else:
            stats = [path.stat()]
    except OSError:
        return (str(path),)
    return (str(path.resolve()), tuple((s.st_size, s.st_mtime_ns) for s in stats))


def load(
    entry: ModelEntry,
    device: Any,
    offload: bool = False,
    configs: Any = None,
    models_dir: Any = None,
) -> tuple[Any, ModelEntry, str]:
    """Load a model from local files only; never downloads. Returns the pipeline, the entry
    (with the family a .ckpt turned out to have) and the variant of a single file."""
    from diffusers import AutoPipelineForText2Image
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()  # progress is Studio's: the job's own bar
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    if entry.problem:
        raise ModelProblem(entry.problem)
    kwargs: dict[str, Any] = {"local_files_only": True, "dtype": torch_dtype(device)}
    variant = ""
    try:
        if entry.kind == "file":
            pipe, entry, variant = _load_file(entry, kwargs, configs or {}, models_dir)
        else:
            if entry.family in ("sd1", "sd2"):
                kwargs.update(safety_checker=None, requires_safety_checker=False)
            pipe = AutoPipelineForText2Image.from_pretrained(str(entry.path), **kwargs)
    except ModelProblem:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelProblem(f"'{entry.name}' could not be loaded: {_first_line(exc)}") from None
    pipe.set_progress_bar_config(disable=True)
    if offload and device.kind == "cuda":
        pipe.enable_model_cpu_offload()
    else:
        pipe.to(device.torch_device)
    if device.kind == "mps":
        pipe.enable_attention_slicing()
    return pipe, entry, variant


PIPELINE_CLASSES = {
    "sd1": "StableDiffusionPipeline",
    "sd2": "StableDiffusionPipeline",
    "sd2-v": "StableDiffusionPipeline",
    "sd1-inpaint": "StableDiffusionInpaintPipeline",
    "sd2-inpaint": "StableDiffusionInpaintPipeline",
    "sdxl": "StableDiffusionXLPipeline",
    "sdxl-inpaint": "StableDiffusionXLInpaintPipeline",
}


def _load_file(
    entry: ModelEntry, kwargs: dict, configs: dict, models_dir: Any
) -> tuple[Any, ModelEntry, str]:
    """A single checkpoint with Studio's configuration of its variant and tokenizer; where
    the tokenizer is not installed, with a local diffusers folder of its family."""
    import diffusers

    from . import components, tokenizer

    variant = entry.variant
    if entry.path.suffix.lower() == ".ckpt":
        family, variant = ckpt_family(entry.path, with_variant=True)
        if family not in ("sd1", "sd2", "sdxl"):
            raise ModelProblem(
                f"'{entry.path.name}' is not a Stable Diffusion checkpoint Studio knows"
            )
        entry = ModelEntry(**{**entry.__dict__, "family": family, "variant": variant})
    if not variant:
        raise ModelProblem(f"'{entry.path.name}' is not a Stable Diffusion checkpoint Studio knows")
    variant = variant.replace("sd2-v", "sd2")  # the UNet itself says v or ε, below
    if not variant.startswith("sdxl"):
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    paired = entry.paired or configs.get(entry.family)
    words = tokenizer.find(models_dir)
    cls = getattr(diffusers, PIPELINE_CLASSES[variant])
    if words is None and paired is None:
        raise ModelProblem(
            f"'{entry.path.name}' is a single file, and Studio's CLIP tokenizer is not "
            "installed. Run `studio models install-defaults` once (it takes the tokenizer "
            "file from the open_clip_torch package on PyPI), or add a diffusers folder "
            f"of {entry.family_name} to your model folders."
        )
    try:
        if words is None:
            raise _UsePaired()
        config = components.config_folder(variant)
        made = {**kwargs, **components.tokenizers_for(variant, words)}
        pipe = cls.from_single_file(str(entry.path), config=str(config), **made)
    except (_UsePaired, ValueError, RuntimeError) as exc:
        # A checkpoint of another shape (a distilled "small" SD, say) loads with the user's
        # own diffusers folder of it, where there is one.
        if paired is None:
            raise
        log.info("loading %s with the configuration of %s (%s)", entry.path, paired, exc)
        pipe = cls.from_single_file(str(entry.path), config=str(paired), **kwargs)
        variant = ""
    if variant == "sd2" and _predicts_v(entry.path, pipe.unet):
        variant = "sd2-v"
        pipe.scheduler = type(pipe.scheduler).from_config(
            pipe.scheduler.config, prediction_type="v_prediction"
        )
    return pipe, ModelEntry(**{**entry.__dict__, "variant": variant}), variant


class _UsePaired(Exception):  # noqa: N818 - a signal, not an error
    """Studio's tokenizer is not installed: the user's own folder describes the file."""


def _predicts_v(path: Path, unet: Any) -> bool:
    from .components import unet_predicts_v, yaml_says_v

    beside = yaml_says_v(path)
    return beside if beside is not None else unet_predicts_v(unet)


def ckpt_family(path: Path, with_variant: bool = False) -> Any:
    """The family of a .ckpt (and, with `with_variant`, its configuration variant), read
    with the weights-only unpickler (no code can run)."""
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # noqa: BLE001 - pickles with code, damaged files
        raise ModelProblem(
            f"'{path.name}' cannot be read safely (weights only): {_first_line(exc)}"
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelProblem(f"'{path.name}' holds no state dict")
    family = family_from_keys(state)
    if not with_variant:
        return family
    from .components import FIRST_CONV, variant_of

    conv = state.get(FIRST_CONV)
    return family, variant_of(family, tuple(conv.shape) if conv is not None else None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


shared = Pipelines()
