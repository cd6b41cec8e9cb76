"""The Directions panel: a generator's face moved live along its principal latent directions,
one slider each, each direction named by the user.

The generator offers the walk through `Generator.latent_walk`. Its calls run on this panel's
own thread (never the window's, never the job worker, which may be training); slider moves
are coalesced, so a drag renders only the latest position.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from studio.ui.qt_convert import to_qimage

log = logging.getLogger(__name__)
SLIDERS = 10
STEPS_PER_UNIT = 20  # slider ticks per standard deviation
RANGE = 5.0  # the sliders span ±5 standard deviations
FACE_SIDE = 256


class _WalkWorker(QObject):
    """Lives on the panel thread; holds the walk and answers the panel's requests."""

    opened = Signal(list)  # direction names
    progressed = Signal(int, int)
    failed = Signal(str)
    rendered = Signal(object, float)  # QImage, milliseconds the render took
    values_ready = Signal(dict)

    def __init__(self, make_walk: Callable[[], Any]) -> None:
        super().__init__()
        self._make_walk = make_walk
        self.walk: Any = None
        self._lock = threading.Lock()
        self._offsets: list[float] | None = None

    @Slot(dict)
    def open(self, values: dict) -> None:
        try:
            if self.walk is None:
                self.walk = self._make_walk()
            names = self.walk.open(values, self.progressed.emit)
        except Exception as exc:  # noqa: BLE001 - shown in the panel instead of the face
            log.warning("directions unavailable", exc_info=True)
            self.failed.emit(str(exc))
            return
        self.opened.emit(list(names))

    def want_render(self, offsets: list[float]) -> None:  # any thread
        with self._lock:
            self._offsets = list(offsets)

    @Slot()
    def work(self) -> None:
        while self.walk is not None:
            with self._lock:
                offsets, self._offsets = self._offsets, None
            if offsets is None:
                return
            started = time.perf_counter()
            try:
                image = to_qimage(self.walk.render(offsets))
            except Exception as exc:  # noqa: BLE001
                log.warning("rendering a direction failed", exc_info=True)
                self.failed.emit(str(exc))
                return
            self.rendered.emit(image, (time.perf_counter() - started) * 1000.0)

    @Slot(int, str)
    def rename(self, index: int, name: str) -> None:
        try:
            self.walk.rename(index, name)
        except Exception as exc:  # noqa: BLE001
            log.warning("renaming a direction failed", exc_info=True)
            self.failed.emit(f"The name could not be saved: {exc}")

    @Slot(list)
    def values_for(self, offsets: list) -> None:
        try:
            self.values_ready.emit(dict(self.walk.values_for(offsets)))
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(str(exc))


class DirectionsPanel(QWidget):
    """A face, ten sliders with editable names, and the buttons that tie it to the form."""

    values_requested = Signal(dict)  # form values that make the face shown
    start_requested = Signal()  # the user wants the face the Generate form describes
    face_shown = Signal(float)  # milliseconds from a slider move to the new face on screen

    _open = Signal(dict)
    _kick = Signal()
    _rename = Signal(int, str)
    _values = Signal(list)

    def __init__(self, make_walk: Callable[[], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.face = QLabel()
        self.face.setObjectName("directions_face")
        self.face.setFixedSize(QSize(FACE_SIDE, FACE_SIDE))
        self.face.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.face.setStyleSheet("background: #1b1d21;")
        self.status = QLabel("Open to load the model…")
        self.status.setWordWrap(True)
        self.names: list[QLineEdit] = []
        self.sliders: list[QSlider] = []
        self.readouts: list[QLabel] = []
        grid = QGridLayout()
        for i in range(SLIDERS):
            name = QLineEdit()
            name.setObjectName(f"direction_name_{i}")
            name.setToolTip("Name this direction (saved with the model)")
            name.editingFinished.connect(lambda i=i: self._renamed(i))
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setObjectName(f"direction_{i}")
            slider.setRange(-int(RANGE * STEPS_PER_UNIT), int(RANGE * STEPS_PER_UNIT))
            slider.valueChanged.connect(self._moved)
            readout = QLabel("0.00")
            readout.setMinimumWidth(36)
            for col, widget in enumerate((name, slider, readout)):
                grid.addWidget(widget, i, col)
            self.names.append(name)
            self.sliders.append(slider)
            self.readouts.append(readout)
        grid.setColumnStretch(1, 1)
        self.from_form = QPushButton("From the form")
        self.from_form.setToolTip("Start from the face the Generate form describes")
        self.from_form.clicked.connect(self.start_requested)
        self.reset_button = QPushButton("Reset")
        self.reset_button.clicked.connect(self.reset)
        self.use_button = QPushButton("Use in the form")
        self.use_button.setToolTip("Put this face in the Generate form (then Ctrl+Enter)")
        self.use_button.clicked.connect(lambda: self._values.emit(self.offsets()))
        buttons = QHBoxLayout()
        for button in (self.from_form, self.reset_button, self.use_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.face, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.status)
        layout.addLayout(grid)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._set_enabled(False)

        self._thread = QThread()
        self._thread.setObjectName("studio-directions")
        self._worker = _WalkWorker(make_walk)
        self._worker.moveToThread(self._thread)
        self._open.connect(self._worker.open)
        self._kick.connect(self._worker.work)
        self._rename.connect(self._worker.rename)
        self._values.connect(self._worker.values_for)
        self._worker.opened.connect(self._on_opened)
        self._worker.progressed.connect(self._on_progress)
        self._worker.failed.connect(lambda text: self.status.setText(f"Unavailable: {text}"))
        self._worker.rendered.connect(self._on_rendered)
        self._worker.values_ready.connect(self.values_requested)
        self.ready = False
        self.render_ms: list[float] = []  # the model's own time per face, for the status
        self._moved_at: float | None = None

    def walk_from(self, values: dict) -> None:
        """Load the model and the starting face that generator form `values` describe."""
        if not self._thread.isRunning():
            self._thread.start()
        self.status.setText("Loading the model and its directions…")
        self._open.emit(dict(values))

    def shutdown(self) -> None:
        self._thread.quit()
        self._thread.wait(5_000)

    def offsets(self) -> list[float]:
        return [s.value() / STEPS_PER_UNIT for s in self.sliders]

    def reset(self) -> None:
        for slider in self.sliders:
            slider.blockSignals(True)
            slider.setValue(0)
            slider.blockSignals(False)
        self._moved()

    def _moved(self) -> None:
        offsets = self.offsets()
        for readout, value in zip(self.readouts, offsets, strict=True):
            readout.setText(f"{value:+.2f}")
        if not self.ready:
            return
        self._moved_at = time.perf_counter()
        self._worker.want_render(offsets)
        self._kick.emit()

    def _renamed(self, index: int) -> None:
        if self.ready:
            self._rename.emit(index, self.names[index].text())

    def _on_progress(self, done: int, total: int) -> None:
        if done < total:
            self.status.setText("Finding the principal directions (first time for this model)…")

    def _on_opened(self, names: list) -> None:
        for i, edit in enumerate(self.names):
            edit.setText(names[i] if i < len(names) else "")
            visible = i < len(names)
            for widget in (edit, self.sliders[i], self.readouts[i]):
                widget.setVisible(visible)
        self.ready = True
        self._set_enabled(True)
        self.status.setText(
            f"{len(names)} principal directions (PCA of the first layer). Drag a slider to move "
            "the face; name a direction by typing over it."
        )
        self.reset()

    def _on_rendered(self, image: QImage, ms: float) -> None:
        self.face.setPixmap(
            QPixmap.fromImage(image).scaled(
                self.face.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
        self.render_ms.append(ms)
        if self._moved_at is not None:
            self.face_shown.emit((time.perf_counter() - self._moved_at) * 1000.0)
            self._moved_at = None

    def _set_enabled(self, on: bool) -> None:
        for widget in (*self.sliders, *self.names, self.reset_button, self.use_button):
            widget.setEnabled(on)
