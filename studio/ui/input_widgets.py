"""Form widgets for images: a file field that takes drops and shows the picture, and a grid of
previews to pick and blend styles (a MixParam)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.generator import MixParam, Param, ParamError

THUMB = 44


class PathField(QWidget):
    """A file path with Choose…, that takes a dropped file and shows a small picture of it."""

    changed = Signal()

    def __init__(
        self, spec: Param, images: bool, parent: QWidget | None = None, folder: bool = False
    ) -> None:
        super().__init__(parent)
        self._spec, self._images, self._folder = spec, images, folder
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setStyleSheet("border: 1px dashed #555; color: #888; font-size: 9px;")
        self.thumb.setText("drop")
        self.thumb.setVisible(images)
        self.edit = QLineEdit(str(spec.default or ""))
        what = "folder" if folder else "file"
        self.edit.setPlaceholderText(f"drop a {what} here or choose…")
        self.edit.setToolTip(f"Drop a {what} here, paste its path, or choose one with …")
        self.edit.setClearButtonEnabled(True)
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip(f"Choose a {what}")
        browse.clicked.connect(self._choose)
        self.edit.textChanged.connect(self._on_text)
        layout.addWidget(self.thumb)
        layout.addWidget(self.edit, 1)
        layout.addWidget(browse)
        self.setAcceptDrops(True)

    def value(self) -> str | None:
        return self.edit.text().strip() or None

    def set_value(self, value: Any) -> None:
        self.edit.setText(str(value or ""))

    def _choose(self) -> None:
        from studio.ui import file_dialogs

        start = Path(self.value()) if self.value() else None
        if self._folder:
            chosen = file_dialogs.folder(self, "folders", self._spec.title, start=start)
            if chosen:
                self.edit.setText(str(chosen))
            return
        start = start.parent if start is not None else None
        filters = file_dialogs.IMAGE_FILTER if self._images else "All files (*)"
        purpose = "images" if self._images else "files"
        path = file_dialogs.open_file(self, purpose, self._spec.title, filters, start=start)
        if path:
            self.edit.setText(str(path))

    def _on_text(self) -> None:
        self.edit.setToolTip(self.edit.text())
        if self._images:
            self._show_thumb()
        self.changed.emit()

    def _show_thumb(self) -> None:
        path = self.value()
        reader = QImageReader(path) if path and Path(path).is_file() else None
        if reader is None or not reader.canRead():
            self.thumb.setPixmap(QPixmap())
            self.thumb.setText("drop" if not path else "?")
            return
        size = reader.size()
        if size.isValid() and max(size.width(), size.height()) > THUMB:
            reader.setScaledSize(size.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        self.thumb.setPixmap(QPixmap.fromImage(image) if not image.isNull() else QPixmap())

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.edit.setText(paths[0])


class _Relay(QObject):
    ready = Signal(list)  # QImages


class _Render(QRunnable):
    def __init__(self, make: Callable[[int], list | None], side: int, relay: _Relay) -> None:
        super().__init__()
        self._make, self._side, self._relay = make, side, relay

    def run(self) -> None:
        from studio.ui.qt_convert import to_qimage

        try:
            images = self._make(self._side) or []
        except Exception:  # noqa: BLE001 - without previews the grid shows the labels
            images = []
        qimages = [to_qimage(im) for im in images]
        with contextlib.suppress(RuntimeError):  # the form closed while they were rendering
            self._relay.ready.emit(qimages)


class MixGrid(QWidget):
    """Pick one style with a click, blend several with Ctrl+click; weights in the text field."""

    changed = Signal()

    def __init__(
        self,
        spec: MixParam,
        previews: Callable[[int], list | None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.spec = spec
        self._previews = previews
        self._requested = False
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setIconSize(QSize(72, 48))
        self.list.setGridSize(QSize(82, 84))  # the picture, then "7 Starry blue" on two lines
        self.list.setWordWrap(True)
        self.list.setMinimumHeight(160)
        blank = QPixmap(72, 48)
        blank.fill(Qt.GlobalColor.transparent)  # sizes the cells before the previews arrive
        for index, label in enumerate(spec.labels):
            item = QListWidgetItem(QIcon(blank), f"{index} {label}")
            item.setToolTip(f"{index}: {label}")
            item.setData(Qt.ItemDataRole.UserRole, index)
            self.list.addItem(item)
        self.text = QLineEdit()
        self.text.setPlaceholderText("e.g. 7 or 3:0.5,12:0.5")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addWidget(self.text)
        # The pool is created before the relay, so it is destroyed first: its destructor waits
        # for a render still running, which then emits to a relay that is still there.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.ready.connect(self._set_icons)
        self.list.itemSelectionChanged.connect(self._from_selection)
        self.text.textChanged.connect(self._from_text)
        self.set_value(spec.default)

    def value(self) -> str:
        return self.text.text().strip()

    def set_value(self, value: Any) -> None:
        self.text.setText(str(value if value is not None else ""))

    def showEvent(self, event: Any) -> None:  # noqa: N802 - render previews on first sight
        super().showEvent(event)
        if not self._requested and self._previews is not None:
            self._requested = True
            self._pool.start(_Render(self._previews, 96, self._relay))

    def _set_icons(self, images: list) -> None:
        for index, image in enumerate(images[: self.list.count()]):
            self.list.item(index).setIcon(QIcon(QPixmap.fromImage(image)))

    def _weights(self) -> dict[int, float]:
        try:
            return dict(self.spec.weights(self.value()))
        except ParamError:
            return {}

    def _from_selection(self) -> None:
        chosen = sorted(i.data(Qt.ItemDataRole.UserRole) for i in self.list.selectedItems())
        if not chosen:
            return
        old = self._weights()
        if len(chosen) == 1:
            text = str(chosen[0])
        else:
            fill = sum(old.values()) / len(old) if old else 1.0
            weights = {i: old.get(i, fill) for i in chosen}
            total = sum(weights.values())
            text = ",".join(f"{i}:{round(w / total, 3):g}" for i, w in weights.items())
        if text != self.value():
            self.text.blockSignals(True)
            self.text.setText(text)
            self.text.blockSignals(False)
            self.changed.emit()

    def _from_text(self) -> None:
        weights = self._weights()
        self.list.blockSignals(True)
        for row in range(self.list.count()):
            self.list.item(row).setSelected(row in weights)
        self.list.blockSignals(False)
        self.changed.emit()


class ElidedLabel(QLabel):
    """One line of text that never widens its window: shortened in the middle to fit (the
    whole text in its tooltip), e.g. a long file name."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._full = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        self._full = text
        self.setToolTip(text)
        self._fit()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        elide = Qt.TextElideMode.ElideMiddle
        super().setText(self.fontMetrics().elidedText(self._full, elide, self.width()))
