"""ComfyUI's API graph (the `prompt` text chunk): what a sampler node actually used.

sd-parsers finds the samplers, prompts and model; these follow the graph where it does not: the
size of the latent a sampler denoises (through upscales and composites, not the first node
that happens to have a width), a seed fed from another node, and the links sd-parsers needs
when an image carries no UI `workflow`.
"""

from __future__ import annotations

from typing import Any

MAX_NODES = 5_000  # ComfyUI graphs people share have tens to hundreds of nodes
MAX_SAMPLERS = 64  # sd-parsers walks the graph once per sampler
_LATENT_INPUTS = ("latent_image", "samples", "latent", "samples_to", "latent_a")
_MAX_DEPTH = 256
_SEED_INPUTS = ("seed", "noise_seed", "value", "int", "number")


def graph_limits_note(graph: dict[str, Any]) -> str | None:
    """Why a graph is too large to read, or None."""
    if len(graph) > MAX_NODES:
        return f"The ComfyUI graph has {len(graph):,} nodes, over Studio's limit of {MAX_NODES:,}."
    samplers = sum(1 for node in graph.values() if _is_sampler(node))
    if samplers > MAX_SAMPLERS:
        return (
            f"The ComfyUI graph has {samplers:,} samplers, over Studio's limit of {MAX_SAMPLERS}."
        )
    return None


def api_links(graph: dict[str, Any]) -> list[list[Any]]:
    """Workflow links ([id, from, slot, to, slot, type]) rebuilt from an API graph."""
    links = []
    for target, node in graph.items():
        for name, value in _inputs(node).items():
            if _is_link(value):
                # The input name stands in for the link type: sd-parsers only needs "CLIP".
                links.append([0, str(value[0]), value[1], str(target), 0, str(name).upper()])
    return links


def latent_size(graph: dict[str, Any], sampler_id: str) -> tuple[int, int] | None:
    """(width, height) in pixels of the latent that sampler `sampler_id` denoises, or None when
    it comes from an image (img2img) or a node Studio does not know."""
    return _size(graph, _inputs(graph.get(str(sampler_id))), 0)


def sampler_seed(graph: dict[str, Any], sampler_id: str) -> int | None:
    """The seed of a sampler whose seed input is a link to a seed or primitive node."""
    inputs = _inputs(graph.get(str(sampler_id)))
    for name in ("seed", "noise_seed"):
        value = inputs.get(name)
        if _is_link(value):
            source = _inputs(graph.get(str(value[0])))
            found = [source[key] for key in _SEED_INPUTS if _is_int(source.get(key))]
            if found:
                return found[0]
    return None


def _size(graph: dict[str, Any], inputs: dict[str, Any], depth: int) -> tuple[int, int] | None:
    link = next((inputs[n] for n in _LATENT_INPUTS if _is_link(inputs.get(n))), None)
    if link is None or depth > _MAX_DEPTH:
        return None
    node = graph.get(str(link[0]))
    upstream = _inputs(node)
    width, height = upstream.get("width"), upstream.get("height")
    if _is_int(width) and _is_int(height):
        if width and height:  # EmptyLatentImage, LatentUpscale and their kin
            return width, height
        source = _size(graph, upstream, depth + 1)  # LatentUpscale: 0 keeps the aspect ratio
        if source is None or not (width or height):
            return source
        scale = width / source[0] if width else height / source[1]
        return width or _round8(source[0] * scale), height or _round8(source[1] * scale)
    scale = upstream.get("scale_by")
    source = _size(graph, upstream, depth + 1)
    if isinstance(scale, int | float) and not isinstance(scale, bool) and source is not None:
        # LatentUpscaleBy scales the latent (1/8 of the pixels) and rounds there.
        return tuple(round(side // 8 * scale) * 8 for side in source)  # type: ignore[return-value]
    return source  # a node that passes its latent through (composite, batch, noise...)


def _round8(value: float) -> int:
    return max(8, round(value / 8) * 8)


def _is_sampler(node: Any) -> bool:
    return {"sampler_name", "steps", "cfg"} <= set(_inputs(node))


def _inputs(node: Any) -> dict[str, Any]:
    inputs = node.get("inputs") if isinstance(node, dict) else None
    return inputs if isinstance(inputs, dict) else {}


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str | int)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
