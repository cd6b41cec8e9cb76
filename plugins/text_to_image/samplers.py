"""Samplers and schedule types under AUTOMATIC1111's names, built on diffusers' schedulers.

A1111 >= 1.9 writes them as two settings, `Sampler: DPM++ 2M, Schedule type: Karras`; older
versions (and Studio before this) joined them ("DPM++ 2M Karras", `dpmpp_2m_karras`). Each
scheduler is made from the model's own scheduler settings every run, so one run's sampler
never leaks into the next. Nothing here imports torch at import time.
"""

from __future__ import annotations

from typing import Any

# value -> (A1111 label, diffusers class, extra settings)
SAMPLERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "euler_a": ("Euler a", "EulerAncestralDiscreteScheduler", {}),
    "euler": ("Euler", "EulerDiscreteScheduler", {}),
    "dpmpp_2m": (
        "DPM++ 2M",
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2},
    ),
    "dpmpp_sde": ("DPM++ SDE", "DPMSolverSDEScheduler", {}),
    "dpmpp_2m_sde": (
        "DPM++ 2M SDE",
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "solver_order": 2},
    ),
    "unipc": ("UniPC", "UniPCMultistepScheduler", {}),
    "lms": ("LMS", "LMSDiscreteScheduler", {}),
    "heun": ("Heun", "HeunDiscreteScheduler", {}),
    "ddim": ("DDIM", "DDIMScheduler", {"clip_sample": False, "steps_offset": 1}),
    "ddpm": ("DDPM", "DDPMScheduler", {"clip_sample": False}),
    "lcm": ("LCM", "LCMScheduler", {}),
}
# value -> (A1111 "Schedule type" label, the diffusers switch it turns on)
SCHEDULES: dict[str, tuple[str, str | None]] = {
    "automatic": ("Automatic", None),
    "karras": ("Karras", "use_karras_sigmas"),
    "exponential": ("Exponential", "use_exponential_sigmas"),
}
# values stored by earlier versions, and A1111's joined names: (sampler, schedule)
LEGACY = {
    "dpmpp_2m_karras": ("dpmpp_2m", "karras"),
    "dpmpp_sde_karras": ("dpmpp_sde", "karras"),
    "dpmpp_2m_sde_karras": ("dpmpp_2m_sde", "karras"),
    "lms_karras": ("lms", "karras"),
}
for _value, (_label, _cls, _extra) in list(SAMPLERS.items()):
    for _schedule in ("karras", "exponential"):
        LEGACY.setdefault(f"{_value}_{_schedule}", (_value, _schedule))
        LEGACY[f"{_label} {_schedule}".lower()] = (_value, _schedule)


def sampler_param(**kwargs: Any) -> Any:
    """The Sampler choice, which also takes the joined names of earlier versions and older
    A1111 ("DPM++ 2M Karras"): they validate to `<sampler>_<schedule>`, which
    `TextToImage.make_request` and `TextToImage.restore` split into the two settings."""
    from dataclasses import dataclass

    from studio.core.generator import ChoiceParam

    @dataclass(frozen=True, kw_only=True)
    class SamplerParam(ChoiceParam):
        def validate(self, value: Any) -> Any:
            joined = split_legacy(value)
            if joined is not None and value not in self.choices:
                return f"{joined[0]}_{joined[1]}"
            return super().validate(value)

    return SamplerParam(**kwargs)


def label(sampler: str) -> str:
    return SAMPLERS[sampler][0]


def schedule_label(schedule: str) -> str:
    return SCHEDULES[schedule][0]


def split_legacy(value: Any) -> tuple[str, str] | None:
    """(sampler, schedule) for a joined value such as `dpmpp_2m_karras` or "DPM++ 2M Karras"."""
    return LEGACY.get(str(value).strip().lower()) if value is not None else None


def supports(sampler: str, schedule: str) -> bool:
    """Whether diffusers' scheduler for `sampler` can use that schedule of noise levels."""
    import inspect

    import diffusers

    switch = SCHEDULES[schedule][1]
    if switch is None:
        return True
    cls = getattr(diffusers, SAMPLERS[sampler][1])
    return switch in inspect.signature(cls.__init__).parameters


def make_scheduler(sampler: str, schedule: str, config: Any) -> Any:
    """A new scheduler for `sampler` with `schedule`, from the model's own settings."""
    import diffusers

    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler}")
    _label, cls_name, extra = SAMPLERS[sampler]
    settings = dict(extra)
    for _name, (_l, switch) in SCHEDULES.items():
        if switch is not None and supports(sampler, _name):
            settings[switch] = False  # the model's own config must not switch one on
    switch = SCHEDULES[schedule][1]
    if switch is not None and supports(sampler, schedule):
        settings[switch] = True
    return getattr(diffusers, cls_name).from_config(config, **settings)


def sde_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torchsde") is not None
