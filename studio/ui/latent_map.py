"""The latent map: a 2-D model's decoded manifold, its held-out digits, a live decode under
the mouse, and a drawing pad whose digit lands on the map.

All model calls run on the map's own thread (never the window's, never the job worker, which
may be training): requests are coalesced so a drag decodes only the latest point.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, QThread, Signal, Slot
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from studio.ui.qt_convert import to_qimage

log = logging.getLogger(__name__)
GRID = 20
LABEL_COLOURS = [
    "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231",
    "#911eb4", "#46f0f0", "#f032e6", "#bcf60c", "#fabebe",
]  # fmt: skip


class _MapWorker(QObject):
    """Lives on the map thread; holds the LatentSpace and answers the panel's requests."""

    opened = Signal(object, object, object, object)  # manifold, (lo, hi), points, space
    failed = Signal(str)
    decoded = Signal(float, float, object)  # x, y, QImage
    encoded = Signal(float, float, object)  # x, y, reconstruction QImage

    def __init__(self, open_space: Callable[[], Any]) -> None:
        super().__init__()
        self._open_space = open_space
        self._space: Any = None
        self._lock = threading.Lock()
        self._point: tuple[float, float] | None = None
        self._drawing: Any = None

    @Slot()
    def open(self) -> None:
        try:
            self._space = self._open_space()
            manifold = to_qimage(self._space.manifold(GRID))
            extent = self._space.grid_extent(GRID)
            try:
                points = self._space.heldout_points()
            except Exception:  # noqa: BLE001 - the map still works without the digits
                log.warning("no held-out points for the latent map", exc_info=True)
                points = []
        except Exception as exc:  # noqa: BLE001 - shown in the panel instead of the map
            log.warning("latent map unavailable", exc_info=True)
            self.failed.emit(str(exc))
            return
        self.opened.emit(manifold, extent, points, self._space)

    def want_decode(self, x: float, y: float) -> None:  # any thread
        with self._lock:
            self._point = (x, y)

    def want_encode(self, image: Any) -> None:  # any thread
        with self._lock:
            self._drawing = image

    @Slot()
    def work(self) -> None:
        while self._space is not None:
            with self._lock:
                point, self._point = self._point, None
                drawing, self._drawing = self._drawing, None
            if point is None and drawing is None:
                return
            if point is not None:
                (image,) = self._space.decode([point])
                self.decoded.emit(point[0], point[1], to_qimage(image))
            if drawing is not None:
                x, y = self._space.encode(drawing)
                self.encoded.emit(x, y, to_qimage(self._space.reconstruct(drawing)))


class MapView(QWidget):
    """Paints the manifold with the held-out means on top; click or drag to probe."""

    probed = Signal(float, float)  # latent coordinates under the mouse

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(QSize(260, 260))
        self.manifold: QPixmap | None = None
        self.extent = (-2.0, 2.0)
        self.points: list[tuple[float, float, int]] = []
        self.probe: tuple[float, float] | None = None
        self.drawn: tuple[float, float] | None = None
        self.setMouseTracking(False)

    def square(self) -> QRectF:
        side = min(self.width(), self.height())
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def to_unit(self, x: float, y: float) -> tuple[float, float]:
        """Latent point -> position on the map image, (0, 0) top left, (1, 1) bottom right.

        Linear between the extent's ends unless the space says otherwise (a manifold drawn
        through the normal's quantiles is not linear in z)."""
        lo, hi = self.extent
        return (x - lo) / (hi - lo), (hi - y) / (hi - lo)  # y grows upwards in latent space

    def from_unit(self, u: float, v: float) -> tuple[float, float]:
        lo, hi = self.extent
        return lo + u * (hi - lo), hi - v * (hi - lo)

    def to_latent(self, pos: QPointF) -> tuple[float, float]:
        rect = self.square()
        u = min(max((pos.x() - rect.left()) / rect.width(), 0.0), 1.0)
        v = min(max((pos.y() - rect.top()) / rect.height(), 0.0), 1.0)
        return self.from_unit(u, v)

    def to_screen(self, x: float, y: float) -> QPointF:
        rect = self.square()
        u, v = self.to_unit(x, y)
        return QPointF(rect.left() + u * rect.width(), rect.top() + v * rect.height())

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.square()
        painter.fillRect(self.rect(), QColor("#1b1d21"))
        if self.manifold is not None:
            painter.drawPixmap(rect, self.manifold, QRectF(self.manifold.rect()))
        painter.setClipRect(rect)  # the tails of N(0, 1) fall outside the drawn quantiles
        painter.setPen(Qt.PenStyle.NoPen)
        for x, y, label in self.points:
            painter.setBrush(QColor(LABEL_COLOURS[label % 10]))
            painter.drawEllipse(self.to_screen(x, y), 2.2, 2.2)
        for point, colour in ((self.drawn, "#ffffff"), (self.probe, "#4da3ff")):
            if point is not None:
                painter.setPen(QPen(QColor(colour), 2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(self.to_screen(*point), 7, 7)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._probe_at(event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._probe_at(event.position())

    def _probe_at(self, pos: QPointF) -> None:
        self.probe = self.to_latent(pos)
        self.update()
        self.probed.emit(*self.probe)


class DrawingPad(QWidget):
    """A 280 px pad: white strokes on black, like MNIST; `drawn` fires when a stroke ends."""

    drawn = Signal(object)  # PIL image, 28x28 L

    SIZE = 280

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(QSize(self.SIZE // 2, self.SIZE // 2))
        self.image = QImage(self.SIZE, self.SIZE, QImage.Format.Format_Grayscale8)
        self.clear()
        self._last: QPointF | None = None

    def clear(self) -> None:
        self.image.fill(0)
        self.update()

    def to_pil(self) -> Any:
        from PIL import Image

        rgb = self.image.convertToFormat(QImage.Format.Format_RGB888)
        data = bytes(rgb.constBits())[: rgb.sizeInBytes()]
        pil = Image.frombuffer(
            "RGB", (self.SIZE, self.SIZE), data, "raw", "RGB", rgb.bytesPerLine()
        )
        return pil.convert("L").resize((28, 28), Image.Resampling.BOX)

    def paintEvent(self, _event: Any) -> None:  # noqa: N802
        QPainter(self).drawImage(QRectF(self.rect()), self.image, QRectF(self.image.rect()))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._last = event.position() * 2
        self._stroke(self._last)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._last is not None:
            self._stroke(event.position() * 2)

    def mouseReleaseEvent(self, _event: QMouseEvent) -> None:  # noqa: N802
        self._last = None
        self.drawn.emit(self.to_pil())

    def _stroke(self, to: QPointF) -> None:
        painter = QPainter(self.image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor("white"), 22, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.drawLine(self._last or to, to)
        painter.end()
        self._last = to
        self.update()


class LatentMapPanel(QWidget):
    """The map, a live decode of the probed point, and the drawing pad with its reconstruction."""

    use_drawing = Signal(object)  # PIL image: reconstruct it with the generator

    _open = Signal()
    _kick = Signal()

    def __init__(self, open_space: Callable[[], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.map = MapView()
        self.map.setObjectName("latent_map")
        self.legend = _legend()
        self.status = QLabel("Loading the 2-D model…")
        self.status.setWordWrap(True)
        self.decoded = QLabel()
        self.decoded.setFixedSize(QSize(112, 112))
        self.decoded.setToolTip("The decoder's image at the point under the mouse")
        self.pad = DrawingPad()
        self.pad.setToolTip("Draw a digit; its encoding appears as a white ring on the map")
        self.reconstruction = QLabel()
        self.reconstruction.setFixedSize(QSize(112, 112))
        clear = QPushButton("Clear")
        clear.clicked.connect(self.pad.clear)
        use = QPushButton("Reconstruct in generator")
        use.clicked.connect(lambda: self.use_drawing.emit(self.pad.to_pil()))
        row = QHBoxLayout()
        row.addWidget(self.decoded)
        row.addWidget(self.pad)
        row.addWidget(self.reconstruction)
        buttons = QHBoxLayout()
        buttons.addWidget(clear)
        buttons.addWidget(use)
        layout = QVBoxLayout(self)
        layout.addWidget(self.map, 1)
        layout.addWidget(self.legend)
        layout.addWidget(self.status)
        layout.addLayout(row)
        layout.addLayout(buttons)

        self._thread = QThread()
        self._thread.setObjectName("studio-latent-map")
        self._worker = _MapWorker(open_space)
        self._worker.moveToThread(self._thread)
        self._open.connect(self._worker.open)
        self._kick.connect(self._worker.work)
        self._worker.opened.connect(self._on_opened)
        self._worker.failed.connect(lambda text: self.status.setText(f"Unavailable: {text}"))
        self._worker.decoded.connect(self._on_decoded)
        self._worker.encoded.connect(self._on_encoded)
        self.map.probed.connect(self._probe)
        self.pad.drawn.connect(self._encode)
        self.ready = False  # the thread starts with the first load: none until the map is seen

    def load(self) -> None:
        """Open (or re-open, after training a new model) the 2-D model on the map thread."""
        if not self._thread.isRunning():
            self._thread.start()
        self._open.emit()

    def shutdown(self) -> None:
        self._thread.quit()
        self._thread.wait(5_000)

    def _probe(self, x: float, y: float) -> None:
        self._worker.want_decode(x, y)
        self._kick.emit()

    def _encode(self, image: Any) -> None:
        self._worker.want_encode(image)
        self._kick.emit()

    def _on_opened(self, manifold: QImage, extent: tuple, points: list, space: Any) -> None:
        self.map.manifold = QPixmap.fromImage(manifold)
        self.map.extent = extent
        # Pure arithmetic, safe on this thread: how the space lays its manifold out.
        if hasattr(space, "to_unit") and hasattr(space, "from_unit"):
            self.map.to_unit, self.map.from_unit = space.to_unit, space.from_unit
        self.map.points = points
        self.map.update()
        self.ready = True
        self.status.setText(
            f"{len(points)} held-out digits (coloured by label) over the decoded manifold. "
            "Click or drag to decode; draw a digit to place it."
        )

    def _on_decoded(self, x: float, y: float, image: QImage) -> None:
        self.decoded.setPixmap(QPixmap.fromImage(image).scaled(self.decoded.size()))
        self.decoded.setToolTip(f"z = ({x:.2f}, {y:.2f})")

    def _on_encoded(self, x: float, y: float, image: QImage) -> None:
        self.map.drawn = (x, y)
        self.map.update()
        self.reconstruction.setPixmap(QPixmap.fromImage(image).scaled(self.reconstruction.size()))
        self.reconstruction.setToolTip(f"encoded at z = ({x:.2f}, {y:.2f})")


def _legend() -> QLabel:
    """What the dots' colours mean: the digit each held-out image shows."""
    swatches = " ".join(
        f'<span style="color:{colour}">●</span>&nbsp;{digit}'
        for digit, colour in enumerate(LABEL_COLOURS)
    )
    label = QLabel(f"Held-out digits: {swatches}")
    label.setObjectName("latent_legend")
    label.setToolTip("Each dot is a held-out digit, placed where the encoder puts it")
    return label
