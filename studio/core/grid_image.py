"""One labelled picture from a grid's cells, as A1111's X/Y/Z plot draws it
(`modules/images.py` `draw_grid_annotations`): white margins, the X labels centred over each
column, the Y labels in a margin at the left, wrapped to fit; with Z, one such grid per Z
value side by side under its own title.

Memory stays bounded whatever the number of cells: each cell is shrunk, as it comes in, to
the largest size the output can give it, and only those copies are kept; `render` pastes them
into the output one by one, letting each go. The output is capped at `MAX_SIDE` pixels a side
and `MAX_PIXELS` in all (below Pillow's decompression-bomb warning at ~89 MP and Studio's own
loader limit, so the grid opens again here and in other tools, and WebP's 16,383 px side).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studio.core.grid import SCRIPT, GridError, GridPlan
from studio.core.project_queue import QueueEntry

if TYPE_CHECKING:
    from PIL.Image import Image
    from PIL.ImageFont import FreeTypeFont

    from studio.core.generator import Request, Result

MAX_SIDE = 16_383
MAX_PIXELS = 64_000_000
MIN_CELL = 16  # px: a grid whose cells would be smaller is refused
MIN_FONT = 12  # px: A1111's (width + height) / 25 is unreadable on small cells
MAX_LABEL = 120  # characters of a label drawn (a long prompt is cut with an ellipsis)
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)
EMPTY = (48, 48, 48)  # a cell that failed or was cancelled
EMPTY_INK = (170, 170, 170)


def cell_bound(shape: tuple[int, int, int]) -> int:
    """The largest square a cell may fill in a grid of this shape (margins aside)."""
    nx, ny, nz = shape
    return int(min(MAX_SIDE / (nx * nz), MAX_SIDE / ny, math.sqrt(MAX_PIXELS / (nx * ny * nz))))


def check_shape(shape: tuple[int, int, int]) -> None:
    """Raise GridError when the cells of such a grid would be too small to see."""
    if cell_bound(shape) < MIN_CELL:
        nx, ny, nz = shape
        raise GridError(
            f"a {nx}×{ny} grid{' ×' + str(nz) if nz > 1 else ''} leaves under {MIN_CELL} px per "
            f"cell in a {MAX_SIDE} px picture; spread the values over more axes or use fewer"
        )


@dataclass(frozen=True)
class Layout:
    """Where everything goes for cells of w×h."""

    w: int
    h: int
    font: int
    pad_left: int
    pad_top: int
    pad_z: int
    size: tuple[int, int]


class GridImage:
    """Collects the cells of one grid as they finish, then draws the labelled picture."""

    def __init__(
        self,
        shape: tuple[int, int, int],
        x_labels: Sequence[str] = (),
        y_labels: Sequence[str] = (),
        z_labels: Sequence[str] = (),
    ) -> None:
        check_shape(shape)
        self.shape = shape
        self.labels = (list(x_labels), list(y_labels), list(z_labels))
        largest = cell_bound(shape)
        layout = self._fit(largest, largest)  # the margins take their share too
        self.bound = min(layout.w, layout.h)
        self._cells: dict[int, Image] = {}
        self.failed: set[int] = set()

    def add(self, index: int, image: Image) -> None:
        """Keep cell `index` (x + y·nx + z·nx·ny), shrunk to what the output can show."""
        from PIL import Image as PILImage

        small = image if image.mode == "RGB" else image.convert("RGB")
        if max(small.size) > self.bound:
            small = small.copy() if small is image else small
            small.thumbnail((self.bound, self.bound), PILImage.Resampling.LANCZOS)
        elif small is image:
            small = image.copy()
        self._cells[index] = small
        self.failed.discard(index)

    def fail(self, index: int) -> None:
        """Cell `index` has no picture (it failed or was cancelled): drawn as an empty box."""
        self._cells.pop(index, None)
        self.failed.add(index)

    @property
    def kept_pixels(self) -> int:
        return sum(c.width * c.height for c in self._cells.values())

    def __len__(self) -> int:
        return len(self._cells)

    def render(self) -> Image:
        """The labelled grid (once: the cells kept so far are pasted and let go)."""
        from PIL import Image as PILImage
        from PIL import ImageDraw

        if not self._cells:
            raise GridError("no cell of the grid has a picture")
        w = max(c.width for c in self._cells.values())
        h = max(c.height for c in self._cells.values())
        layout = self._fit(w, h)
        out = PILImage.new("RGB", layout.size, BACKGROUND)
        draw = ImageDraw.Draw(out)
        nx, ny, nz = self.shape
        font = _font(layout.font)
        sub_w = layout.pad_left + nx * layout.w
        for iz in range(nz):
            left = iz * sub_w
            top = layout.pad_z
            if layout.pad_z:
                _centred(draw, self._wrapped_z(iz, sub_w, layout), left + sub_w / 2,
                         layout.pad_z / 2, _font(_z_font(layout.font)))  # fmt: skip
            for iy in range(ny):
                for ix in range(nx):
                    index = ix + iy * nx + iz * nx * ny
                    x = left + layout.pad_left + ix * layout.w
                    y = top + layout.pad_top + iy * layout.h
                    self._paste(out, draw, index, x, y, layout, font)
            for ix, lines in enumerate(self._wrapped(0, layout.w, font)):
                cx = left + layout.pad_left + ix * layout.w + layout.w / 2
                _centred(draw, lines, cx, top + layout.pad_top / 2, font)
            for iy, lines in enumerate(self._wrapped(1, layout.pad_left, font)):
                cy = top + layout.pad_top + iy * layout.h + layout.h / 2
                _centred(draw, lines, left + layout.pad_left / 2, cy, font)
        return out

    def _paste(self, out: Image, draw: object, index: int, x: int, y: int, layout: Layout,
               font: FreeTypeFont) -> None:  # fmt: skip
        from PIL import Image as PILImage

        cell = self._cells.pop(index, None)
        if cell is None:
            box = (x + 1, y + 1, x + layout.w - 2, y + layout.h - 2)
            draw.rectangle(box, fill=EMPTY)  # type: ignore[attr-defined]
            text = "failed" if index in self.failed else "not made"
            _centred(draw, [text], x + layout.w / 2, y + layout.h / 2, font, EMPTY_INK)
            return
        if cell.width > layout.w or cell.height > layout.h:
            cell.thumbnail((layout.w, layout.h), PILImage.Resampling.LANCZOS)
        out.paste(cell, (x + (layout.w - cell.width) // 2, y + (layout.h - cell.height) // 2))

    # -- layout

    def _fit(self, w: int, h: int) -> Layout:
        """The layout for cells of w×h, shrunk until the picture is within the caps."""
        for _ in range(12):
            layout = self._layout(w, h)
            width, height = layout.size
            if width <= MAX_SIDE and height <= MAX_SIDE and width * height <= MAX_PIXELS:
                return layout
            scale = min(MAX_SIDE / width, MAX_SIDE / height,
                        math.sqrt(MAX_PIXELS / (width * height)))  # fmt: skip
            w, h = max(1, int(w * scale * 0.99)), max(1, int(h * scale * 0.99))
        raise GridError("the labels leave no room for the cells; shorten them")

    def _layout(self, w: int, h: int) -> Layout:
        nx, ny, nz = self.shape
        size = max(MIN_FONT, (w + h) // 25)
        font = _font(size)
        spacing = size // 2
        pad_left = 0
        if any(self.labels[1]):
            words = [word for text in self.labels[1] for word in text.split()]
            widest_word = max((math.ceil(_width(font, word)) for word in words), default=0)
            pad_left = max(w * 3 // 4, widest_word + 2 * spacing)
        heights = [_block_height(lines, size) for lines in self._wrapped(0, w, font)]
        pad_top = max(heights, default=0) + 2 * spacing if any(self.labels[0]) else 0
        sub_w, sub_h = pad_left + nx * w, pad_top + ny * h
        pad_z = 0
        if nz > 1 and any(self.labels[2]):
            zsize = _z_font(size)
            zfont = _font(zsize)
            zlines = [_wrap(zfont, t, sub_w) for t in self.labels[2]]
            pad_z = max(_block_height(lines, zsize) for lines in zlines) + 2 * (zsize // 2)
        return Layout(w, h, size, pad_left, pad_top, pad_z, (nz * sub_w, pad_z + sub_h))

    def _wrapped(self, axis: int, width: int, font: FreeTypeFont) -> list[list[str]]:
        count = self.shape[axis]
        texts = self.labels[axis] or [""] * count
        return [_wrap(font, texts[i] if i < len(texts) else "", width) for i in range(count)]

    def _wrapped_z(self, iz: int, width: int, layout: Layout) -> list[str]:
        texts = self.labels[2]
        return _wrap(_font(_z_font(layout.font)), texts[iz] if iz < len(texts) else "", width)


# ---------------------------------------------------------------- text


def _z_font(size: int) -> int:
    return size * 3 // 2


_FONTS: dict[int, FreeTypeFont] = {}


def _font(size: int) -> FreeTypeFont:
    """Pillow's own font (no font file needed), at `size` px."""
    if size not in _FONTS:
        from PIL import ImageFont

        _FONTS[size] = ImageFont.load_default(size)  # type: ignore[assignment]
    return _FONTS[size]


def _width(font: FreeTypeFont, text: str) -> float:
    return font.getlength(text)


def _wrap(font: FreeTypeFont, text: str, width: int) -> list[str]:
    """Words on lines no wider than `width` (A1111's wrap); a word wider than that alone is
    cut between characters rather than run into the next column."""
    if len(text) > MAX_LABEL:
        text = text[: MAX_LABEL - 1] + "…"
    lines: list[str] = []
    for word in text.split():
        for piece in _pieces(font, word, width):
            if lines and _width(font, f"{lines[-1]} {piece}") <= width:
                lines[-1] = f"{lines[-1]} {piece}"
            else:
                lines.append(piece)
    return lines


def _pieces(font: FreeTypeFont, word: str, width: int) -> list[str]:
    pieces = []
    while len(word) > 1 and _width(font, word) > width:
        n = len(word) - 1
        while n > 1 and _width(font, word[:n]) > width:
            n -= 1
        pieces.append(word[:n])
        word = word[n:]
    return [*pieces, word]


def _line_height(size: int) -> int:
    ascent, descent = _font(size).getmetrics()
    return ascent + descent


def _block_height(lines: Sequence[str], size: int) -> int:
    if not lines:
        return 0
    return len(lines) * _line_height(size) + (len(lines) - 1) * (size // 2)


def _centred(draw: object, lines: Sequence[str], cx: float, cy: float, font: FreeTypeFont,
             fill: tuple[int, int, int] = INK) -> None:  # fmt: skip
    """Lines centred on (cx, cy), one under the other."""
    size = int(font.size)
    step = _line_height(size) + size // 2
    y = cy - _block_height(lines, size) / 2
    for line in lines:
        draw.text((cx, y), line, font=font, fill=fill, anchor="ma")  # type: ignore[attr-defined]
        y += step


class GridRun:
    """One grid on its way: the plan's jobs, the cells as their jobs finish, the grid item.

    Shared by `studio grid` and the window's grid dialog; plain Python, used on one thread.
    """

    def __init__(self, generator: Any, plan: GridPlan) -> None:
        self.generator, self.plan = generator, plan
        x, y, z = (axis.labels if axis is not None else () for axis in plan.axes)
        self.image = GridImage(plan.shape, x, y, z)
        self.items: list[int | None] = [None] * len(plan.cells)
        self.done = self.failed = 0
        self.batch = uuid.uuid4().hex

    @property
    def total(self) -> int:
        return len(self.plan.runs)

    def entries(self) -> list[QueueEntry]:
        """One stored-queue entry per distinct request, in the order to run them."""
        return [
            QueueEntry(request, self.title(request), batch=self.batch, batch_index=n,
                       group=self.batch)
            for n, request in enumerate(self.plan.runs)
        ]  # fmt: skip

    def title(self, request: Request) -> str:
        """The queue's line for a cell: the generator and the cell's axis labels."""
        nx, ny, _nz = self.plan.shape
        index = self.cells_of(request)[0]
        where = (index % nx, index // nx % ny, index // (nx * ny))
        labels = [a.labels[i] for a, i in zip(self.plan.axes, where, strict=True) if a is not None]
        return f"Grid · {self.generator.title} · {', '.join(labels)}"

    def cells_of(self, request: Request) -> tuple[int, ...]:
        return self.plan.cells_of.get(request.to_json(), ())

    def finished(self, request: Request, image: Image | None, item: int | None = None) -> None:
        """A job of the grid ended: its first image (None: it failed or was cancelled) and
        the project item that keeps it fill every cell that request makes."""
        cells = self.cells_of(request)
        if not cells:
            return
        if image is None:
            self.failed += 1
        else:
            self.done += 1
        for index in cells:
            self.items[index] = item
            if image is None:
                self.image.fail(index)
            else:
                self.image.add(index, image)

    def result(self) -> Result:
        """The grid as a result of its generator: the first cell's settings (A1111 writes
        the first cell's), with the axes in `grid` and in A1111's `X Type`/`X Values` keys."""
        first = self.plan.cells[0]
        picture = self.image.render()
        nx, ny, nz = self.plan.shape
        names = " × ".join(a.title for a in self.plan.axes if a is not None)
        shape = f"{nx}×{ny}" + (f"×{nz}" if nz > 1 else "")
        record = {**self.plan.record(), "cells": list(self.items)}
        return self.generator.result(
            first, picture, first.seed, note=f"{SCRIPT}: {shape}, {names}",
            infotext=self.plan.infotext(), grid=record, caption=f"Grid {shape}",
        )  # fmt: skip
