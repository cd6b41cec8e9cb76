"""The tiny autoencoder (TAESD, diffusers' `AutoencoderTiny`) for previews and, when asked,
final decodes: about a hundredth of the VAE's arithmetic, so a 512 px decode takes a second on
a CPU instead of twenty.

Found in the model folders as other tools keep it: a diffusers folder (`config.json` naming
`AutoencoderTiny` beside its weights, e.g. madebyollin's `taesd`/`taesdxl`) or the original
decoder file (`taesd_decoder.safetensors` / `.pth`, as in ComfyUI's `vae_approx` folder;
`taesdxl_decoder` for SDXL). The original file's layer numbers are one ahead of diffusers'
(its Sequential starts with a Clamp), the mapping of diffusers'
`scripts/convert_tiny_autoencoder_to_diffusers.py`. `.pth` files load weights-only.
Everything but `find` runs on the worker thread.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .discovery import DEPTH, walk

_DECODER_FILE = re.compile(r"^(taesd|taesdxl)_decoder\.(safetensors|pth)$", re.IGNORECASE)
_cache: dict[tuple, Any] = {}
PREVIEW_SHARE = 0.1  # previews may cost at most this share of a job's time


def _family_of(name: str) -> str:
    return "sdxl" if "xl" in name.lower() else "sd"


def _is_tiny_folder(path: Path) -> bool:
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("_class_name") == "AutoencoderTiny"


def find(roots: list[Path], family: str) -> Path | None:
    """The first TAESD for `family` (sd1/sd2 share one, SDXL has its own) in `roots`: a
    diffusers folder or a taesd(xl)_decoder file. None when the user has none."""
    want = "sdxl" if family == "sdxl" else "sd"

    def take(path: Path) -> Path | None:
        if path.is_dir() and _is_tiny_folder(path):
            return path
        if path.is_file() and _DECODER_FILE.match(path.name):
            return path
        return None

    def pipeline(path: Path) -> bool:
        return (path / "model_index.json").exists()

    for root in roots:
        for found in walk(Path(root).expanduser(), DEPTH, take, pipeline):
            if _family_of(found.name) == want:
                return found
    return None


def load(path: Path, device: Any, dtype: Any) -> Any:
    """The AutoencoderTiny at `path` (a folder or a decoder file), cached per file."""
    from .networks import file_key

    key = (file_key(path), str(device), str(dtype))
    if key not in _cache:
        _cache.clear()  # one at a time
        _cache[key] = _read(Path(path)).to(device=device, dtype=dtype).eval()
    return _cache[key]


def _read(path: Path) -> Any:
    from diffusers import AutoencoderTiny

    from .discovery import ModelProblem

    try:
        if path.is_dir():
            return AutoencoderTiny.from_pretrained(str(path), local_files_only=True)
        state = _decoder_state(path)
        model = AutoencoderTiny()
        missing, unexpected = model.load_state_dict(state, strict=False)
    except ModelProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file or another shape
        raise ModelProblem(f"The TAESD '{path.name}' cannot be read: {str(exc)[:200]}") from None
    decoder_missing = [k for k in missing if k.startswith("decoder.")]
    if decoder_missing or unexpected:
        raise ModelProblem(
            f"'{path.name}' is not a TAESD decoder ({len(decoder_missing)} tensors missing, "
            f"{len(unexpected)} unknown)"
        )
    return model


def _decoder_state(path: Path) -> dict:
    import torch

    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        data = load_file(str(path))
    else:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(data, dict):
        raise ValueError("no state dict")
    state = {}
    for key, value in data.items():
        head, _, rest = str(key).partition(".")
        if not head.isdigit():
            raise ValueError(f"unexpected tensor {key}")
        state[f"decoder.layers.{int(head) - 1}.{rest}"] = value
    return state


def decode(model: Any, latents: Any) -> Any:
    """Latents as the UNet sees them -> images in [-1, 1] (what the VAE decode returns)."""
    import torch

    with torch.no_grad():
        param = next(model.parameters())
        return model.decode(latents.to(device=param.device, dtype=param.dtype)).sample


def preview(model: Any, latents: Any) -> Any:
    """A PIL picture of the latents of one image, decoded by TAESD."""
    from PIL import Image

    if latents is None or latents.ndim != 4 or latents.shape[1] != 4:
        return None
    image = decode(model, latents[:1].detach())
    pixels = ((image[0].float().clamp(-1, 1) + 1) * 127.5).round().byte()
    return Image.fromarray(pixels.permute(1, 2, 0).cpu().numpy())


class Decoding:
    """How one job turns latents into pictures: previews by TAESD where the user has it (else
    the linear map), and the final decode by TAESD when the form asks for a fast decode."""

    def __init__(self, model: Any = None, final: bool = False, note: str = "") -> None:
        self.model, self.final, self.note = model, final, note
        self.preview = self._preview if model is not None else None
        self._cost = 0.0  # seconds the last preview decode took
        self._last = 0.0  # when it ended

    def _preview(self, latents: Any) -> Any:
        """A TAESD picture of the latents, or None (no preview this time) while decoding
        them would cost more than PREVIEW_SHARE of the time since the last one: on a CPU a
        512 px decode is a tenth of a step."""
        import time

        start = time.monotonic()
        if self._last and self._cost > PREVIEW_SHARE * (start - self._last):
            return None
        picture = preview(self.model, latents)
        self._last = time.monotonic()
        self._cost = self._last - start
        return picture

    @property
    def call(self) -> dict[str, Any]:
        """Extra pipeline arguments: the latents back undecoded, for a TAESD decode."""
        return {"output_type": "latent"} if self.final else {}

    def image(self, pipe: Any, output: Any) -> Any:
        if not self.final:
            return output.images[0]
        pixels = decode(self.model, output.images[:1])
        return pipe.image_processor.postprocess(pixels, output_type="pil")[0]


def for_job(p: Any, entry: Any, roots: list[Path], pipe: Any) -> Decoding:
    """The decoding for a job on `pipe` (never fails it: a missing or broken TAESD is a note
    and the model's own VAE decodes)."""
    import logging

    from .discovery import ModelProblem

    asked = bool(p.get("fast_decode"))
    path = find(roots, entry.family)
    if path is None:
        return Decoding(note=" · fast decode: no TAESD in your model folders, the VAE decoded"
                        if asked else "")  # fmt: skip
    param = next(pipe.unet.parameters())
    try:
        model = load(path, param.device, param.dtype)
    except ModelProblem as exc:
        logging.getLogger(__name__).warning("%s", exc)
        return Decoding(note=f" · fast decode: {exc}; the VAE decoded" if asked else "")
    if asked and int(getattr(pipe, "vae_scale_factor", 8)) != 8:
        return Decoding(model, note=" · fast decode: TAESD needs a VAE of scale 8; the VAE decoded")
    return Decoding(model, final=asked, note=f" · decoded by TAESD ({path.name})" if asked else "")
