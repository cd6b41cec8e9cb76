"""The gallery: thumbnails of every result, newest first."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu, QVBoxLayout, QWidget

from studio.core.generator import Result
from studio.ui.qt_convert import thumbnail

THUMB = 112
_entry_ids = itertools.count(1)


@dataclass(eq=False)
class GalleryEntry:
    """A result as the gallery holds it: the result, a stable key and a cached thumbnail."""

    result: Result
    key: int = field(default_factory=lambda: next(_entry_ids))
    _thumb: QPixmap | None = None

    @property
    def thumb(self) -> QPixmap:
        if self._thumb is None:  # made on first paint, so a big batch lands quickly
            self._thumb = thumbnail(self.result.image, THUMB)
        return self._thumb

    def caption(self) -> str:
        if self.result.sequence:
            _group, index, length = self.result.sequence
            return f"frame {index + 1}/{length}"
        return f"seed {self.result.seed}"

    def tooltip(self) -> str:
        r = self.result
        lines = [f"{r.generator}  seed {r.seed}", f"{r.image.width}×{r.image.height}"]
        if r.sequence:
            lines.append(f"frame {r.sequence[1] + 1} of {r.sequence[2]}")
        if r.note:
            lines.append(r.note)
        return "\n".join(lines)


Index = QModelIndex | QPersistentModelIndex


class GalleryModel(QAbstractListModel):
    """Newest batch first; within a batch, the batch's own order."""

    KeyRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.entries: list[GalleryEntry] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self.entries[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            return entry.thumb
        if role == Qt.ItemDataRole.ToolTipRole:
            return entry.tooltip()
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.caption()
        if role == self.KeyRole:
            return entry.key
        return None

    def add(self, results: list[Result]) -> list[GalleryEntry]:
        """Put a batch at the top, keeping its own order (seed s, s+1, ... or frame 1, 2, ...)."""
        entries = [GalleryEntry(r) for r in results]
        self.beginInsertRows(QModelIndex(), 0, len(entries) - 1)
        self.entries[0:0] = entries
        self.endInsertRows()
        return entries

    def entry(self, key: int) -> GalleryEntry | None:
        return next((e for e in self.entries if e.key == key), None)


class GalleryPanel(QWidget):
    """Shows the model as a grid; double-click asks the canvas to centre that result."""

    activated = Signal(int)  # entry key
    export_animation_requested = Signal(int)
    save_requested = Signal(int)
    reuse_seed_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = GalleryModel(self)
        self.view = QListView()
        self.view.setObjectName("gallery")
        self.view.setModel(self.model)
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setGridSize(QSize(THUMB + 14, THUMB + 30))
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setWordWrap(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.doubleClicked.connect(
            lambda idx: self.activated.emit(idx.data(GalleryModel.KeyRole))
        )
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

    def _menu(self, pos: Any) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        key = index.data(GalleryModel.KeyRole)
        entry = self.model.entry(key)
        menu = QMenu(self)
        menu.addAction("Show on canvas", lambda: self.activated.emit(key))
        menu.addAction("Save image as…", lambda: self.save_requested.emit(key))
        menu.addAction("Use this seed", lambda: self.reuse_seed_requested.emit(key))
        if entry is not None and entry.result.sequence:
            menu.addAction(
                "Export animation (GIF/WebP)…", lambda: self.export_animation_requested.emit(key)
            )
        menu.exec(self.view.viewport().mapToGlobal(pos))
