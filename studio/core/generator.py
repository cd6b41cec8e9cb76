"""The plugin contract: what a generator declares, what it receives and what it returns.

Third-party plugins implement exactly this, so every public name here is documented.
A plugin module must not import torch (or any other heavy module) at import time: do heavy
imports inside `Generator.load`, which runs on the worker thread.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from PIL.Image import Image

    from studio.core.devices import Device

SEED_MAX = 2**64 - 1  # ComfyUI and Fooocus write seeds this large
RANDOM_SEED_MAX = 2**32 - 1  # where random seeds are drawn: every tool takes these (InvokeAI
# allows no more), so an image made with one can be remade elsewhere


class ParamError(ValueError):
    """A parameter value that its spec rejects; the message names the parameter."""


class Cancelled(Exception):  # noqa: N818 - reads as an event, like asyncio.CancelledError
    """Raised by `Context.check_cancelled` when the user cancelled the running job."""


class GeneratorError(RuntimeError):
    """A failure a user can act on (missing weights, bad input); shown without a traceback."""


# ---------------------------------------------------------------- parameter specs


@dataclass(frozen=True, kw_only=True)
class Param:
    """Base of all parameter specs: the single source of truth for one input of a generator.

    name: key in `Request.params` and in `--set name=value` on the command line.
    label: shown in the parameter panel. help: tooltip and `--help` text.
    visible_when: optional (other_param, value) or (other_param, (value, value, ...)): the
    parameter only applies then (the panel hides it; validation still fills its default).
    hidden_when: the same form; the parameter applies except then.
    """

    name: str
    label: str = ""
    default: Any = None
    help: str = ""
    visible_when: tuple[str, Any] | None = None
    hidden_when: tuple[str, Any] | None = None  # the opposite: applies except then

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def validate(self, value: Any) -> Any:
        """Return the value in canonical form, or raise ParamError."""
        return value

    def parse(self, text: str) -> Any:
        """Parse a command-line string (`--set name=text`) and validate it."""
        return self.validate(text)

    def applies(self, params: Mapping[str, Any]) -> bool:
        if self.hidden_when is not None and _matches(self.hidden_when, params):
            return False
        return self.visible_when is None or _matches(self.visible_when, params)

    def _fail(self, message: str) -> ParamError:
        return ParamError(f"{self.title} ({self.name}): {message}")


def _matches(condition: tuple[str, Any], params: Mapping[str, Any]) -> bool:
    other, wanted = condition
    if isinstance(wanted, tuple | frozenset | set | list):
        return params.get(other) in wanted
    return params.get(other) == wanted


@dataclass(frozen=True, kw_only=True)
class IntParam(Param):
    """A whole number in [minimum, maximum]."""

    default: int = 0
    minimum: int = 0
    maximum: int = 100
    step: int = 1
    multiple: int = 1  # values must be multiples of this (e.g. 8 for image sizes)

    def validate(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self._fail(f"expected a whole number, got {value!r}")
        try:
            number = int(value) if not isinstance(value, float) else value
        except ValueError:
            raise self._fail(f"expected a whole number, got {value!r}") from None
        if isinstance(number, float):
            if not number.is_integer():
                raise self._fail(f"expected a whole number, got {value!r}")
            number = int(number)
        if not self.minimum <= number <= self.maximum:
            raise self._fail(f"{number} is out of range {self.minimum}..{self.maximum}")
        if number % self.multiple:
            below = number - number % self.multiple
            raise self._fail(
                f"{number} is not a multiple of {self.multiple} (try {below} or "
                f"{below + self.multiple})"
            )
        return number


@dataclass(frozen=True, kw_only=True)
class FloatParam(Param):
    """A real number in [minimum, maximum]; `decimals` is a display hint."""

    default: float = 0.0
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 0.05
    decimals: int = 2

    def validate(self, value: Any) -> float:
        if isinstance(value, bool):
            raise self._fail(f"expected a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise self._fail(f"expected a number, got {value!r}") from None
        if number != number or not self.minimum <= number <= self.maximum:
            raise self._fail(f"{value} is out of range {self.minimum:g}..{self.maximum:g}")
        return number


@dataclass(frozen=True, kw_only=True)
class ChoiceParam(Param):
    """One of a fixed set of values; `labels` (same order) are what the panel shows."""

    choices: tuple[Any, ...] = ()
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.labels and len(self.labels) != len(self.choices):
            raise ValueError(f"{self.name}: labels and choices differ in length")
        if self.default is None and self.choices:
            object.__setattr__(self, "default", self.choices[0])

    def label_of(self, value: Any) -> str:
        if self.labels and value in self.choices:
            return self.labels[self.choices.index(value)]
        return str(value)

    def validate(self, value: Any) -> Any:
        if value in self.choices:
            return value
        for choice in self.choices:  # "256" on the command line means the int 256
            if str(choice) == str(value):
                return choice
        for choice, label in zip(self.choices, self.labels, strict=False):  # or its label
            if str(value).strip().lower() == label.lower():
                return choice
        allowed = ", ".join(str(c) for c in self.choices)
        raise self._fail(f"{value!r} is not one of: {allowed}")


@dataclass(frozen=True, kw_only=True)
class TextParam(Param):
    """Free text such as a prompt."""

    default: str = ""
    multiline: bool = False
    max_length: int = 10_000

    def validate(self, value: Any) -> str:
        if not isinstance(value, str):
            raise self._fail(f"expected text, got {value!r}")
        if len(value) > self.max_length:
            raise self._fail(f"is {len(value)} characters long; the limit is {self.max_length}")
        return value


@dataclass(frozen=True, kw_only=True)
class BoolParam(Param):
    """On or off."""

    default: bool = False

    def validate(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise self._fail(f"expected true or false, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class SeedParam(Param):
    """A seed in [0, 2**64-1]; None (the default) means "pick one at random" (below 2**32)."""

    default: int | None = None

    def validate(self, value: Any) -> int | None:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "random")):
            return None
        if isinstance(value, bool):
            raise self._fail(f"expected a whole number or 'random', got {value!r}")
        try:
            seed = int(value)
        except (TypeError, ValueError):
            raise self._fail(f"expected a whole number or 'random', got {value!r}") from None
        if not 0 <= seed <= SEED_MAX:
            raise self._fail(f"{seed} is out of range 0..{SEED_MAX}")
        return seed


@dataclass(frozen=True, kw_only=True)
class ImageParam(Param):
    """An input image; the value is a file path. role: content, style, init or mask."""

    role: str = "content"
    optional: bool = False

    def validate(self, value: Any) -> str | None:
        if value in (None, ""):
            if self.optional:
                return None
            raise self._fail("needs an image")
        return str(value)


@dataclass(frozen=True, kw_only=True)
class MixParam(Param):
    """A weighted blend of some of `labels` (indices into them), written "7" or "3:0.5,12:0.5".

    The value is that text in canonical form (weights normalised to sum 1, in index order);
    `weights(value)` turns it into (index, weight) pairs. The panel shows a grid of previews
    when the generator offers them (`Generator.choice_previews`).
    """

    default: str = "0"
    labels: tuple[str, ...] = ()

    def weights(self, value: str) -> list[tuple[int, float]]:
        mix: dict[int, float] = {}
        for part in str(value).replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            index_text, _, weight_text = part.partition(":")
            try:
                index = int(index_text)
                weight = float(weight_text) if weight_text.strip() else 1.0
            except ValueError:
                raise self._fail(
                    f"{part!r} is not 'index' or 'index:weight' (e.g. 7 or 3:0.5,12:0.5)"
                ) from None
            if not 0 <= index < len(self.labels):
                raise self._fail(f"{index} is out of range 0..{len(self.labels) - 1}")
            if not weight >= 0 or weight == float("inf"):
                raise self._fail(f"weight {weight_text} must be a positive number")
            mix[index] = mix.get(index, 0.0) + weight
        total = sum(mix.values())
        if total <= 0:
            raise self._fail("pick at least one with a weight above 0")
        return [(i, mix[i] / total) for i in sorted(mix) if mix[i] > 0]

    def validate(self, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise self._fail(f"expected text such as 7 or 3:0.5,12:0.5, got {value!r}")
        pairs = self.weights(value)
        if len(pairs) == 1:
            return str(pairs[0][0])
        return ",".join(f"{i}:{round(w, 4):g}" for i, w in pairs)


@dataclass(frozen=True, kw_only=True)
class ModelParam(Param):
    """A model file or folder of a given kind; the value is a path or a model name.
    optional: the panel offers "None" first (e.g. a LoRA). scan: finding the choices reads
    the disk (user folders of any size), so the panel lists them from a background thread."""

    kind: str = ""
    optional: bool = False
    scan: bool = False

    def validate(self, value: Any) -> str | None:
        return None if value in (None, "") else str(value)


@dataclass(frozen=True, kw_only=True)
class FolderParam(Param):
    """A folder on disk; the value is its path (the panel offers a folder chooser and takes a
    dropped folder). optional: may be left empty (None)."""

    optional: bool = False

    def validate(self, value: Any) -> str | None:
        if value in (None, ""):
            if self.optional:
                return None
            raise self._fail("needs a folder")
        if not isinstance(value, str | os.PathLike):
            raise self._fail(f"expected a folder path, got {value!r}")
        return os.fspath(value)


# ---------------------------------------------------------------- request and result


def random_seed() -> int:
    """A fresh seed in [0, RANDOM_SEED_MAX]."""
    return random.SystemRandom().randint(0, RANDOM_SEED_MAX)


def seed_at(seed: int, index: int) -> int:
    """The seed of image `index` of a batch starting at `seed` (wraps past SEED_MAX)."""
    return (seed + index) % (SEED_MAX + 1)


def seed32(seed: int) -> int:
    """A 64-bit seed folded to the 32 bits that torch's CPU generator keeps.

    `torch.Generator().manual_seed(s)` seeds its Mersenne Twister with the low 32 bits of `s`
    only, so seeds that differ above bit 31 (0 and 2**32) would give the same numbers. This
    adds the high half, times an odd constant, to the low half: seeds below 2**32 map to
    themselves (the same pixels as ever), consecutive seeds (wrapping at SEED_MAX) and seeds
    that differ in one half only always map apart. Use it for a generator's own noise; a
    diffusion pipeline should take the seed as A1111 and ComfyUI do, unfolded.
    """
    high, low = divmod(int(seed) % (SEED_MAX + 1), 2**32)
    return (low + high * 0x9E3779B9) % 2**32


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
    the fixed head, before the remaining params.
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

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


# ---------------------------------------------------------------- context and generator


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
        models_dir: Any,
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


class Generator:
    """Base class of every generator plugin.

    Subclasses set `id` (stable, snake_case), `title`, `version`, `params`, and implement
    `load` and `run`. `load(ctx)` does heavy imports and reads weights; it is called on the
    worker thread before the first `run` on a device and its result is cached by the caller.
    `run(request, ctx)` returns the finished images; it calls `ctx.progress` and
    `ctx.check_cancelled` between steps and never returns a half-made image.
    """

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    method: ClassVar[str] = ""  # the sampling method written into metadata (default: title)
    kind: ClassVar[str] = "generate"  # "train": listed in the Train panel, not the picker
    params: ClassVar[tuple[Param, ...]] = ()
    plots: ClassVar[tuple[Plot, ...]] = ()  # a trainer's live charts in the Train panel

    def unavailable_reason(self, models_dir: Any) -> str | None:
        """Cheap check (no heavy imports) of whether the generator can run; None if it can."""
        return None

    def latent_space(self, models_dir: Any) -> Any:
        """A 2-D latent space to explore on the latent map, or None (the default).

        The object (Qt-free, used from a background thread) offers `manifold(n)`,
        `grid_extent(n) -> (lo, hi)`, `decode(points)`, `encode(image) -> (x, y)`,
        `reconstruct(image)` and `heldout_points() -> [(x, y, label)]`.
        """
        return None

    def latent_walk(self, models_dir: Any) -> Any:
        """A latent space to walk along named directions, live, or None (the default).

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

    def resume_values(self, request: Request, models_dir: Any) -> dict[str, Any] | None:
        """For a trainer: the form values that continue `request`'s run after it was
        cancelled or failed (from the checkpoint it kept), or None when there is nothing to
        continue. The Train panel offers *Resume* when this returns values."""
        return None

    def model_choices(self, models_dir: Any) -> list[tuple[str, str]]:
        """(value, label) pairs a ModelParam offers in the window; empty for free text."""
        return []

    def choices_for(self, spec: Param, models_dir: Any) -> list[tuple[str, str]]:
        """The choices one ModelParam offers; by default `model_choices` for every one."""
        return self.model_choices(models_dir)

    def choice_previews(self, name: str, models_dir: Any, side: int) -> list[Image] | None:
        """Small pictures of each label of MixParam `name` (called on a background thread,
        about `side` pixels), or None to show the labels as text."""
        return None

    def restore(
        self,
        values: Mapping[str, Any],
        models_dir: Any,
        carried: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        """Adjust settings restored from an image before they fill the form.

        Called after `studio.core.metadata.restore_values` with the values it mapped onto
        this generator's params; `carried` is everything the image carried
        (`ImageMetadata.params`), for settings that have no field of their own (e.g. A1111's
        `lora_hashes`). Return the values to set and notes for the user, e.g. keep the
        current model when the image names one that is not installed, and say which one it
        names. The default returns the values unchanged and no notes.
        """
        return dict(values), []

    def suggested_values(self, values: Mapping[str, Any], models_dir: Any) -> dict[str, Any]:
        """Values the form takes while the user has not set them by hand, given the form's
        current `values`; asked again whenever a ModelParam changes (e.g. the image size the
        chosen model was made for). Called on the UI thread: read a file header at most.
        The default suggests nothing."""
        return {}

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

    def defaults(self) -> dict[str, Any]:
        return {spec.name: spec.default for spec in self.params}

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
