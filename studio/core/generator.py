"""The plugin contract: what a generator declares, what it receives and what it returns.

Third-party plugins implement exactly this, so every public name here is documented.
A plugin module must not import torch (or any other heavy module) at import time: do heavy
imports inside `Generator.load`, which runs on the worker thread.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from PIL.Image import Image

    from studio.core.devices import Device

from studio.core.params import (  # re-exported: plugins import the specs from here
    RANDOM_SEED_MAX,
    SEED_MAX,
    BoolParam,
    ChoiceParam,
    FloatParam,
    FolderParam,
    ImageParam,
    IntParam,
    MixParam,
    ModelParam,
    Param,
    ParamError,
    SeedParam,
    TextParam,
    random_seed,
    seed32,
    seed_at,
)

CAPTION_CHARS = 40

__all__ = [
    "CAPTION_CHARS",
    "Kind",
    "LatentSpace",
    "Plot",
    "BoolParam",
    "Cancelled",
    "ChoiceParam",
    "Context",
    "ExistingInstall",
    "FloatParam",
    "FolderParam",
    "Generator",
    "GeneratorError",
    "ImageParam",
    "IntParam",
    "MixParam",
    "ModelParam",
    "ModelSource",
    "Param",
    "ParamError",
    "Preset",
    "RANDOM_SEED_MAX",
    "Request",
    "Result",
    "SEED_MAX",
    "SeedParam",
    "TextParam",
    "random_seed",
    "seed32",
    "seed_at",
]


class Cancelled(Exception):  # noqa: N818 - reads as an event, like asyncio.CancelledError
    """Raised by `Context.check_cancelled` when the user cancelled the running job."""


class GeneratorError(RuntimeError):
    """A failure a user can act on (missing weights, bad input); shown without a traceback."""


@dataclass(frozen=True)
class Request:
    """Everything needed to reproduce a generation: generator id, validated params, seed.

    Same request + same device = same pixels. `params` is read-only.
    """

    generator: str
    params: Mapping[str, Any]
    seed: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def to_json(self) -> str:
        data = {"generator": self.generator, "params": dict(self.params), "seed": self.seed}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Request:
        data = json.loads(text)
        return cls(generator=data["generator"], params=data["params"], seed=int(data["seed"]))

    def __hash__(self) -> int:
        return hash(self.to_json())


@dataclass
class Result:
    """One generated image plus what made it.

    seed: the seed of this very image (a batch of N from seed s gives s, s+1, ...).
    note: a short remark shown with the image, e.g. "upscaled 64 → 256 px (Lanczos)".
    sequence: (group id, index, length) when the image is one frame of a strip/animation.
    infotext: extra `Key: value` pairs for A1111's `parameters` text, in A1111's own names
    (e.g. {"Lora hashes": "detail: 1a2b3c4d5e6f"}, {"Schedule type": "Karras"}); written after
    the fixed head, before the remaining params. A param whose key a pair names is not
    written again; a pair whose value is None is left out, and so is the param of that name
    (e.g. {"Hires fix": None}: A1111 has no such key). "Size" replaces the image's own size
    (A1111's hires fix writes the first pass's).
    """

    image: Image
    generator: str
    generator_version: str
    params: dict[str, Any]
    seed: int
    model_name: str = ""
    model_hash: str = ""
    note: str = ""
    sequence: tuple[str, int, int] | None = None
    title: str = ""  # the generator's title, for people and for other tools' readers
    method: str = ""  # how it was made (a sampler, "DCGAN", ...): A1111's "Sampler" field
    index: int = 0  # position in its job's results; filled in by the executor
    device: str = ""  # filled in by the executor: same request + same device = same pixels
    created: float = field(default_factory=time.time)
    infotext: dict[str, Any] = field(default_factory=dict)
    caption: str = ""  # the gallery's line for it; filled in by the executor (Generator.caption)
    grid: dict[str, Any] | None = None  # a comparison grid: its axes (studio.core.grid)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


# ---------------------------------------------------------------- context and generator


@dataclass(frozen=True)
class Preset:
    """A named set of form values a generator offers (e.g. "Fast"); choosing it sets them.

    values: param name -> value; note: one line the form shows when it is chosen (what the
    preset did, or what the user could add to make it better)."""

    name: str
    values: dict[str, Any]
    note: str = ""
    help: str = ""


@dataclass(frozen=True)
class ModelSource:
    """A default model that set-up installs into the user's model folder.

    install(dest_dir, report) writes the files; report(message) tells the user what happens.
    installed(dest_dir) says whether the files are already there.
    """

    name: str
    description: str
    install: Callable[[Any, Callable[[str], None]], None]
    installed: Callable[[Any], bool]


@dataclass(frozen=True)
class ExistingInstall:
    """Model folders Studio found inside another tool's install (AUTOMATIC1111, ComfyUI, ...).

    tool: the tool's name as its users know it, e.g. "AUTOMATIC1111 / Forge".
    root: the folder the user gave. folders: (what, folder) pairs, e.g.
    ("checkpoints", <root>/models/Stable-diffusion), each an existing folder to add to the
    model folders.
    """

    tool: str
    root: Any
    folders: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Plot:
    """One live chart of a trainer's reported figures (see `Generator.plots`).

    title: shown above the chart. x: the figure along the horizontal axis (e.g. "epoch" or
    "step"). series: (figure, legend) pairs, one line each, read from the `metrics` a trainer
    passes to `Context.progress`. dashed: figures drawn dashed (e.g. held-out beside train).
    log: start with a logarithmic vertical axis (the user can switch it either way).
    """

    title: str
    x: str
    series: tuple[tuple[str, str], ...]
    dashed: tuple[str, ...] = ()
    log: bool = False


ProgressFn = Callable[[int, int, "Image | None", "dict[str, float] | None"], None]


class Context:
    """What a generator may use while it runs: device, model folder, progress, cancellation."""

    def __init__(
        self,
        device: Device,
        models_dir: Path,
        progress: ProgressFn | None = None,
        is_cancelled: Callable[[], bool] | None = None,
        threads: int = 0,
    ) -> None:
        self.device = device
        self.models_dir = models_dir
        self.threads = threads  # CPU threads a plugin may use (Settings); 0: its own default
        self._progress = progress
        self._is_cancelled = is_cancelled or (lambda: False)

    def progress(
        self,
        step: int,
        total: int,
        preview: Image | None = None,
        metrics: dict[str, float] | None = None,
    ) -> None:
        """Report that `step` of `total` steps are done, optionally with a preview image and
        named figures (e.g. losses per epoch), which the window plots and the job keeps."""
        if self._progress is not None:
            self._progress(step, total, preview, metrics)

    def check_cancelled(self) -> None:
        """Raise `Cancelled` if the user cancelled; call this at every step boundary."""
        if self._is_cancelled():
            raise Cancelled()


class Kind(enum.StrEnum):
    """What a generator is for: the window lists each kind in its own place."""

    GENERATE = "generate"  # in the Generate panel's picker
    TRAIN = "train"  # in the Train panel; `studio train`


class LatentSpace(Protocol):
    """A 2-D latent space the window's latent map explores (Qt-free; called from a thread of
    the map's own)."""

    def manifold(self, n: int) -> Image:
        """The decoder's images on an n x n grid over `grid_extent(n)`, as one picture."""

    def grid_extent(self, n: int) -> tuple[float, float]:
        """The (low, high) latent coordinate of the grid, on both axes."""

    def decode(self, points: Sequence[tuple[float, float]]) -> list[Image]: ...

    def encode(self, image: Image) -> tuple[float, float]: ...

    def reconstruct(self, image: Image) -> Image: ...

    def heldout_points(self) -> list[tuple[float, float, int]]:
        """(x, y, label) of held-out examples, drawn as coloured dots."""


class Generator:
    """Base class of every generator plugin.

    Subclasses set `id` (stable, snake_case), `title`, `version`, `params`, and implement
    `load` and `run`. `load(ctx)` does heavy imports and reads weights; it is called on the
    worker thread before the first `run` on a device and its result is cached by the caller.
    `run(request, ctx)` returns the finished images; it calls `ctx.progress` and
    `ctx.check_cancelled` between steps and never returns a half-made image.

    Everything the window or the CLI needs to know about a generator is asked through the
    hooks below (or read from its `params`, e.g. which image field a canvas item fills, by
    `ImageParam.role`), so a third-party plugin can do all that a built-in does.
    """

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    method: ClassVar[str] = ""  # the sampling method written into metadata (default: title)
    kind: ClassVar[Kind] = Kind.GENERATE
    offers_latent_space: ClassVar[bool] = False  # True: `latent_space` returns a LatentSpace
    offers_latent_walk: ClassVar[bool] = False  # True: `latent_walk` returns a walk
    # True: it enlarges its content image (the canvas menu's "Upscale…" runs it on an item,
    # with the generator's other params in a small dialog)
    offers_upscale: ClassVar[bool] = False
    offers_outpaint: ClassVar[bool] = False  # True: `outpaint_values` extends pictures
    params: ClassVar[tuple[Param, ...]] = ()
    plots: ClassVar[tuple[Plot, ...]] = ()  # a trainer's live charts in the Train panel

    def unavailable_reason(self, models_dir: Path) -> str | None:
        """Cheap check (no heavy imports) of whether the generator can run; None if it can."""
        return None

    def latent_space(self, models_dir: Path) -> LatentSpace | None:
        """The 2-D latent space to explore on the latent map (with `offers_latent_space`);
        may load a model: called from the map's own thread."""
        return None

    def latent_walk(self, models_dir: Path) -> Any:
        """A latent space to walk along named directions, live (with `offers_latent_walk`),
        or None (the default).

        The Directions panel creates the object on a thread of its own in the window's
        process and calls it only from that thread (Qt-free; each call should take well under
        30 ms except `open`):
        `open(values, progress) -> list[str]`: load the model and the starting point that
        the form `values` (this generator's params) name, find the directions if the model
        has none saved yet (`progress(done, total)` reports), and return their names;
        `render(offsets) -> PIL image`: the starting point moved `offsets[i]` along direction
        i (in standard deviations of the data along it);
        `rename(index, name)`: name a direction (saved with the model);
        `values_for(offsets) -> dict`: form values with which `run` makes that same image.
        """
        return None

    def outpaint_values(
        self,
        values: Mapping[str, Any],
        init: str,
        mask: str,
        size: tuple[int, int],
        models_dir: Path,
    ) -> tuple[dict[str, Any], str]:
        """With `offers_outpaint`: the form `values` set to paint the white of `mask` over the
        extended picture `init` (both files of `size`), and a remark for the user, e.g. that
        the chosen model is no inpainting model ("" for none). The canvas's "Extend…" runs
        the request at once; its result lands beside the picture it extends."""
        raise NotImplementedError

    def resume_values(self, request: Request, models_dir: Path) -> dict[str, Any] | None:
        """For a trainer: the form values that continue `request`'s run after it was
        cancelled or failed (from the checkpoint it kept), or None when there is nothing to
        continue. The Train panel offers *Resume* when this returns values."""
        return None

    def caption(self, result: Result) -> str:
        """The short line the gallery shows under one of this generator's results.

        The default: the prompt, else the frame of a sequence, else the input images by file
        name (the content image, and " · " the style image), else the seed."""
        params = result.params
        prompt = str(params.get("prompt", "") or "").strip()
        if prompt:
            return prompt[:CAPTION_CHARS]
        if result.sequence:
            _group, index, length = result.sequence
            return f"frame {index + 1}/{length}"
        names = [
            PurePath(str(params[spec.name]).replace("\\", "/")).stem
            for role in ("content", "style")
            if (spec := self.image_param(role)) is not None and params.get(spec.name)
        ]
        return " · ".join(names)[:CAPTION_CHARS] if names else f"seed {result.seed}"

    def accepts_model(self, path: Path) -> bool:
        """Whether `path` (a file or folder the user dropped on the window or added as a
        model) is a model this generator runs. Called on the UI thread: read a header at
        most. The default accepts none."""
        return False

    def complete(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Values completed with what the given ones imply, e.g. the model that takes a style
        image when one is set. Called when the window or the CLI fills image fields for the
        user (a picture dragged onto another, `studio stylize`). The default changes nothing."""
        return dict(values)

    def describe_models(self, models_dir: Path) -> list[str]:
        """Lines `studio models list` prints about the user's own models this generator
        found (in the user's model folders), with what keeps one from loading. Default: none."""
        return []

    def model_choices(self, models_dir: Path) -> list[tuple[str, str]]:
        """(value, label) pairs a ModelParam offers in the window; empty for free text."""
        return []

    def choices_for(self, spec: Param, models_dir: Path) -> list[tuple[str, str]]:
        """The choices one ModelParam offers; by default `model_choices` for every one."""
        return self.model_choices(models_dir)

    def choice_previews(self, name: str, models_dir: Path, side: int) -> list[Image] | None:
        """Small pictures of each label of MixParam `name` (called on a background thread,
        about `side` pixels), or None to show the labels as text."""
        return None

    def restore(
        self,
        values: Mapping[str, Any],
        models_dir: Path,
        carried: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        """Adjust settings restored from an image before they fill the form.

        Called after `studio.core.metadata_restore.restore_values` with the values it mapped onto
        this generator's params; `carried` is everything the image carried
        (`ImageMetadata.params`), for settings that have no field of their own (e.g. A1111's
        `lora_hashes`). Return the values to set and notes for the user, e.g. keep the
        current model when the image names one that is not installed, and say which one it
        names. The default returns the values unchanged and no notes.
        """
        return dict(values), []

    def suggested_values(self, values: Mapping[str, Any], models_dir: Path) -> dict[str, Any]:
        """Values the form takes while the user has not set them by hand, given the form's
        current `values`; asked again whenever a ModelParam changes (e.g. the image size the
        chosen model was made for). Called on the UI thread: read a file header at most.
        The default suggests nothing."""
        return {}

    def presets(self, values: Mapping[str, Any], models_dir: Path) -> list[Preset]:
        """Named settings the form offers as buttons above its fields, given its current
        `values` (e.g. a "Fast" preset fitted to the chosen model). Asked when the form is
        shown and again when one is clicked; called on the UI thread: read file headers at
        most. The default offers none."""
        return []

    def find_install(self, path: Any) -> ExistingInstall | None:
        """The model folders this generator reads inside another tool's install at `path`
        (e.g. an AUTOMATIC1111 or ComfyUI folder), or None when `path` is no install it
        knows. Used by "Add an existing install…" and `studio models add PATH`."""
        return None

    def default_models(self) -> Iterable[ModelSource]:
        """Models that `studio models install-defaults` installs for this generator."""
        return ()

    def load(self, ctx: Context) -> None:
        """Import heavy modules and load weights onto `ctx.device` (worker thread)."""

    def run(self, request: Request, ctx: Context) -> list[Result]:
        """Generate the images for `request`."""
        raise NotImplementedError

    def summary(self, request: Request) -> str:
        """A one-line description of a request, shown in the queue."""
        return f"{self.title} · seed {request.seed}"

    # -- helpers shared by every generator; not meant to be overridden

    def param(self, name: str) -> Param:
        for spec in self.params:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.id} has no parameter '{name}'")

    def image_param(self, role: str) -> ImageParam | None:
        """The first ImageParam with this role ("content", "style", "init", "mask")."""
        return next((p for p in self.params if isinstance(p, ImageParam) and p.role == role), None)

    def make_request(self, values: Mapping[str, Any] | None = None) -> Request:
        """Validate `values` (missing keys take defaults) and fix the seed.

        Unknown keys raise ParamError. A SeedParam left at None gets a random seed here,
        so the request that is stored is reproducible.
        """
        values = dict(values or {})
        unknown = sorted(set(values) - {spec.name for spec in self.params})
        if unknown:
            known = ", ".join(spec.name for spec in self.params)
            raise ParamError(f"{self.title} has no parameter {unknown[0]!r}; it has: {known}")
        params = {
            spec.name: spec.validate(values.get(spec.name, spec.default)) for spec in self.params
        }
        seed = None
        for spec in self.params:
            if isinstance(spec, SeedParam) and spec.applies(params):
                if params[spec.name] is None:
                    params[spec.name] = random_seed()
                if seed is None:
                    seed = params[spec.name]
        return Request(generator=self.id, params=params, seed=seed if seed is not None else 0)

    def rerun(self, params: Mapping[str, Any], seed: int, index: int) -> tuple[Request, int]:
        """The request that re-renders one stored image, and its position in the results.

        With a `count` that applies and a SeedParam `seed`, that is a batch of one from the
        image's own seed; otherwise the whole original request, keeping result `index`.
        """
        values = {k: v for k, v in params.items() if k in {p.name for p in self.params}}
        names = {p.name: p for p in self.params}
        count = names.get("count")
        if count is not None and count.applies(values) and isinstance(names.get("seed"), SeedParam):
            values.update(count=1, seed=seed)
            return self.make_request(values), 0
        return self.make_request(values), index

    def split(self, request: Request, parts: int) -> list[Request]:
        """Up to `parts` requests whose results, in order, are `request`'s results: how a
        batch spreads over several workers (a cluster).

        With a `count` that applies and a SeedParam `seed`, that is runs of consecutive seeds
        (image i of a batch from seed s is the image of seed s + i, as `rerun` relies on);
        otherwise the request itself. Override to return `[request]` when images depend on
        each other.
        """
        names = {p.name: p for p in self.params}
        count = names.get("count")
        if (
            parts <= 1
            or count is None
            or not count.applies(request.params)
            or not isinstance(names.get("seed"), SeedParam)
        ):
            return [request]
        total = int(request.params["count"])
        size, extra = divmod(total, min(parts, total))
        out, offset = [], 0
        for k in range(min(parts, total)):
            n = size + (k < extra)
            values = {**request.params, "count": n, "seed": seed_at(request.params["seed"], offset)}
            out.append(self.make_request(values))
            offset += n
        return out

    def result(self, request: Request, image: Image, seed: int, **extra: Any) -> Result:
        """Build a Result carrying this generator's identity and the request's params."""
        extra.setdefault("method", self.method or self.title)
        return Result(
            image=image,
            generator=self.id,
            generator_version=self.version,
            params=dict(request.params),
            seed=seed,
            title=self.title,
            **extra,
        )
