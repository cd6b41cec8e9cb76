"""The gallery: every item of the project, newest first, with filters and search.

Rows come from the project store without pixels; a thumbnail is read from the file the
first time its row is painted, so a project of thousands opens at once. After that the
gallery follows the project's events: it inserts the items it is told were added, drops the
removed ones and re-reads only the rows that changed.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.project import ItemRow, ItemsAdded, Project, ProjectError

THUMB = 112
CELL = QSize(THUMB + 8, THUMB + 24)
CACHE = 4000  # thumbnails kept in memory (about 30 KB each)
Index = QModelIndex | QPersistentModelIndex


class GalleryModel(QAbstractListModel):
    """Rows of the open project (or none), filtered like the panel asks."""

    KeyRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.rows: list[ItemRow] = []
        self.filters: dict[str, Any] = {"generator": None, "search": "", "favourites": False}
        self._thumbs: OrderedDict[int, QPixmap] = OrderedDict()

    def set_project(self, project: Project | None) -> None:
        """Switch projects; the panel then refreshes once with its filters."""
        self.project = project
        self._thumbs.clear()

    def refresh(self) -> None:
        self.beginResetModel()
        self.rows = self.project.items(**self.filters) if self.project is not None else []
        self.endResetModel()

    def add(self, ids: list[int]) -> None:
        """Insert the items among `ids` that match the filters, in gallery order."""
        if self.project is None:
            return
        present = {r.id for r in self.rows}
        new = sorted(
            (row for row in self.project.items(**self.filters, ids=ids) if row.id not in present),
            key=_order,
        )
        if not new:
            return
        if not self.rows or _order(new[-1]) < _order(self.rows[0]):  # the usual case: newest
            self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
            self.rows[0:0] = new
            self.endInsertRows()
            return
        keys = [_order(r) for r in self.rows]
        for row in new:
            at = bisect.bisect_left(keys, _order(row))
            self.beginInsertRows(QModelIndex(), at, at)
            self.rows.insert(at, row)
            keys.insert(at, _order(row))
            self.endInsertRows()

    def remove(self, ids: list[int]) -> None:
        gone = set(ids)
        for n in range(len(self.rows) - 1, -1, -1):
            if self.rows[n].id in gone:
                self.beginRemoveRows(QModelIndex(), n, n)
                del self.rows[n]
                self.endRemoveRows()

    def update(self, ids: list[int]) -> None:
        """Re-read changed rows; one that no longer matches the filters leaves."""
        if self.project is None:
            return
        matching = {r.id: r for r in self.project.items(**self.filters, ids=ids)}
        self.remove([i for i in ids if i not in matching])
        for n, row in enumerate(self.rows):
            if row.id in matching:
                self.rows[n] = matching[row.id]
                self.dataChanged.emit(self.index(n), self.index(n))
        self.add(list(matching))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnail(row.id)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"★ {row.caption}" if row.favourite else row.caption
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.generator} · seed {row.seed}\n{row.width}×{row.height}\n{row.caption}"
        if role == self.KeyRole:
            return row.id
        if role == Qt.ItemDataRole.SizeHintRole:  # every cell a whole thumbnail and its line
            return CELL
        return None

    def thumbnail(self, item_id: int) -> QPixmap:
        pixmap = self._thumbs.get(item_id)
        if pixmap is None:
            pixmap = QPixmap()
            try:
                if self.project is not None:
                    pixmap.loadFromData(self.project.thumbnail(item_id))
                    pixmap = _enlarged(pixmap)
            except (KeyError, ProjectError):  # gone, or its project closed: a blank cell
                return QPixmap()
            self._thumbs[item_id] = pixmap
            if len(self._thumbs) > CACHE:
                self._thumbs.popitem(last=False)
        else:
            self._thumbs.move_to_end(item_id)
        return pixmap

    def row_of(self, item_id: int) -> ItemRow | None:
        return next((r for r in self.rows if r.id == item_id), None)


def _enlarged(pixmap: QPixmap) -> QPixmap:
    """The thumbnail fitted to its cell: a larger one scaled down (smooth); a tiny one (a 28 px
    digit) shown a whole number of times larger, crisp, instead of a speck."""
    side = max(pixmap.width(), pixmap.height())
    if side > THUMB:
        return pixmap.scaled(
            THUMB,
            THUMB,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    factor = THUMB // side if side else 1
    if factor < 2:
        return pixmap
    return pixmap.scaled(
        pixmap.width() * factor,
        pixmap.height() * factor,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.FastTransformation,  # nearest neighbour: pixels stay square
    )


def _order(row: ItemRow) -> tuple[float, int]:
    # The store's order: newest first, then by id.
    return (-row.created, row.id)


class GalleryPanel(QWidget):
    """Filter bar over a thumbnail grid; actions are asked for by signals, never done here."""

    activated = Signal(int)  # item id: show it on the canvas
    rerun_requested = Signal(int)
    save_requested = Signal(int)
    reuse_seed_requested = Signal(int)
    export_animation_requested = Signal(int)
    favourite_requested = Signal(list, bool)
    delete_requested = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = GalleryModel(self)
        self.generator_filter = QComboBox()
        self.generator_filter.setObjectName("gallery_generator")
        self.search = QLineEdit()
        self.search.setObjectName("gallery_search")
        self.search.setPlaceholderText("Search prompts and parameters")
        self.search.setClearButtonEnabled(True)
        self.favourites_only = QToolButton()
        self.favourites_only.setText("★")
        self.favourites_only.setToolTip("Show favourites only")
        self.favourites_only.setCheckable(True)
        self.favourites_only.setObjectName("favourites_only")
        self.favourites_only.setStyleSheet(  # on must look on: a filled gold star
            "QToolButton#favourites_only:checked { background: #c9a227; color: #1b1d21;"
            " border-radius: 3px; }"
        )
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(200)  # typing a word queries once, not per key
        self._search_timer.timeout.connect(self._apply_filters)
        self.search.textChanged.connect(self._search_timer.start)
        self.generator_filter.currentIndexChanged.connect(self._apply_filters)
        self.favourites_only.toggled.connect(self._apply_filters)

        self.view = QListView()
        self.view.setObjectName("gallery")
        self.view.setModel(self.model)
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setGridSize(QSize(THUMB + 14, THUMB + 30))
        # One line under each picture, shortened in the middle: "frame 10/12" stays whole,
        # a long prompt keeps its start and end (the tooltip has all of it).
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.doubleClicked.connect(
            lambda idx: self.activated.emit(idx.data(GalleryModel.KeyRole))
        )
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        delete = QAction("Delete", self.view)
        delete.setShortcuts([QKeySequence.StandardKey.Delete, QKeySequence("Backspace")])
        delete.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        delete.triggered.connect(self._delete_selected)
        self.view.addAction(delete)

        bar = QHBoxLayout()
        bar.addWidget(self.generator_filter, 1)
        bar.addWidget(self.favourites_only)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.search)
        layout.addWidget(self.view)

    def set_project(self, project: Project | None) -> None:
        self.model.set_project(project)
        self.refresh()

    def on_items_added(self, added: ItemsAdded) -> None:
        self._add_generators({row.generator for row in added.rows})
        self.model.add([row.id for row in added.rows])

    def on_items_restored(self, ids: list[int]) -> None:
        self.model.add(ids)

    def on_items_removed(self, ids: list[int]) -> None:
        self.model.remove(ids)

    def on_items_changed(self, ids: list[int]) -> None:
        self.model.update(ids)

    def _add_generators(self, names: set[str]) -> None:
        known = {self.generator_filter.itemData(i) for i in range(self.generator_filter.count())}
        for name in sorted(names - known):
            self.generator_filter.addItem(name, name)

    def refresh(self) -> None:
        """Re-read the whole project (when it is opened) keeping the filters."""
        current = self.generator_filter.currentData()
        names = self.model.project.generators() if self.model.project is not None else []
        self.generator_filter.blockSignals(True)
        self.generator_filter.clear()
        self.generator_filter.addItem("All generators", None)
        for name in names:
            self.generator_filter.addItem(name, name)
        self.generator_filter.setCurrentIndex(max(0, self.generator_filter.findData(current)))
        self.generator_filter.blockSignals(False)
        self._apply_filters()

    def selected_ids(self) -> list[int]:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        return [self.model.rows[r].id for r in rows]

    def _apply_filters(self) -> None:
        self.model.filters = {
            "generator": self.generator_filter.currentData(),
            "search": self.search.text().strip(),
            "favourites": self.favourites_only.isChecked(),
        }
        self.model.refresh()

    def _delete_selected(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.delete_requested.emit(ids)

    def _menu(self, pos: Any) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        key = index.data(GalleryModel.KeyRole)
        row = self.model.row_of(key)
        ids = self.selected_ids() if key in self.selected_ids() else [key]
        menu = QMenu(self)
        menu.addAction("Show on canvas", lambda: self.activated.emit(key))
        menu.addAction("Re-run", lambda: self.rerun_requested.emit(key))
        menu.addAction("Use this seed", lambda: self.reuse_seed_requested.emit(key))
        menu.addAction("Save image as…", lambda: self.save_requested.emit(key))
        menu.addAction(
            "Export animation (GIF/WebP)…", lambda: self.export_animation_requested.emit(key)
        )
        menu.addSeparator()
        favourite = row is not None and row.favourite
        label = "Remove from favourites" if favourite else "Add to favourites"
        menu.addAction(label, lambda: self.favourite_requested.emit(ids, not favourite))
        menu.addAction(f"Delete {len(ids)} item(s)", lambda: self.delete_requested.emit(ids))
        menu.exec(self.view.viewport().mapToGlobal(pos))
