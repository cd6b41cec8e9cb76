"""CPU speed settings for a loaded model, and the device and precision line each result
carries, so that a re-run on the same line gives the same pixels and a different line says
why it may not.

Only what `bench/t2i_cpu.py` measured faster here, with pixels within its tolerance of the
plain path, is applied (see the README's table): the UNet and VAE in channels-last memory
on the CPU. Measured and left out: SDPA's math kernel (slower than the default flash kernel),
bfloat16 autocast (no native bfloat16 on AVX2 CPUs: many times slower), VAE decode in tiles
(slower at 512 px; it stays for large images, where it saves memory), torch.compile (minutes
of compiling per model and shape) and OpenVINO (optimum-intel requires torchvision and an
older transformers). Worker thread only.
"""

from __future__ import annotations

from typing import Any

CHANNELS_LAST = "channels-last"


def apply(loaded: Any) -> tuple[str, ...]:
    """Put the model's networks (a VAE file swapped in too) in the memory layout that runs
    fastest on its device; cheap when they already are. Returns the settings in effect."""
    levers: tuple[str, ...] = ()
    if loaded.device.kind == "cpu":
        import torch

        for pipe in loaded.all_pipes():
            for part in ("unet", "vae"):
                module = getattr(pipe, part, None)
                if module is not None:
                    module.to(memory_format=torch.channels_last)
        levers = (CHANNELS_LAST,)
    return levers


def device_line(device: Any, dtype: Any, levers: tuple[str, ...], threads: int) -> str:
    """e.g. "CPU · float32 · channels-last · 2 threads · torch 2.13.0": what decides the
    pixels besides the request (other devices, precisions or thread counts round
    differently)."""
    import torch

    parts = [str(device), str(dtype).removeprefix("torch."), *levers]
    if device.kind == "cpu":
        parts.append(f"{threads or torch.get_num_threads()} threads")
    parts.append(f"torch {torch.__version__.split('+')[0]}")
    return " · ".join(parts)
