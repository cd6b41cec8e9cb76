"""Load an upscaler (built-in or the user's file, weights only) and run it, tiled.

torch is imported inside functions only. A loaded network is kept (the last two, keyed by
file, its modification time and the device) so a batch loads it once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.upscalers.builtin import by_name

MAX_FILE = 2 * 1024**3  # bigger than any ESRGAN-family file: refuse before reading it
KEEP = 2


class UpscalerError(ValueError):
    """An upscaler that cannot be found or loaded; the message says what to do."""


@dataclass
class Loaded:
    net: Any
    scale: int
    device: str
    dtype: Any
    label: str
    multiple: int = 1  # RRDBNet x1/x2 take the picture pixel-unshuffled: sides padded to this


_cache: OrderedDict[tuple, Loaded] = OrderedDict()
_lock = threading.Lock()


def load(path: Path, label: str, device: str, dtype: str) -> Loaded:
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size, device, dtype)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    import torch

    from studio.upscalers.layouts import LayoutError, recognise

    state = read_state(path)
    try:
        layout = recognise(state)
        net = layout.build()
    except LayoutError as exc:
        raise UpscalerError(f"{path.name}: {exc}") from None
    except RuntimeError as exc:  # shapes that do not fit the layout they claim
        raise UpscalerError(f"{path.name}: the weights do not fit an upscaler ({exc})") from None
    torch_dtype = getattr(torch, dtype) if device != "cpu" else torch.float32
    # channels-last: oneDNN's faster convolutions on a CPU (1.2-1.5x for RRDBNet here)
    net = net.to(device=device, dtype=torch_dtype, memory_format=torch.channels_last)
    loaded = Loaded(net, layout.scale, device, torch_dtype, label, getattr(net, "unshuffle", 1))
    with _lock:
        _cache[key] = loaded
        while len(_cache) > KEEP:
            _cache.popitem(last=False)
    return loaded


def read_state(path: Path) -> dict:
    """The tensors of a .safetensors or .pth/.pt file, never running code from it."""
    if path.stat().st_size > MAX_FILE:
        raise UpscalerError(f"{path.name} is too large to be an upscaler")
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise UpscalerError(f"{path.name} is not a readable safetensors file ({exc})") from None
    import pickle

    import torch

    with open(path, "rb") as handle:
        head = handle.read(2)
    if not (head == b"PK" or head[:1] == b"\x80"):  # torch's zip format, or a bare pickle
        raise UpscalerError(f"{path.name} is not a PyTorch weights file")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError):
        raise UpscalerError(
            f"{path.name} holds more than plain weights (pickled objects or code), and Studio "
            "never runs code from a model file. Use a .safetensors release of it, or convert "
            "it with the tool that made it"
        ) from None
    if not isinstance(state, dict):
        raise UpscalerError(f"{path.name} holds no state dict")
    return state


def run(loaded: Loaded, image: Any, tile: int, overlap: int, step: Any) -> Any:
    """One pass of the network over a PIL RGB image, tiled; a PIL image `scale` times larger."""
    import numpy as np
    import torch
    from PIL import Image

    from studio.upscalers.tiles import run_tiled

    def forward(pixels: np.ndarray) -> np.ndarray:
        height, width = pixels.shape[:2]
        x = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]
        pad_h, pad_w = -height % loaded.multiple, -width % loaded.multiple
        if pad_h or pad_w:
            x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        x = x.to(loaded.device, loaded.dtype, memory_format=torch.channels_last)
        with torch.inference_mode():
            y = loaded.net(x)
        s = loaded.scale
        y = y[0, :, : height * s, : width * s].float().cpu().numpy()
        return y.transpose(1, 2, 0)

    pixels = np.asarray(image, dtype=np.float32) / 255.0
    out = run_tiled(pixels, forward, loaded.scale, tile, overlap, step)
    return Image.fromarray(out, "RGB")


def builtin_path(name: str, models_dir: Path) -> Path:
    builtin = by_name(name)
    if builtin is None:
        raise UpscalerError(f"no built-in upscaler is called {name!r}")
    path = builtin.path(models_dir)
    if not path.is_file():
        raise UpscalerError(
            f"{name} is not installed; run `studio models install-defaults` (or ./run.sh again)"
        )
    return path
