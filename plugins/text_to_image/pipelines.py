"""Loaded diffusers pipelines: one at a time, shared by text-to-image, image-to-image and
inpainting through `from_pipe`. Imported on the worker thread only (torch, diffusers)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported

import gc  # noqa: E402
import logging  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402

from .discovery import ModelEntry, ModelProblem, family_from_keys  # noqa: E402

log = logging.getLogger(__name__)

SCHEDULERS = {
    "euler": "Euler",
    "euler_a": "Euler a",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_karras": "DPM++ 2M Karras",
    "ddim": "DDIM",
    "lcm": "LCM",
}


def make_scheduler(name: str, config: Any) -> Any:
    import diffusers as d

    if name == "euler":
        return d.EulerDiscreteScheduler.from_config(config)
    if name == "euler_a":
        return d.EulerAncestralDiscreteScheduler.from_config(config)
    if name in ("dpmpp_2m", "dpmpp_2m_karras"):
        return d.DPMSolverMultistepScheduler.from_config(
            config,
            algorithm_type="dpmsolver++",
            solver_order=2,
            use_karras_sigmas=name.endswith("karras"),
        )
    if name == "ddim":
        return d.DDIMScheduler.from_config(config, clip_sample=False, steps_offset=1)
    if name == "lcm":
        return d.LCMScheduler.from_config(config)
    raise ValueError(f"unknown scheduler {name}")


def torch_dtype(device: Any) -> torch.dtype:
    if device.kind == "cpu":
        return torch.float32
    return {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(device.dtype, torch.float16)


@dataclass
class Loaded:
    """One model in memory and the pipelines made from it."""

    key: tuple
    entry: ModelEntry
    text2img: Any
    device: Any
    native_scheduler: str  # the scheduler class the model came with
    scheduler_config: Any = None  # the model's own scheduler settings, never altered
    modes: dict[str, Any] = field(default_factory=dict)
    lora: tuple[str, float] | None = None

    def pipe(self, mode: str) -> Any:
        """The pipeline for txt2img, img2img or inpaint; all share one set of weights."""
        if mode == "txt2img":
            return self.text2img
        if mode not in self.modes:
            from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

            auto = AutoPipelineForImage2Image if mode == "img2img" else AutoPipelineForInpainting
            made = auto.from_pipe(self.text2img)
            made.set_progress_bar_config(disable=True)
            self.modes[mode] = made
        return self.modes[mode]

    def set_lora(self, path: str | None, weight: float) -> None:
        """Apply one LoRA file with a weight (or none); the weights are shared by all modes.
        A file replaced on disk (new size or time) is read again."""
        wanted = (_file_key(Path(path)), weight) if path else None
        if wanted == self.lora:
            return
        pipe = self.text2img
        if self.lora is not None and (wanted is None or wanted[0] != self.lora[0]):
            pipe.unload_lora_weights()
            self.lora = None
        if wanted is None:
            return
        if self.lora is None:
            try:
                pipe.load_lora_weights(str(Path(path).resolve()), adapter_name="user")
            except Exception as exc:  # noqa: BLE001 - a LoRA of another model or format
                pipe.unload_lora_weights()
                raise ModelProblem(
                    f"The LoRA '{Path(path).name}' does not fit "
                    f"{self.entry.name} ({self.entry.family_name}): {str(exc)[:200]}"
                ) from None
        pipe.set_adapters(["user"], adapter_weights=[weight])
        self.lora = wanted


class Pipelines:
    """Holds at most one loaded model: switching models unloads the previous one."""

    def __init__(self) -> None:
        self.current: Loaded | None = None

    def get(
        self, entry: ModelEntry, device: Any, offload: bool = False, configs: Any = None
    ) -> Loaded:
        """The loaded model (loading it, and unloading any other, if needed). `configs` maps a
        family to a local folder, for a .ckpt whose family is only known once it is read."""
        offload = offload and device.kind == "cuda"  # elsewhere it changes nothing
        key = (_file_key(entry.path), device.kind, str(torch_dtype(device)), offload)
        if self.current is not None and self.current.key == key:
            return self.current
        self.unload()
        pipe, entry = load(entry, device, offload, configs or {})
        native = type(pipe.scheduler).__name__
        frozen = dict(pipe.scheduler.config)
        self.current = Loaded(key, entry, pipe, device, native, frozen)
        return self.current

    def unload(self) -> None:
        if self.current is None:
            return
        self.current = None
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
    entry: ModelEntry, device: Any, offload: bool = False, configs: Any = None
) -> tuple[Any, ModelEntry]:
    """Load a model from local files only; never downloads. Returns the pipeline and the entry
    (with the family a .ckpt turned out to have)."""
    from diffusers import (
        AutoPipelineForText2Image,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
    )
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()  # progress is Studio's: the job's own bar
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    if entry.problem:
        raise ModelProblem(entry.problem)
    kwargs: dict[str, Any] = {"local_files_only": True, "dtype": torch_dtype(device)}
    if entry.family in ("sd1", "sd2"):
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        if entry.kind == "file":
            family = entry.family
            if entry.path.suffix.lower() == ".ckpt":
                family = ckpt_family(entry.path)
                config = (configs or {}).get(family, entry.config)
                entry = ModelEntry(**{**entry.__dict__, "family": family, "config": config})
                check_config_family(entry, family)
            cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
            pipe = cls.from_single_file(str(entry.path), config=str(entry.config), **kwargs)
        else:
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
    return pipe, entry


def ckpt_family(path: Path) -> str:
    """The family of a .ckpt, read with the weights-only unpickler (no code can run)."""
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
    return family_from_keys(state)


def check_config_family(entry: ModelEntry, family: str) -> None:
    from .discovery import FAMILIES, folder_family

    if family == "unknown":
        raise ModelProblem(f"'{entry.path.name}' is not a Stable Diffusion checkpoint Studio knows")
    config_family, _ = folder_family(entry.config)
    if config_family != family:
        raise ModelProblem(
            f"'{entry.path.name}' is {FAMILIES.get(family, family)}, but the only local folder "
            f"for its configuration is {FAMILIES.get(config_family, config_family)}; add a "
            f"{FAMILIES.get(family, family)} diffusers folder to your model folders"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


shared = Pipelines()
