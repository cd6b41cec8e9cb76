"""LoRAs, textual-inversion embeddings and a separate VAE, applied to a loaded model's shared
weights (worker thread only). Each is changed only when what a job asks for differs from
what is applied, so a run of jobs with the same LoRAs loads them once.

Embeddings load weights-only: `.safetensors`, or `.pt` through `torch.load(weights_only=True)`;
A1111's (`emb_params`, `string_to_param`), diffusers' (one named tensor) and SDXL's
(`clip_l` + `clip_g`) layouts are read. Each embedding gets a token of its own (`<emb0>`,
with `<emb0>_1` … for more vectors) that replaces its name in the prompt.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .discovery import ModelProblem

ENCODER_WIDTH = {768: "SD 1.x", 1024: "SD 2.x", 1280: "SDXL"}


@dataclass
class Applied:
    """What is in a loaded model's weights now, besides the model itself."""

    loras: dict[tuple, tuple[str, float]] = field(default_factory=dict)  # file -> (adapter, w)
    embeddings: tuple = ()  # file keys, in load order
    tokens: dict[str, str] = field(default_factory=dict)  # embedding name -> prompt text
    vae: tuple | None = None
    base_vae: Any = None
    counter: int = 0


def file_key(path: Path) -> tuple:
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return (str(path),)
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def applied(loaded: Any) -> Applied:
    if loaded.networks is None:
        loaded.networks = Applied(base_vae=loaded.text2img.vae)
    return loaded.networks


# ---------------------------------------------------------------- LoRAs


def set_loras(loaded: Any, loras: list[tuple[Path, float]]) -> None:
    """Apply these LoRA files with their weights (a file named twice adds its weights, as
    A1111 applies it twice); any other LoRA is taken out."""
    state = applied(loaded)
    pipe = loaded.text2img
    wanted: dict[tuple, tuple[Path, float]] = {}
    for path, weight in loras:
        key = file_key(path)
        old = wanted.get(key, (path, 0.0))[1]
        wanted[key] = (Path(path), old + float(weight))
    stale = [name for key, (name, _) in state.loras.items() if key not in wanted]
    if stale and not wanted:
        pipe.unload_lora_weights()
        state.loras.clear()
    elif stale:
        pipe.delete_adapters(stale)
        state.loras = {k: v for k, v in state.loras.items() if k in wanted}
    for key, (path, weight) in wanted.items():
        name = state.loras[key][0] if key in state.loras else ""
        if not name:
            state.counter += 1
            name = f"lora{state.counter}"
            try:
                pipe.load_lora_weights(str(path.resolve()), adapter_name=name)
            except Exception as exc:  # noqa: BLE001 - a LoRA of another model or format
                _drop_adapter(pipe, name)
                raise ModelProblem(
                    f"The LoRA '{path.name}' does not fit {loaded.entry.name} "
                    f"({loaded.entry.family_name}): {str(exc).strip()[:200]}"
                ) from None
        state.loras[key] = (name, weight)
    if wanted:
        names = [state.loras[k][0] for k in wanted]
        pipe.set_adapters(names, adapter_weights=[wanted[k][1] for k in wanted])


def _drop_adapter(pipe: Any, name: str) -> None:
    with contextlib.suppress(Exception):  # it may never have got in
        pipe.delete_adapters([name])


# ---------------------------------------------------------------- embeddings


def set_embeddings(loaded: Any, embeddings: list[tuple[str, Path]]) -> dict[str, str]:
    """Load these embeddings (name, file) into the text encoders; returns name -> the token
    text that stands for it in a prompt."""
    state = applied(loaded)
    wanted = tuple(file_key(p) for _, p in embeddings)
    if wanted == state.embeddings:
        return dict(state.tokens)
    pipe = loaded.text2img
    if state.embeddings:
        _unload_embeddings(pipe)
        state.embeddings, state.tokens = (), {}
    tokens: dict[str, str] = {}
    for index, (name, path) in enumerate(embeddings):
        vectors = read_embedding(Path(path))
        token = f"<emb{index}>"
        count = _load_embedding(pipe, vectors, token, name, loaded.entry)
        tokens[name] = " ".join([token] + [f"{token}_{i}" for i in range(1, count)])
    state.embeddings, state.tokens = wanted, tokens
    return dict(tokens)


def _unload_embeddings(pipe: Any) -> None:
    pipe.unload_textual_inversion()
    if getattr(pipe, "text_encoder_2", None) is not None:
        pipe.unload_textual_inversion(tokenizer=pipe.tokenizer_2, text_encoder=pipe.text_encoder_2)


def read_embedding(path: Path) -> dict[str, torch.Tensor]:
    """An embedding file's vectors by encoder: {"clip_l": …} or {"clip_l", "clip_g"} for SDXL,
    {"any": …} for a single-encoder file (SD 1.x or 2.x: told apart by width)."""
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            data: Any = load_file(str(path))
        else:
            data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickles with code, damaged files
        raise ModelProblem(
            f"The embedding '{path.name}' cannot be read safely (weights only): "
            f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__}"
        ) from None
    if not isinstance(data, dict):
        raise ModelProblem(f"The embedding '{path.name}' holds no vectors")
    if "clip_l" in data and "clip_g" in data:
        return {"clip_l": _matrix(data["clip_l"], path), "clip_g": _matrix(data["clip_g"], path)}
    if "string_to_param" in data and isinstance(data["string_to_param"], dict):
        tensor = next(iter(data["string_to_param"].values()), None)
    elif "emb_params" in data:
        tensor = data["emb_params"]
    else:
        tensors = [v for v in data.values() if isinstance(v, torch.Tensor)]
        tensor = tensors[0] if len(tensors) == 1 else None
    if tensor is None:
        raise ModelProblem(f"The embedding '{path.name}' is not in a layout Studio knows")
    return {"any": _matrix(tensor, path)}


def _matrix(tensor: Any, path: Path) -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor) or tensor.ndim not in (1, 2):
        raise ModelProblem(f"The embedding '{path.name}' is not a list of vectors")
    return tensor.reshape(-1, tensor.shape[-1]).float()


def _load_embedding(pipe: Any, vectors: dict, token: str, name: str, entry: Any) -> int:
    targets = [(pipe.text_encoder, pipe.tokenizer, "clip_l")]
    if getattr(pipe, "text_encoder_2", None) is not None:
        targets.append((pipe.text_encoder_2, pipe.tokenizer_2, "clip_g"))
    count = 0
    for encoder, tokenizer, part in targets:
        width = int(encoder.get_input_embeddings().weight.shape[1])
        tensor = vectors.get(part, vectors.get("any"))
        if tensor is None or tensor.shape[1] != width:
            made = ENCODER_WIDTH.get(int(next(iter(vectors.values())).shape[1]), "another model")
            if "clip_g" in vectors:
                made = "SDXL"
            raise ModelProblem(
                f"The embedding '{name}' was made for {made}; {entry.name} is {entry.family_name}"
            )
        tensor = tensor.to(dtype=encoder.dtype, device=encoder.device)
        pipe.load_textual_inversion(
            {token: tensor}, token=token, text_encoder=encoder, tokenizer=tokenizer
        )
        count = tensor.shape[0]
    return count


# ---------------------------------------------------------------- VAE


def set_vae(loaded: Any, path: Path | None) -> None:
    """Decode with this VAE file (None: the model's own)."""
    state = applied(loaded)
    key = file_key(path) if path else None
    if key == state.vae:
        return
    vae = state.base_vae if path is None else _read_vae(Path(path), loaded)
    for pipe in loaded.all_pipes():
        pipe.register_modules(vae=vae)
    state.vae = key


def _read_vae(path: Path, loaded: Any) -> Any:
    from diffusers import AutoencoderKL

    base = applied(loaded).base_vae
    try:
        state = _state_dict(path)
        if any(k.startswith(("encoder.down_blocks.", "decoder.up_blocks.")) for k in state):
            vae = AutoencoderKL.from_config(base.config)  # diffusers' own names
            vae.load_state_dict(state)
        else:
            config = _vae_config_folder(loaded)
            vae = AutoencoderKL.from_single_file(
                state, config=str(config), subfolder="vae", local_files_only=True
            )
    except ModelProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - a VAE of another shape or a damaged file
        raise ModelProblem(
            f"The VAE '{path.name}' does not fit {loaded.entry.name}: {str(exc).strip()[:200]}"
        ) from None
    param = next(base.parameters())
    return vae.to(device=param.device, dtype=param.dtype).eval()


def _state_dict(path: Path) -> dict:
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickles with code
        raise ModelProblem(
            f"The VAE '{path.name}' cannot be read safely (weights only): {exc}"
        ) from None
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise ModelProblem(f"The VAE '{path.name}' holds no state dict")
    return {k: v for k, v in data.items() if not k.startswith("loss") and "model_ema" not in k}


def _vae_config_folder(loaded: Any) -> Path:
    from .components import config_folder

    if loaded.variant:
        return config_folder(loaded.variant)
    for folder in (Path(loaded.entry.path), loaded.entry.paired):
        if folder is not None and (Path(folder) / "vae" / "config.json").is_file():
            return Path(folder)
    family = json.dumps(loaded.entry.family)
    raise ModelProblem(f"no VAE configuration for {family}")
