"""Which device and precision a generator runs on. torch is imported only when asked."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class Device:
    """A resolved compute device: `kind` is cpu, cuda or mps; `name` is for people.

    `dtype` is the precision a plugin should use unless it knows better: float32 on the CPU,
    float16 on GPUs (bfloat16 on CUDA cards that support it).
    """

    kind: str
    name: str
    dtype: str = "float32"

    @property
    def torch_device(self) -> str:
        return self.kind

    def __str__(self) -> str:
        return self.name


CPU = Device("cpu", "CPU")


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Limit torch's CPU threads for one run (Settings → CPU threads); 0 leaves its default."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve(preference: str = "auto") -> Device:
    """Turn a user preference into a device that exists here.

    "auto" picks CUDA, then Apple MPS, then the CPU. Asking for a device that is not present
    raises ValueError with what is available, rather than silently falling back.
    """
    if preference not in DEVICE_CHOICES:
        raise ValueError(
            f"Unknown device '{preference}'; choose one of {', '.join(DEVICE_CHOICES)}"
        )
    if preference == "cpu":
        return CPU
    import torch  # deferred: this runs on the worker or in the CLI, never at app start

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if preference in ("auto", "cuda") and cuda:
        dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return Device("cuda", f"CUDA ({torch.cuda.get_device_name(0)})", dtype)
    if preference in ("auto", "mps") and mps:
        return Device("mps", "Apple GPU (MPS)", "float16")
    if preference == "auto":
        return CPU
    raise ValueError(f"Device '{preference}' is not available on this machine; use 'cpu' or 'auto'")
