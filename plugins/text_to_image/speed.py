"""The device and precision line each text-to-image result carries, so that a re-run on the
same line gives the same pixels and one on a different line says why it may not.

The CPU path is plain float32 with PyTorch's default attention (SDPA, its flash kernel):
`bench/t2i_cpu.py` measured the levers against it on the real SD 1.5 architecture and kept
none in two runs (see bench/results.md and the README): channels-last memory for the UNet
(0.67x, 0.56x) and the VAE (0.96x, 0.79x), SDPA's math kernel (0.67x, 0.75x), bfloat16
autocast (0.16x, 0.14x: AVX2 CPUs have no native bfloat16, matmuls run at 1 GFLOP/s against
53), VAE decode in 256 px tiles (0.64x, and pixels 2.3 levels off; tiles stay for images
over a megapixel, where they save memory). Not taken: torch.compile (it compiles offline
here, but minutes per model and image size on two cores) and OpenVINO (optimum-intel 2.2.0
requires torchvision, transformers < 5.6 and huggingface-hub < 1.22). What pays on a CPU is
fewer steps (fast.py) and a tiny decoder (taesd.py). Worker thread only.
"""

from __future__ import annotations

from typing import Any


def device_line(device: Any, dtype: Any, threads: int, offload: bool = False) -> str:
    """e.g. "CPU · float32 · 2 threads · torch 2.13.0": what decides the pixels besides the
    request (other devices, precisions or thread counts round differently)."""
    import torch

    parts = [str(device), str(dtype).removeprefix("torch.")]
    if offload:
        parts.append("CPU offload")
    if device.kind == "cpu":
        count = threads or torch.get_num_threads()
        parts.append(f"{count} thread{'' if count == 1 else 's'}")
    parts.append(f"torch {torch.__version__.split('+')[0]}")
    return " · ".join(parts)
