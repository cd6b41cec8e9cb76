"""One table of sampler names: what AUTOMATIC1111, ComfyUI, Fooocus, NovelAI, InvokeAI and
diffusers call each sampler, mapped onto A1111's own pair (sampler name, schedule type).

A1111 1.9 split its old combined names ("DPM++ 2M Karras") into `Sampler: DPM++ 2M` plus
`Schedule type: Karras`; Studio speaks that newer form. A schedule of None means the sampler's
automatic default (A1111's "Automatic", ComfyUI's "normal", NovelAI's "native").

Sources: A1111 `modules/sd_samplers_kdiffusion.py`, `sd_samplers_timesteps.py` and
`sd_schedulers.py`; ComfyUI `comfy/samplers.py` (KSAMPLER_NAMES, SCHEDULER_NAMES); InvokeAI
`backend/stable_diffusion/schedulers/schedulers.py` (SCHEDULER_MAP); NovelAI's sampler names
as its images record them; diffusers' scheduler class names.
"""

from __future__ import annotations

# A1111 sampler name -> every other name for exactly that sampler (matched case-insensitively).
_SAMPLERS: dict[str, tuple[str, ...]] = {
    "Euler a": (
        "euler_ancestral",
        "euler_a",
        "k_euler_a",
        "k_euler_ancestral",
        "sample_euler_ancestral",
        "EulerAncestralDiscreteScheduler",
    ),
    "Euler": ("euler", "k_euler", "sample_euler", "EulerDiscreteScheduler"),
    "LMS": ("lms", "k_lms", "sample_lms", "LMSDiscreteScheduler"),
    "Heun": ("heun", "k_heun", "sample_heun", "HeunDiscreteScheduler"),
    "DPM2": ("dpm_2", "kdpm_2", "k_dpm_2", "sample_dpm_2", "KDPM2DiscreteScheduler"),
    "DPM2 a": (
        "dpm_2_ancestral",
        "kdpm_2_a",
        "k_dpm_2_a",
        "k_dpm_2_ancestral",
        "sample_dpm_2_ancestral",
        "KDPM2AncestralDiscreteScheduler",
    ),
    "DPM++ 2S a": (
        "dpmpp_2s_ancestral",
        "k_dpmpp_2s_a",
        "k_dpmpp_2s_ancestral",
        "sample_dpmpp_2s_ancestral",
    ),
    "DPM++ 2M": ("dpmpp_2m", "k_dpmpp_2m", "sample_dpmpp_2m", "DPMSolverMultistepScheduler"),
    "DPM++ SDE": ("dpmpp_sde", "k_dpmpp_sde", "sample_dpmpp_sde", "DPMSolverSDEScheduler"),
    "DPM++ 2M SDE": ("dpmpp_2m_sde", "k_dpmpp_2m_sde", "sample_dpmpp_2m_sde"),
    "DPM++ 2M SDE Heun": ("dpmpp_2m_sde_heun", "k_dpmpp_2m_sde_heun"),
    "DPM++ 3M SDE": ("dpmpp_3m_sde", "k_dpmpp_3m_sde", "sample_dpmpp_3m_sde"),
    "DPM fast": ("dpm_fast", "k_dpm_fast", "sample_dpm_fast"),
    "DPM adaptive": ("dpm_adaptive", "k_dpm_ad", "sample_dpm_adaptive"),
    "Restart": ("restart",),
    "DDIM": ("ddim", "ddim_v3", "DDIMScheduler"),
    "DDIM CFG++": ("ddim_cfgpp",),
    "PLMS": ("plms", "pndm", "PNDMScheduler"),
    "UniPC": ("uni_pc", "uni_pc_bh2", "unipc", "UniPCMultistepScheduler"),
    "LCM": ("lcm", "LCMScheduler"),
    "DDPM": ("ddpm", "DDPMScheduler"),  # not in A1111; ComfyUI, InvokeAI and diffusers have it
}

# A1111 schedule type label -> other names. The sampler's default maps to None: A1111's
# "Automatic", ComfyUI's "normal" (which A1111 1.10 also offers as "Normal"), NovelAI's "native".
_SCHEDULES: dict[str | None, tuple[str, ...]] = {
    None: ("Automatic", "normal", "native", "default"),
    "Uniform": ("uniform",),
    "Karras": ("karras", "ka", "k"),
    "Exponential": ("exponential",),
    "Polyexponential": ("polyexponential",),
    "SGM Uniform": ("sgm_uniform", "SGMUniform"),
    "KL Optimal": ("kl_optimal",),
    "Align Your Steps": ("align_your_steps",),
    "Simple": ("simple",),
    "DDIM": ("ddim_uniform",),
    "Beta": ("beta",),
}

# Suffixes other tools add for a variant that A1111 does not tell apart (ComfyUI's GPU noise).
_SAME_SAMPLER_SUFFIXES = ("_gpu",)
# Combined names: A1111 before 1.9 ("DPM++ 2M Karras"), A1111 aliases ("k_dpmpp_2m_ka"),
# InvokeAI ("dpmpp_2m_k"): the name of the sampler, then the schedule.
_SCHEDULE_SUFFIXES = (
    (" ", ("Karras", "Exponential", "Polyexponential", "SGM Uniform", "SGMUniform", "Uniform")),
    ("_", ("ka", "k")),
)


def _fold(name: str) -> str:
    return " ".join(name.split()).lower()


_SAMPLER_BY_NAME = {
    _fold(alias): label for label, aliases in _SAMPLERS.items() for alias in (label, *aliases)
}
_SCHEDULE_BY_NAME = {
    _fold(alias): label
    for label, aliases in _SCHEDULES.items()
    for alias in (*((label,) if label else ()), *aliases)
}

SAMPLER_NAMES: tuple[str, ...] = tuple(_SAMPLERS)
SCHEDULE_TYPES: tuple[str, ...] = ("Automatic", *(label for label in _SCHEDULES if label))


def schedule_type(name: str | None) -> str | None:
    """A schedule as A1111 labels it ("Karras"), None for the automatic default; an unknown
    name comes back as written (stripped)."""
    if name is None or not str(name).strip():
        return None
    key = _fold(str(name))
    return _SCHEDULE_BY_NAME[key] if key in _SCHEDULE_BY_NAME else str(name).strip()


def a1111_sampler(name: str | None, schedule: str | None = None) -> tuple[str, str | None] | None:
    """(A1111 sampler name, schedule type or None) for a sampler as any tool names it.

    `schedule` is the separate field some tools write (A1111's `Schedule type`, ComfyUI's and
    Fooocus' `scheduler`, NovelAI's `noise_schedule`); a schedule inside the name ("DPM++ 2M
    Karras", "k_dpmpp_2m_ka", "dpmpp_2m_k") wins, as in A1111. None for a sampler not in the
    table (e.g. ComfyUI's "heunpp2"), so the caller keeps the name as written.
    """
    if name is None or not str(name).strip():
        return None
    key = _fold(str(name))
    found = _sampler(key)
    if found is not None:
        return found, schedule_type(schedule)
    for separator, suffixes in _SCHEDULE_SUFFIXES:
        for suffix in suffixes:
            ending = separator + _fold(suffix)
            if key.endswith(ending):
                found = _sampler(key[: -len(ending)])
                if found is not None:
                    return found, schedule_type(suffix)
    return None


def _sampler(key: str) -> str | None:
    if key in _SAMPLER_BY_NAME:
        return _SAMPLER_BY_NAME[key]
    for suffix in _SAME_SAMPLER_SUFFIXES:
        if key.endswith(suffix) and key[: -len(suffix)] in _SAMPLER_BY_NAME:
            return _SAMPLER_BY_NAME[key[: -len(suffix)]]
    return None
