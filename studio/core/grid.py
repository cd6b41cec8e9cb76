"""Comparison grids (AUTOMATIC1111's X/Y/Z plot) for any generator: axes, values, cells.

An axis is one of the generator's parameters (or Prompt S/R, search and replace in its text
parameters) with the values the user typed, in A1111's syntax: comma-separated as a line of
CSV (quotes keep commas in a value), and for numbers ranges `1-5`, `1-5 (+2)`, `10-5 (-3)`,
`1-3 (+0.5)` and counts `1-10 [5]`, `0.0-1.0 [6]`. Every value is validated by the
parameter's spec, and every cell's request by the generator, before anything runs.

`plan_grid` turns up to three axes and the form's values into a `GridPlan`: the cells in
A1111's order (x fastest, then y, then z, one grid per z value) and the distinct requests
that make them, in the order they should run (model changes outermost, as A1111 orders its
costly axes). `studio.core.grid_image` assembles the finished cells.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from studio.core.params import (
    BoolParam,
    ChoiceParam,
    FloatParam,
    ImageParam,
    IntParam,
    ModelParam,
    Param,
    ParamError,
    SeedParam,
    TextParam,
    random_seed,
)

SEARCH_REPLACE = "prompt_sr"  # the axis name of Prompt S/R
SEARCH_REPLACE_TITLE = "Prompt S/R"
AXIS_NAMES = ("X", "Y", "Z")
MAX_TEXT = 20_000  # characters of one axis's values
MAX_VALUES = 10_000  # values of one axis, after ranges are expanded
MAX_CELLS = 10_000  # cells of one grid, all z values together
SCRIPT = "X/Y/Z plot"  # A1111's `Script` value, written into the grid's parameters

# A1111's range forms (scripts/xyz_grid.py), matched whole against a value with its spaces
# taken out (A1111 allows them anywhere), so the patterns need no `\s*` and stay linear.
_NUMBER = r"[+-]?\d+(?:\.\d*)?"
_STEP_RANGE = re.compile(rf"({_NUMBER})-({_NUMBER})(?:\(([+-]\d+(?:\.\d*)?)\))?")
_COUNT_RANGE = re.compile(rf"({_NUMBER})-({_NUMBER})\[(\d+)]")


class GridError(ValueError):
    """Axes or values that cannot make a grid; the message names the axis and says why."""


@dataclass(frozen=True)
class Axis:
    """One axis: the parameter it varies (`SEARCH_REPLACE` for Prompt S/R), its title, the
    values as typed, and the validated values with their labels."""

    name: str
    title: str
    text: str
    values: tuple[Any, ...]
    labels: tuple[str, ...]
    fixed_seeds: bool = False  # random seeds (-1) were drawn for some values

    def __len__(self) -> int:
        return len(self.values)

    def describe(self) -> dict[str, Any]:
        """Plain data for the grid's record."""
        return {"param": self.name, "title": self.title, "text": self.text,
                "values": list(self.values), "labels": list(self.labels)}  # fmt: skip


@dataclass(frozen=True)
class GridPlan:
    """The cells of a grid and the distinct requests that make them.

    cells[i] is the request of cell i, i = x + y * nx + z * nx * ny (A1111's order).
    runs: the distinct requests, in the order to run them; cells_of[json] the cells each makes.
    """

    generator: str
    axes: tuple[Axis | None, Axis | None, Axis | None]
    cells: tuple[Any, ...]
    runs: tuple[Any, ...]
    cells_of: Mapping[str, tuple[int, ...]] = field(repr=False)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(len(a) if a is not None else 1 for a in self.axes)  # type: ignore[return-value]

    def describe(self) -> str:
        """E.g. "9 images on 1 3×3 grid" (A1111's console line)."""
        nx, ny, nz = self.shape
        grids = f"{nz} {nx}×{ny} grid{'s' if nz > 1 else ''}"
        shared = len(self.cells) - len(self.runs)
        same = f" ({shared} repeat an earlier cell)" if shared else ""
        return f"{len(self.runs)} image(s) on {grids}{same}"

    def record(self) -> dict[str, Any]:
        """The axes as plain data, for the grid item's record."""
        return {
            "script": SCRIPT,
            "shape": list(self.shape),
            "axes": {
                letter: axis.describe()
                for letter, axis in zip(AXIS_NAMES, self.axes, strict=True)
                if axis is not None
            },
        }

    def infotext(self) -> dict[str, str]:
        """A1111's own keys for the grid's parameters text (`X Type`, `X Values`, ...)."""
        pairs = {"Script": SCRIPT}
        for letter, axis in zip(AXIS_NAMES, self.axes, strict=True):
            if axis is None:
                continue
            pairs[f"{letter} Type"] = axis.title
            pairs[f"{letter} Values"] = axis.text
            if axis.fixed_seeds:
                pairs[f"Fixed {letter} Values"] = ", ".join(str(v) for v in axis.values)
        return pairs


# ---------------------------------------------------------------- values


def split_values(text: str) -> list[str]:
    """The values of an axis as A1111 splits them: one CSV line, each value stripped.
    `darkness,"light, green",heat` is three values; a quote after a space is no quote."""
    if len(text) > MAX_TEXT:
        raise GridError(f"is {len(text)} characters long; the limit is {MAX_TEXT}")
    rows = csv.reader(io.StringIO(text.replace("\r", " ").replace("\n", " ")))
    return [value.strip() for row in rows for value in row if value.strip()]


def expand_numbers(values: Sequence[str], kind: type) -> list[Any]:
    """Ranges and counts expanded (ints for `int`, floats for `float`); other values as they
    are, for the spec to judge. Ranges include both ends, counting down as well as up."""
    out: list[Any] = []
    for value in values:
        compact = "".join(value.split())
        counted = _COUNT_RANGE.fullmatch(compact)
        stepped = None if counted else _STEP_RANGE.fullmatch(compact)
        if counted:
            out += _count_range(*counted.groups(), kind)
        elif stepped:
            out += _step_range(*stepped.groups(), kind)
        else:
            out.append(value)
        if len(out) > MAX_VALUES:
            raise GridError(f"has more than {MAX_VALUES} values")
    return out


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise GridError(f"'{text}' is not a whole number") from None


def _count_range(start: str, end: str, count: str, kind: type) -> list[Any]:
    # A1111: numpy.linspace(start, end, count), cut to int for whole numbers.
    a, b, n = _number(start, float), _number(end, float), int(count)
    if n < 1:
        raise GridError(f"'{start}-{end} [{count}]' asks for no values")
    if n > MAX_VALUES:
        raise GridError(f"has more than {MAX_VALUES} values")
    points = [a] if n == 1 else [a + (b - a) * i / (n - 1) for i in range(n)]
    if kind is int:
        return [int(p) for p in points]
    return [round(p, 10) for p in points]


def _step_range(start: str, end: str, step: str | None, kind: type) -> list[Any]:
    a, b = _number(start, kind), _number(end, kind)
    d = kind(1 if b >= a else -1) if step is None else _number(step, kind)
    if d == 0 or (b - a) * d < 0:
        raise GridError(f"a step of {d:g} never goes from {a:g} to {b:g}")
    n = int(math.floor((b - a) / d + 1e-9)) + 1
    if n > MAX_VALUES:
        raise GridError(f"has more than {MAX_VALUES} values")
    if kind is int:
        return [a + i * d for i in range(n)]
    return [round(a + i * d, 10) for i in range(n)]


# ---------------------------------------------------------------- axes


def axis_choices(params: Sequence[Param]) -> list[tuple[str, str]]:
    """(name, title) of everything a grid can vary for these params: every parameter, plus
    Prompt S/R when there is text to search."""
    out = [(p.name, p.title) for p in params]
    if any(isinstance(p, TextParam) for p in params):
        out.append((SEARCH_REPLACE, SEARCH_REPLACE_TITLE))
    return out


def find_param(params: Sequence[Param], name: str) -> str:
    """The axis name for `name`: a parameter's name or title (any case), or Prompt S/R."""
    wanted = name.strip().lower()
    if wanted in (SEARCH_REPLACE, SEARCH_REPLACE_TITLE.lower(), "prompt s/r", "sr"):
        return SEARCH_REPLACE
    for spec in params:
        if wanted in (spec.name.lower(), spec.title.lower()):
            return spec.name
    known = ", ".join(n for n, _t in axis_choices(params))
    raise GridError(f"there is no parameter '{name.strip()}'; choose one of: {known}")


def parse_axis(params: Sequence[Param], name: str, text: str) -> Axis:
    """An axis over parameter `name` (a name, a title or Prompt S/R) with values `text`,
    each validated by the parameter's spec."""
    key = find_param(params, name)
    values = split_values(text)
    if not values:
        raise GridError("has no values")
    if key == SEARCH_REPLACE:
        if len(values) < 2:
            raise GridError("Prompt S/R takes the text to find, then what replaces it")
        return Axis(key, SEARCH_REPLACE_TITLE, text, tuple(values), tuple(values))
    spec = next(p for p in params if p.name == key)
    kind = int if isinstance(spec, IntParam | SeedParam) else None
    kind = float if isinstance(spec, FloatParam) else kind
    raw = expand_numbers(values, kind) if kind else values
    fixed = False
    checked = []
    for value in raw:
        if isinstance(spec, SeedParam) and str(value).strip().lower() in ("-1", "random"):
            value, fixed = random_seed(), True  # A1111: -1 is a seed drawn once, then kept
        if getattr(spec, "optional", False) and str(value).strip().lower() == "none":
            checked.append(None)  # an optional model or image left out (A1111's "None")
            continue
        try:
            checked.append(spec.validate(value) if kind else spec.parse(str(value)))
        except ParamError as exc:
            raise GridError(str(exc)) from None
    labels = tuple(f"{spec.title}: {_label(spec, v)}" for v in checked)
    return Axis(key, spec.title, text, tuple(checked), labels, fixed)


def _label(spec: Param, value: Any) -> str:
    if isinstance(spec, ChoiceParam):
        return spec.label_of(value)
    if isinstance(spec, ModelParam | ImageParam) and value:
        return PurePath(str(value).replace("\\", "/")).name  # as A1111 shows checkpoints
    if isinstance(spec, BoolParam):
        return "on" if value else "off"
    if value is None:
        return "none"
    if isinstance(value, float):
        return repr(round(value, 8))
    return str(value)


# ---------------------------------------------------------------- the plan


def plan_grid(generator: Any, base: Mapping[str, Any], axes: Sequence[Axis | None]) -> GridPlan:
    """The cells of a grid over `axes` (x, y, z; None or missing for none) from the form's
    values `base`, every cell validated by `generator.make_request`. A `count` that is no
    axis is set to 1 (one image per cell, as A1111 plots), and a random seed is drawn once,
    so every cell shares it."""
    axes = (list(axes) + [None, None, None])[:3]
    used = [a for a in axes if a is not None]
    if not used:
        raise GridError("Choose at least one axis and its values")
    names = [a.name for a in used]
    for name in names:
        if names.count(name) > 1:
            raise GridError(f"'{_title(generator, name)}' is on two axes; use it on one")
    nx, ny, nz = (len(a) if a is not None else 1 for a in axes)
    if nx * ny * nz > MAX_CELLS:
        raise GridError(f"{nx}×{ny}×{nz} = {nx * ny * nz} cells; a grid holds at most {MAX_CELLS}")
    fixed = dict(base)
    specs = {p.name: p for p in generator.params}
    if "count" in specs and "count" not in names:
        fixed["count"] = 1
    try:
        first = generator.make_request(fixed)  # draws a random seed once, for every cell
    except ParamError as exc:
        raise GridError(str(exc)) from None
    fixed = dict(first.params)
    cells = []
    for iz in range(nz):
        for iy in range(ny):
            for ix in range(nx):
                values = dict(fixed)
                for axis, i in zip(axes, (ix, iy, iz), strict=True):
                    if axis is not None:
                        _apply(axis, i, values, generator)
                try:
                    cells.append(generator.make_request(values))
                except ParamError as exc:
                    raise GridError(f"cell {len(cells) + 1}: {exc}") from None
    for letter, axis in zip(AXIS_NAMES, axes, strict=True):
        spec = specs.get(axis.name) if axis is not None else None
        if spec is not None and not any(spec.applies(c.params) for c in cells):
            raise GridError(
                f"{letter} axis: {axis.title} does not apply with these settings "
                "(see when its field shows in the form)"
            )
    return _with_runs(generator.id, tuple(axes), cells, _slowest_first(axes, specs))


def _apply(axis: Axis, index: int, values: dict[str, Any], generator: Any) -> None:
    if axis.name != SEARCH_REPLACE:
        values[axis.name] = axis.values[index]
        return
    search, replace = axis.values[0], axis.values[index]
    texts = [p.name for p in generator.params if isinstance(p, TextParam)]
    found = [n for n in texts if search in str(values.get(n) or "")]
    if not found:
        where = " or ".join(_title(generator, n).lower() for n in texts)
        raise GridError(f"Prompt S/R did not find '{search}' in the {where}")
    for name in found:
        values[name] = str(values[name]).replace(search, replace)


def _title(generator: Any, name: str) -> str:
    if name == SEARCH_REPLACE:
        return SEARCH_REPLACE_TITLE
    return generator.param(name).title


def _slowest_first(axes: Sequence[Axis | None], specs: Mapping[str, Param]) -> list[int]:
    """Axis positions (0 x, 1 y, 2 z) from the one to vary least often to the one to vary
    most: a model axis outermost (each change loads weights), else z, y, x as A1111 runs."""
    cost = [1 if a is not None and isinstance(specs.get(a.name), ModelParam) else 0 for a in axes]
    return sorted((2, 1, 0), key=lambda i: -cost[i])


def _with_runs(generator: str, axes: tuple, cells: list, order: list[int]) -> GridPlan:
    nx, ny, _nz = (len(a) if a is not None else 1 for a in axes)

    def position(index: int) -> tuple[int, ...]:
        where = (index % nx, index // nx % ny, index // (nx * ny))
        return tuple(where[i] for i in order)

    cells_of: dict[str, list[int]] = {}
    runs = []
    for index in sorted(range(len(cells)), key=position):
        key = cells[index].to_json()
        if key not in cells_of:
            cells_of[key] = []
            runs.append(cells[index])
        cells_of[key].append(index)
    frozen = {key: tuple(sorted(found)) for key, found in cells_of.items()}
    return GridPlan(generator, axes, tuple(cells), tuple(runs), frozen)
