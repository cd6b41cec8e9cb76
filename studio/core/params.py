"""The parameter specs of the plugin contract: each is the single source of truth for one input
of a generator (its form field, its `--set` parsing, its validation), plus the seed helpers.

Plugins import these from `studio.core.generator`, which re-exports them.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SEED_MAX = 2**64 - 1  # ComfyUI and Fooocus write seeds this large
RANDOM_SEED_MAX = 2**32 - 1  # where random seeds are drawn: every tool takes these (InvokeAI
# allows no more), so an image made with one can be remade elsewhere


class ParamError(ValueError):
    """A parameter value that its spec rejects; the message names the parameter."""


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
