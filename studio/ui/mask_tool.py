"""Painting an inpainting mask on a canvas image: brush, eraser, size and feather.

The mask is a greyscale image the size of the picture (white: repaint, black: keep), shown as a
red overlay. "Use mask" writes it, feathered, next to the picture's input file and hands both to
the text-to-image form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QBuffer, QIODevice, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from studio.ui.canvas import ImageItem


class MaskItem(QGraphicsItem):
    """The mask over one image item, painted in the item's pixel coordinates."""

    def __init__(self, target: ImageItem) -> None:
        super().__init__(target)
        rect = target.boundingRect()
        self.mask = QImage(
            round(rect.width()), round(rect.height()), QImage.Format.Format_Grayscale8
        )
        self.mask.fill(0)
        self._overlay: QImage | None = None
        self.setZValue(1)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(0, 0, self.mask.width(), self.mask.height())

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        if self._overlay is None:
            overlay = QImage(self.mask.size(), QImage.Format.Format_ARGB32_Premultiplied)
            overlay.fill(QColor(255, 60, 60))
            overlay.setAlphaChannel(self.mask)
            self._overlay = overlay
        painter.setOpacity(0.55)
        painter.drawImage(QPointF(0, 0), self._overlay)

    def stroke(self, a: QPointF, b: QPointF, size: float, erase: bool) -> None:
        painter = QPainter(self.mask)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(0, 0, 0) if erase else QColor(255, 255, 255), size)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        if a == b:  # a click: a round dab (Qt draws nothing for a zero-length line)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pen.color())
            painter.drawEllipse(a, size / 2, size / 2)
        else:
            painter.drawLine(a, b)
        painter.end()
        self._overlay = None
        self.update()

    def clear(self) -> None:
        self.mask.fill(0)
        self._overlay = None
        self.update()

    def set_mask(self, image: QImage) -> None:
        self.mask = image.copy()
        self._overlay = None
        self.update()

    def painted(self) -> bool:
        from studio.ui.qt_convert import qimage_to_array

        return bool(qimage_to_array(self.mask).any())


class _MaskEdit(QUndoCommand):
    """A stroke (or Clear) on the mask, on the canvas's undo stack: Ctrl+Z takes it back.
    Once the mask is used or cancelled, undoing it is a no-op the stack then drops."""

    def __init__(self, tool: MaskTool, overlay: MaskItem, before: QImage, text: str) -> None:
        super().__init__(text)
        self._tool, self._overlay = tool, overlay
        # kept as PNG: a mask is mostly flat, so a 4096² one takes kilobytes, not 16 MB
        self._before, self._after = _pack(before), _pack(overlay.mask)
        self._done = True  # already painted when pushed

    def _live(self) -> bool:
        return self._tool.overlay is self._overlay

    def redo(self) -> None:
        if self._done:
            self._done = False
        elif self._live():
            self._overlay.set_mask(_unpack(self._after))
        else:
            self.setObsolete(True)

    def undo(self) -> None:
        if self._live():
            self._overlay.set_mask(_unpack(self._before))
        else:
            self.setObsolete(True)


def _pack(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG", 100)  # quality 100: fastest zlib level; masks compress anyway
    return bytes(buffer.data())


def _unpack(data: bytes) -> QImage:
    image = QImage()
    image.loadFromData(data, "PNG")
    return image.convertToFormat(QImage.Format.Format_Grayscale8)


class MaskTool(QFrame):
    """The mask bar (two rows floating over the canvas's corner) and the mouse handling while
    a mask is painted on one item."""

    finished = Signal(object, object)  # image item, PIL mask (feathered) or None if cancelled
    status = Signal(str)  # why a mask was not used

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("mask_toolbar")
        self.setAutoFillBackground(True)  # readable over the picture it floats above
        self.setStyleSheet("#mask_toolbar { border: 1px solid #4d5560; border-radius: 4px; }")
        self._rows = [QHBoxLayout(), QHBoxLayout()]
        column = QVBoxLayout(self)
        column.setContentsMargins(8, 4, 8, 4)
        for row in self._rows:
            column.addLayout(row)
        self.item: ImageItem | None = None
        self.overlay: MaskItem | None = None
        self.undo_stack: QUndoStack | None = None  # strokes go on the canvas's stack
        self._last: QPointF | None = None
        self._before: QImage | None = None
        self._row = 0
        self.addWidget(QLabel("Inpainting mask:"))
        self.brush = QToolButton()
        self.brush.setText("Brush")
        self.brush.setCheckable(True)
        self.brush.setChecked(True)
        self.eraser = QToolButton()
        self.eraser.setText("Eraser")
        self.eraser.setCheckable(True)
        self.brush.toggled.connect(lambda on: self.eraser.setChecked(not on))
        self.eraser.toggled.connect(lambda on: self.brush.setChecked(not on))
        self.addWidget(self.brush)
        self.addWidget(self.eraser)
        self._row = 1
        self.size = self._slider("Size", 2, 400, 40)
        self.feather = self._slider("Feather", 0, 100, 8)
        self._row = 0
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        self.use = QPushButton("Use mask")
        self.use.setObjectName("use_mask")
        self.use.clicked.connect(self.accept)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.cancel)
        for widget in (clear, self.use, cancel):
            self.addWidget(widget)
        for row in self._rows:
            row.addStretch(1)
        self.hide()

    def addWidget(self, widget: QWidget) -> None:  # noqa: N802 - as QToolBar names it
        self._rows[self._row].addWidget(widget)

    def _slider(self, label: str, low: int, high: int, value: int) -> QSlider:
        self.addWidget(QLabel(label))
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(low, high)
        slider.setValue(value)
        slider.setFixedWidth(110)
        readout = QLabel(f"{value} px")
        slider.valueChanged.connect(lambda v: readout.setText(f"{v} px"))
        self.addWidget(slider)
        self.addWidget(readout)
        return slider

    @property
    def active(self) -> bool:
        return self.item is not None

    def start(self, item: ImageItem) -> None:
        self.cancel()
        self.item = item
        self.overlay = MaskItem(item)
        self.adjustSize()
        self.move(8, 8)  # floats over the canvas's corner: the canvas keeps its size
        self.raise_()
        self.show()

    # -- mouse, in scene coordinates (the canvas forwards while active)

    def press(self, scene_pos: QPointF) -> bool:
        if self.item is None or not self.item.sceneBoundingRect().contains(scene_pos):
            return False
        self._before = self.overlay.mask.copy()
        self._last = self.item.mapFromScene(scene_pos)
        self._paint(self._last)
        return True

    def drag(self, scene_pos: QPointF) -> bool:
        if self._last is None or self.item is None:
            return False
        self._paint(self.item.mapFromScene(scene_pos))
        return True

    def release(self) -> bool:
        if self._last is None:
            return False
        self._last = None
        self._record("Mask stroke")
        return True

    def clear(self) -> None:
        if self.overlay is None:
            return
        self._before = self.overlay.mask.copy()
        self.overlay.clear()
        self._record("Clear mask")

    def _record(self, text: str) -> None:
        if self.undo_stack is not None and self._before is not None:
            self.undo_stack.push(_MaskEdit(self, self.overlay, self._before, text))
        self._before = None

    def _paint(self, point: QPointF) -> None:
        previous = self._last or point
        self.overlay.stroke(previous, point, self.size.value(), self.eraser.isChecked())
        self._last = point

    # -- ending

    def mask_image(self) -> Any:
        """The painted mask as a PIL image, feathered by the Feather radius."""
        from PIL import Image, ImageFilter

        from studio.ui.qt_convert import qimage_to_array

        mask = Image.fromarray(qimage_to_array(self.overlay.mask)).convert("L")
        radius = self.feather.value()
        return mask.filter(ImageFilter.GaussianBlur(radius)) if radius else mask

    def accept(self) -> None:
        if self.item is None:
            return
        if self.item.scene() is None:  # the picture was deleted while its mask was painted
            self.cancel()
            self.status.emit("The masked image is gone")
            return
        if not self.overlay.painted():
            self.status.emit("Paint the area to repaint first")
            return
        item, mask = self.item, self.mask_image()
        self._end()
        self.finished.emit(item, mask)

    def cancel(self) -> None:
        if self.item is not None:
            self._end()

    def _end(self) -> None:
        if self.overlay is not None and self.overlay.scene() is not None:
            self.overlay.scene().removeItem(self.overlay)
        self.item = self.overlay = None
        self._last = None
        self.hide()
