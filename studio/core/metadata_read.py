"""Reading generation settings back from image files: ours, A1111, ComfyUI, InvokeAI and more.

`metadata_files` reads the texts a file carries, each bounded; the pixels are decoded only to
look for A1111's "stealth" settings when nothing else was found. Every parser over the texts
is linear, so no file can make reading hang.

A1111 text is read with Studio's own reader (`metadata_a1111`: A1111's own pattern, linear).
sd-parsers (imported on first use) recognises Fooocus, ComfyUI, InvokeAI and NovelAI; it only
sees texts its patterns handle in linear time, and ComfyUI graphs of a bounded size. Its
`ParserManager` is not used: its EXIF reader caches by `id(image)` and can hand one image's
text to the next.
"""

from __future__ import annotations

import functools
import json
import os
import re
import warnings
from typing import Any, BinaryIO

from studio.core import metadata_comfyui as comfyui
from studio.core.metadata import SOURCE_FORMATS, STUDIO_KEY, ImageMetadata
from studio.core.metadata_a1111 import split_a1111
from studio.core.metadata_files import TEXT_LIMIT, TOTAL_LIMIT, open_image, read_container
from studio.core.samplers import a1111_sampler, schedule_type

__all__ = ["TEXT_LIMIT", "TOTAL_LIMIT", "read_metadata", "split_a1111"]

_SIZE = re.compile(r"^(\d+)x(\d+)$")
_A1111_NAMES = {
    "Steps": "steps",
    "Sampler": "sampler",
    "CFG scale": "cfg",
    "Seed": "seed",
    "Model hash": "model_hash",
    "Model": "model",
    "Schedule type": "schedule",
}
_RENAMES = {"cfg_scale": "cfg", "noise_seed": "seed", "guidance_scale": "cfg"}
# Other tools' settings are listed in this order (A1111's), then as found.
_ORDER = ("prompt", "negative_prompt", "steps", "sampler", "schedule", "cfg", "seed")
_ORDER += ("width", "height")


def read_metadata(source: str | os.PathLike[str] | bytes) -> ImageMetadata:
    """Read the generation settings of an image file or its bytes.

    Anything that is not an image, or carries no settings, gives `source_format` None and a
    note; only a file that cannot be opened at all raises `ImageLoadError`.
    """
    with open_image(source) as stream:
        meta, chunks = read_container(stream)
        found = _read_studio(meta, chunks) or _read_other(meta, chunks)
        if not found and meta.file_format in ("PNG", "WEBP"):
            found = _read_hidden(meta, stream)
    if not found and meta.file_format and not meta.notes:
        if meta.raw:
            meta.notes.append(f"Found {', '.join(meta.raw)}, but no settings Studio can read.")
        else:
            meta.notes.append("The image carries no generation settings.")
    return meta


def _read_hidden(meta: ImageMetadata, stream: BinaryIO) -> bool:
    """A1111 settings hidden in the pixels (the stealth-pnginfo extension)."""
    from PIL import Image

    from studio.core.metadata_stealth import StealthError, read_stealth

    stream.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream, formats=["PNG", "WEBP"]) as image:
                text = read_stealth(image, TEXT_LIMIT)
    except StealthError as exc:
        meta.notes.append(str(exc))
        return False
    except Exception:  # damaged pixel data: the text chunks were all there was
        return False
    if text is None:
        return False
    meta.raw["stealth pnginfo"] = text
    fields = _json_object(text)  # NovelAI hides its whole set of PNG texts as one JSON object
    if fields is not None and "Comment" in fields:
        chunks = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        return _read_other(meta, chunks)
    return _read_other(meta, {"parameters": text})


# ---------------------------------------------------------------- formats


def _read_studio(meta: ImageMetadata, chunks: dict[str, str]) -> bool:
    if STUDIO_KEY not in chunks:
        return False
    record = _json_object(chunks[STUDIO_KEY])
    if (
        not record
        or not isinstance(record.get("generator"), str)
        or not isinstance(record.get("params"), dict)
    ):
        meta.notes.append("The studio record is damaged; read the other metadata instead.")
        return False
    params = dict(record["params"])
    seed = record.get("seed")
    if isinstance(seed, int) and "seed" in params:
        params["seed"] = seed  # this image's own seed, so restoring remakes this very image
    meta.source_format, meta.generator, meta.record = "studio", record["generator"], record
    meta.params, meta.seed = params, seed if isinstance(seed, int) else None
    return True


def _read_other(meta: ImageMetadata, chunks: dict[str, str]) -> bool:
    if not chunks:
        return False
    parameters = chunks.get("parameters", "")
    pairs: list[tuple[str, str]] = []
    info = _sd_parse("fooocus", chunks) if parameters.lstrip().startswith("{") else None
    if info is None:
        prompts, pairs = split_a1111(parameters)
    if pairs:
        meta.source_format = "a1111"
        meta.params.update(prompts)
        _take_a1111_pairs(meta, pairs)
    else:
        info = info or _parse_others(meta, chunks)
        if info is None:
            return False
        name = str(info.generator.value).lower()
        meta.source_format = name if name in SOURCE_FORMATS else None
        _take_prompt_info(meta, info, chunks)
    if meta.generator is None:  # Studio's own A1111 text already uses its params' names
        _take_sampler(meta, info)
    if meta.source_format == "invokeai" and "model" not in meta.params:
        _take_invokeai_model(meta, chunks.get("invokeai_metadata", ""))
    rank = {name: i for i, name in enumerate(_ORDER)}
    meta.params = dict(sorted(meta.params.items(), key=lambda item: rank.get(item[0], len(rank))))
    seed = meta.params.get("seed")
    meta.seed = seed if isinstance(seed, int) else None
    return meta.source_format is not None


def _parse_others(meta: ImageMetadata, chunks: dict[str, str]) -> Any:
    """ComfyUI, InvokeAI or NovelAI through sd-parsers, with what they see kept linear."""
    graph = _json_object(chunks.get("prompt")) if "prompt" in chunks else None
    if graph is not None:
        too_large = comfyui.graph_limits_note(graph)
        if too_large:
            meta.notes.append(too_large + " Skipped.")
            return None
        info = _sd_parse("comfyui", chunks)
        if info is None:  # an API-saved ComfyUI image, or a workflow sd-parsers rejects
            links = comfyui.api_links(graph)
            info = _sd_parse("comfyui", {**chunks, "workflow": {"links": links}})
        if info is not None and info.samplers:
            return info
    safe = dict(chunks)
    if "Dream" in safe:  # its pattern rescans runs of spaces: one space each is the same text
        safe["Dream"] = re.sub(r"\s+", " ", safe["Dream"])
    if len(safe.get("Source", "")) > 1024:  # NovelAI's model line; a long one is not theirs
        del safe["Source"]
    return _sd_parse("invokeai", safe) or _sd_parse("novelai", safe)


@functools.cache
def _parsers() -> dict[str, Any]:
    from sd_parsers.parsers import ComfyUIParser, FooocusParser, InvokeAIParser, NovelAIParser

    return {
        "fooocus": FooocusParser(),
        "comfyui": ComfyUIParser(),
        "invokeai": InvokeAIParser(),
        "novelai": NovelAIParser(),
    }


def _sd_parse(name: str, chunks: dict[str, Any]) -> Any:
    try:
        return _parsers()[name].parse(dict(chunks))
    except Exception:  # sd-parsers raises TypeError, AttributeError... on odd input
        return None


def _take_prompt_info(meta: ImageMetadata, info: Any, chunks: dict[str, str]) -> None:
    params = meta.params
    if not info.samplers:
        return
    first = info.samplers[0]
    if len(info.samplers) > 1:
        meta.notes.append(f"The image names {len(info.samplers)} samplers; read the first.")
    if first.prompts:
        params["prompt"] = ", ".join(prompt.value for prompt in first.prompts)
    if first.negative_prompts:
        params["negative_prompt"] = ", ".join(prompt.value for prompt in first.negative_prompts)
    if first.name and first.name != "unknown":
        params["sampler"] = first.name
    for key, value in first.parameters.items():
        params.setdefault(_RENAMES.get(key, key), value)
    if first.model is not None and isinstance(first.model.name, str):
        params["model"] = first.model.name
    if first.model is not None and first.model.hash:
        params["model_hash"] = first.model.hash
    extra = info.metadata if isinstance(info.metadata, dict) else {}
    for key in ("steps", "seed"):
        if key not in params and isinstance(extra.get(key), int):
            params[key] = extra[key]
    if isinstance(params.get("seed"), str) and params["seed"].strip().isdigit():
        params["seed"] = int(params["seed"])  # Fooocus writes its 64-bit seeds as text
    if meta.source_format == "comfyui":
        _take_comfyui_graph(meta, first.sampler_id, chunks)
    size = _size_from(extra) if meta.source_format != "comfyui" else None
    if size and "width" not in params:
        params["width"], params["height"] = size


def _take_comfyui_graph(meta: ImageMetadata, sampler_id: Any, chunks: dict[str, str]) -> None:
    graph = _json_object(chunks.get("prompt")) or {}
    size = comfyui.latent_size(graph, sampler_id)
    if size is not None:
        meta.params["width"], meta.params["height"] = size
    if not isinstance(meta.params.get("seed"), int):
        seed = comfyui.sampler_seed(graph, sampler_id)
        if seed is None:
            meta.notes.append("The sampler's seed comes from another node and was not read.")
        else:
            meta.params["seed"] = seed


def _take_sampler(meta: ImageMetadata, info: Any) -> None:
    """`sampler` and `schedule` in A1111's names, from whatever the tool called them."""
    params = meta.params
    sampler = params.get("sampler")
    # ComfyUI and Fooocus name the schedule `scheduler`; NovelAI `noise_schedule`.
    extra = info.metadata if info is not None and isinstance(info.metadata, dict) else {}
    schedule = params.pop("scheduler", None) or extra.get("noise_schedule")
    schedule = params.pop("schedule", None) or schedule
    mapped = a1111_sampler(sampler, schedule) if isinstance(sampler, str) else None
    if mapped is not None:
        params["sampler"], schedule = mapped
    else:
        schedule = schedule_type(schedule) if isinstance(schedule, str) else schedule
    if schedule is not None:
        params["schedule"] = schedule


def _size_from(metadata: dict[str, Any]) -> tuple[int, int] | None:
    width, height = metadata.get("width"), metadata.get("height")
    if isinstance(width, int) and isinstance(height, int):
        return width, height
    resolution = str(metadata.get("resolution", ""))[:64]
    match = re.fullmatch(r"\(?\s*(\d+)\s*[,x]\s*(\d+)\s*\)?", resolution)
    if match:  # Fooocus writes "(896, 1152)"
        return int(match.group(1)), int(match.group(2))
    return None


def _take_invokeai_model(meta: ImageMetadata, text: str) -> None:
    model = (_json_object(text) or {}).get("model")
    # InvokeAI 4 and later call it "name"; sd-parsers 0.6 only knows "model_name".
    name = model.get("name") or model.get("model_name") if isinstance(model, dict) else model
    if isinstance(name, str) and name:
        meta.params["model"] = name


def _take_a1111_pairs(meta: ImageMetadata, pairs: list[tuple[str, str]]) -> None:
    for key, value in pairs:
        size = _SIZE.match(value) if key == "Size" else None
        if size:
            meta.params["width"], meta.params["height"] = int(size[1]), int(size[2])
        elif key == "Studio generator":
            meta.generator = value
        else:
            # `Studio x` is our param x whose plain key would repeat one of A1111's.
            plain = key.removeprefix("Studio ")
            name = _A1111_NAMES.get(key) or re.sub(r"\W+", "_", plain.lower()).strip("_")
            is_number = name in ("steps", "seed", "cfg")
            meta.params[name] = _number(value) if is_number else value


# ---------------------------------------------------------------- small pieces


def _json_object(text: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _number(text: str) -> Any:
    # Plain decimals only: float() also takes "nan" and "inf", which JSON cannot hold.
    if len(text) <= 64 and re.fullmatch(r"-?\d+(\.\d*)?([eE][-+]?\d+)?", text):
        return float(text) if re.search(r"[.eE]", text) else int(text)
    return text
