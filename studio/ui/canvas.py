"""The canvas: a zoomable, pannable scene of image items with undoable edits."""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPointF, QRectF, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QUndoCommand,
    QUndoStack,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsView, QLabel, QMenu

from studio.core.project import ItemsAdded, Layer
from studio.ui.qt_convert import to_pixmap, to_qimage

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)
GAP = 16.0
DRAG_START_PX = 6  # a right press that moves this far is a drag, not a click
ADD_CHUNK = 64  # items added to the scene per turn of the event loop
ROW_WIDTH = 2400.0  # results wrap to a new row past this width (scene pixels)
ZOOM_STEP = 1.25
PREVIEW_SIDE = 192
ZOOM_LIMITS = (0.02, 64.0)
_item_ids = itertools.count(1)


@dataclass(frozen=True)
class Picture:
    """What an item shows: its size now, its pixels when first painted (`load`)."""

    width: int
    height: int
    load: Callable[[], Image.Image]

    @classmethod
    def of(cls, image: Image.Image) -> Picture:
        return cls(image.width, image.height, lambda: image)


class _Decoded(QObject):
    ready = Signal(object, object, int)  # ImageItem, QImage (null: unreadable), generation


class _Drain(QRunnable):
    """Decodes what the decoder was asked for, newest first, until nothing is left."""

    def __init__(self, decoder: PictureDecoder) -> None:
        super().__init__()
        self._decoder = decoder

    def run(self) -> None:
        from PySide6.QtGui import QImage

        while (asked := self._decoder.next_request()) is not None:
            item, generation = asked
            try:
                image = to_qimage(item.picture.load())
            except Exception:  # noqa: BLE001 - a missing or damaged image shows as a gap
                if generation == self._decoder.generation:
                    log.warning("cannot show canvas item %s", item.key, exc_info=True)
                image = QImage()
            self._decoder.relay.ready.emit(item, image, generation)


class PictureDecoder(QObject):
    """Decodes canvas pictures on a thread of its own, so a paint never waits for pixels: 512
    new results, or a project's canvas, appear as they are decoded instead of in one long
    paint. Asking is cheap (a list append); one task drains the list. `forget()` drops what
    was asked for a canvas that has been cleared (another project opened)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.relay = _Decoded(self)
        self.relay.ready.connect(self._ready)
        self.generation = 0
        self._lock = threading.Lock()
        self._asked: list[tuple[ImageItem, int]] = []
        self._draining = False

    def request(self, item: ImageItem) -> None:
        with self._lock:
            self._asked.append((item, self.generation))
            if self._draining:
                return
            self._draining = True
        self._pool.start(_Drain(self))

    def next_request(self) -> tuple[ImageItem, int] | None:
        with self._lock:
            while self._asked:
                item, generation = self._asked.pop()  # the newest: what the user looks at now
                if generation == self.generation:
                    return item, generation
            self._draining = False
            return None

    def forget(self) -> None:
        with self._lock:
            self.generation += 1
            self._asked.clear()

    def wait(self) -> bool:
        return self._pool.waitForDone(30_000)

    def _ready(self, item: ImageItem, image: Any, generation: int) -> None:
        if generation != self.generation:
            return
        with contextlib.suppress(RuntimeError):  # the item left the canvas meanwhile
            item.set_image(image)


class ImageItem(QGraphicsItem):
    """One image on the canvas; `key` is its project item id.

    The pixels are decoded when the item is first painted (on the canvas's decoder thread),
    so opening a project with a large canvas is quick and items never scrolled into view cost
    nothing; until then a neutral placeholder shows.
    """

    def __init__(self, picture: Picture | Image.Image, key: Any = None, label: str = "") -> None:
        super().__init__()
        self.picture = picture if isinstance(picture, Picture) else Picture.of(picture)
        self.id = next(_item_ids)
        self.key = key
        self.label = label
        self._pixmap: QPixmap | None = None
        self._decoding = False
        self._highlighted = False  # the target of a drag under way
        self.decoder: PictureDecoder | None = None  # set by the canvas that holds it
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
        )
        self.setToolTip(label)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        return QRectF(0, 0, self.picture.width, self.picture.height)

    def pixmap(self) -> QPixmap:
        """The item's pixels now (decoded here if they are not yet)."""
        if self._pixmap is None:
            try:
                self._pixmap = to_pixmap(self.picture.load())
            except Exception:  # noqa: BLE001 - a missing or damaged image shows as a gap
                log.warning("cannot show canvas item %s", self.key, exc_info=True)
                self._pixmap = QPixmap()
        return self._pixmap

    def set_highlighted(self, on: bool) -> None:
        self._highlighted = on
        self.update()

    def set_image(self, image: Any) -> None:
        """Pixels decoded elsewhere (a QImage; null: they could not be read)."""
        self._decoding = False
        if self._pixmap is None:
            self._pixmap = QPixmap.fromImage(image) if not image.isNull() else QPixmap()
            self.update()

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        if self._pixmap is None and self.decoder is not None:
            if not self._decoding:
                self._decoding = True
                self.decoder.request(self)
            painter.fillRect(self.boundingRect(), QColor("#2a2d33"))  # until decoded
            pixmap = None
        else:
            pixmap = self.pixmap()
        if pixmap is None:
            pass
        elif pixmap.isNull():
            painter.fillRect(self.boundingRect(), QColor("#3a2a2a"))
        else:
            # Past 200 % the pixels themselves are the subject: crisp squares, not a blur.
            zoom = painter.worldTransform().m11()  # screen pixels per item unit
            magnified = zoom * self.picture.width / max(1, pixmap.width())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, magnified <= 2.0)
            painter.drawPixmap(self.boundingRect(), pixmap, QRectF(pixmap.rect()))
        if self._highlighted:  # where a drag under way would land
            pen = QPen(QColor("#ffd24d"), 0, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            pen.setWidthF(3.0)
            painter.setPen(pen)
            painter.setBrush(QColor(255, 210, 77, 40))
            painter.drawRect(self.boundingRect())
        if self.isSelected():  # a clear outline instead of Qt's faint dashed box
            pen = QPen(QColor("#4da3ff"), 0)
            pen.setCosmetic(True)
            pen.setWidthF(2.0)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.boundingRect())


# ---------------------------------------------------------------- undo commands


class _AddItems(QUndoCommand):
    """Adds items to the scene; many (a batch of 512 faces) go in a chunk per turn of the event
    loop, so the window keeps drawing and answering meanwhile."""

    def __init__(
        self,
        scene: QGraphicsScene,
        items: Sequence[ImageItem],
        text: str,
        alive: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(text)
        self._scene, self._items, self._alive = scene, list(items), alive
        self._added = 0
        self._turn = 0  # a newer redo/undo ends the chunks of an older one

    def redo(self) -> None:
        self._turn += 1
        self._added = 0
        self._add_chunk(self._turn)

    def _add_chunk(self, turn: int) -> None:
        if turn != self._turn or not self._alive():  # undone, or the canvas was cleared
            return
        for item in self._items[self._added : self._added + ADD_CHUNK]:
            self._scene.addItem(item)
        self._added = min(len(self._items), self._added + ADD_CHUNK)
        self._scene.update()  # the empty-canvas hint covers the whole view
        if self._added < len(self._items):
            QTimer.singleShot(0, lambda: self._add_chunk(turn))

    def undo(self) -> None:
        self._turn += 1
        for item in self._items[: self._added]:
            self._scene.removeItem(item)
        self._added = 0
        self._scene.update()


class _RemoveItems(QUndoCommand):
    def __init__(self, scene: QGraphicsScene, items: Sequence[ImageItem], text: str) -> None:
        super().__init__(text)
        self._scene, self._items = scene, list(items)

    def redo(self) -> None:
        for item in self._items:
            self._scene.removeItem(item)
        self._scene.update()

    def undo(self) -> None:
        for item in self._items:
            self._scene.addItem(item)
        self._scene.update()


class _MoveItems(QUndoCommand):
    def __init__(self, moves: list[tuple[ImageItem, QPointF, QPointF]]) -> None:
        super().__init__(f"Move {len(moves)} item(s)")
        self._moves = moves
        self._first = True

    def redo(self) -> None:
        if self._first:  # the items are already where the mouse left them
            self._first = False
            return
        for item, _old, new in self._moves:
            item.setPos(new)

    def undo(self) -> None:
        for item, old, _new in self._moves:
            item.setPos(old)


# ---------------------------------------------------------------- view


class CanvasView(QGraphicsView):
    """Wheel zooms around the cursor, middle button or Space+drag pans, F fits."""

    files_dropped = Signal(list, QPointF)  # paths, scene position
    zoom_changed = Signal(float)
    item_dropped_on = Signal(object, object)  # a right-drag (or Alt+drag): source, target
    hint = Signal(str)  # what the gesture under way will do, for the status bar
    item_menu_requested = Signal(object, object)  # item, QMenu to fill (then shown)

    def __init__(self, undo_stack: QUndoStack | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        # Parented, so it dies with the view on this thread: a scene left to Python's garbage
        # collector may be destroyed on whichever thread collects, with its timers live.
        self.scene_ = QGraphicsScene(self)
        self.setScene(self.scene_)
        self.undo_stack = undo_stack or QUndoStack(self)
        self.setRenderHints(
            QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing
        )
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setBackgroundBrush(QBrush(QColor("#1b1d21")))
        self.setAcceptDrops(True)
        # panning is by middle button or Space+drag, so scroll bars would only take room
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSceneRect(QRectF(-1e6, -1e6, 2e6, 2e6))
        self.delete_action = QAction("&Delete from canvas", self)
        self.delete_action.setShortcuts(
            [QKeySequence.StandardKey.Delete, QKeySequence("Backspace")]
        )
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.delete_action.triggered.connect(self.remove_selected)
        self.addAction(self.delete_action)
        self._pressed: dict[ImageItem, QPointF] = {}
        self._panning: QPointF | None = None
        self._space = False
        self._alt_drag = False
        self._use: tuple[ImageItem, QPointF] | None = None  # right button pressed on an item
        self._dragging = False
        self._target: ImageItem | None = None
        self._stash: dict[Any, ImageItem] = {}  # items their project deleted (undo brings back)
        self._epoch = 0  # bumped when the canvas is cleared (another project is opened)
        self._row_top: float | None = None  # the row new results are being placed in
        self.mask_tool: Any = None  # while a mask is painted, the left button paints
        self.decoder = PictureDecoder(self)
        self.preview = QLabel(self)  # the running job's latest preview, in a corner
        self.preview.setObjectName("live_preview")
        self.preview.setStyleSheet("#live_preview { border: 1px solid #4d5560; background: #111; }")
        self.preview.hide()

    # -- content

    def image_items(self) -> list[ImageItem]:
        return [i for i in self.scene_.items() if isinstance(i, ImageItem)]

    def copy_selected(self) -> bool:
        """The selected picture onto the clipboard (the first, if several are selected)."""
        from PySide6.QtWidgets import QApplication

        items = self.selected_items()
        if not items:
            return False
        QApplication.clipboard().setImage(items[0].pixmap().toImage())
        return True

    def paste_point(self) -> QPointF:
        """Where a paste lands: under the mouse when it is over the canvas, else the middle."""
        from PySide6.QtGui import QCursor

        inside = self.viewport().mapFromGlobal(QCursor.pos())
        where = (
            inside if self.viewport().rect().contains(inside) else self.viewport().rect().center()
        )
        return self.mapToScene(where)

    def select_all(self) -> None:
        for item in self.image_items():
            item.setSelected(True)

    def selected_items(self) -> list[ImageItem]:
        return [i for i in self.scene_.selectedItems() if isinstance(i, ImageItem)]

    def add_images(
        self,
        entries: Iterable[tuple[Picture | Image.Image, Any, str]],
        at: QPointF | None = None,
        columns: int | None = None,
        text: str = "Add images",
    ) -> list[ImageItem]:
        """Add (image, key, label) entries as a grid right of the content (or at `at`)."""
        items = [self._item(image, key, label) for image, key, label in entries]
        if not items:
            return []
        columns = columns or max(1, math.ceil(math.sqrt(len(items))))
        cell_w = max(i.boundingRect().width() for i in items) + GAP
        cell_h = max(i.boundingRect().height() for i in items) + GAP
        origin = at if at is not None else self._free_spot(min(columns, len(items)) * cell_w)
        top_z = max((i.zValue() for i in self.image_items()), default=0.0)
        for n, item in enumerate(items):
            row, col = divmod(n, columns)
            item.setPos(origin + QPointF(col * cell_w, row * cell_h))
            item.setZValue(top_z + 1 + n)
        epoch = self._epoch
        self.undo_stack.push(_AddItems(self.scene_, items, text, lambda: self._epoch == epoch))
        return items

    def place(
        self, added: ItemsAdded, entries_for: Callable[[list[int]], list[tuple[Picture, str]]]
    ) -> list[ImageItem]:
        """New project items: beside the item they were made from (below earlier results of
        it), else where they were dropped, else right of everything; a strip in one row.
        `entries_for(item ids)` gives each one's picture and label."""
        present = {item.key for item in self.image_items()}
        rows = [row for row in added.rows if row.id not in present]
        if not rows:
            return []
        at = QPointF(*added.at) if added.at is not None else None
        source = self.item_for_key(added.parent) if added.parent is not None else None
        if source is not None:
            box = source.sceneBoundingRect()
            at = QPointF(box.right() + GAP, box.top())
            others = [i.sceneBoundingRect() for i in self.image_items()]
            for _ in range(100):  # below earlier results made from the same item
                spot = QRectF(at.x(), at.y(), rows[0].width, rows[0].height)
                if not any(spot.intersects(o) for o in others):
                    break
                at = QPointF(at.x(), at.y() + rows[0].height + GAP)
        return self.add_images(
            [
                (picture, row.id, label)
                for row, (picture, label) in zip(
                    rows, entries_for([r.id for r in rows]), strict=True
                )
            ],
            at=at,
            columns=len(rows) if added.strip else None,
            text=f"Add {len(rows)} result(s)",
        )

    def take_removed(self, keys: Iterable[Any]) -> None:
        """Items their project deleted leave the canvas, kept aside until restored."""
        wanted = set(keys)
        for item in self.image_items():
            if item.key in wanted:
                self.scene_.removeItem(item)
                self._stash[item.key] = item
        self.scene_.update()

    def bring_back(self, keys: Iterable[Any]) -> None:
        for key in keys:
            item = self._stash.pop(key, None)
            if item is not None:
                self.scene_.addItem(item)

    def _item(self, picture: Picture | Image.Image, key: Any, label: str) -> ImageItem:
        item = ImageItem(picture, key, label)
        item.decoder = self.decoder
        return item

    def layers(self) -> list[Layer]:
        """The canvas as the project stores it (items without a project id are skipped)."""
        return [
            Layer(i.key, i.pos().x(), i.pos().y(), i.scale(), i.zValue(), i.isVisible(), i.label)
            for i in self.image_items()
            if isinstance(i.key, int)
        ]

    def restore(self, layers: Sequence[Layer], picture_for: Callable[[int], Picture]) -> None:
        """Replace the canvas with stored layers (not undoable: this is opening a project)."""
        self.clear()
        for layer in layers:
            item = self._item(picture_for(layer.item_id), layer.item_id, layer.name)
            item.setPos(layer.x, layer.y)
            item.setScale(layer.scale)
            item.setZValue(layer.z)
            item.setVisible(layer.visible)
            self.scene_.addItem(item)
        self.scene_.update()

    def clear(self) -> None:
        self._epoch += 1  # items still being added in chunks stop coming
        self._row_top = None
        self.decoder.forget()
        for item in self.image_items():
            self.scene_.removeItem(item)
        self._stash.clear()
        self.scene_.update()

    def remove_selected(self) -> int:
        items = self.selected_items()
        if items:
            self.undo_stack.push(_RemoveItems(self.scene_, items, f"Delete {len(items)} item(s)"))
        return len(items)

    def item_for_key(self, key: Any) -> ImageItem | None:
        return next((i for i in self.image_items() if i.key == key), None)

    def centre_on(self, item: ImageItem) -> None:
        self.scene_.clearSelection()
        item.setSelected(True)
        rect = item.sceneBoundingRect()
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        if rect.width() > visible.width() or rect.height() > visible.height():
            self.fit_rect(rect)
        self.centerOn(item)

    def fit_all(self) -> None:
        self.fit_items(self.image_items())

    def fit_items(self, items: Sequence[ImageItem]) -> None:
        if items:
            rect = items[0].sceneBoundingRect()
            for item in items[1:]:
                rect = rect.united(item.sceneBoundingRect())
            self.fit_rect(rect)

    def fit_rect(self, rect: QRectF) -> None:
        margin = max(rect.width(), rect.height()) * 0.04 + 8
        self.fitInView(
            rect.adjusted(-margin, -margin, margin, margin), Qt.AspectRatioMode.KeepAspectRatio
        )
        self._clamp_zoom()
        self.zoom_changed.emit(self.zoom)

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        low, high = ZOOM_LIMITS
        factor = max(low / self.zoom, min(high / self.zoom, factor))
        self.scale(factor, factor)
        self.zoom_changed.emit(self.zoom)

    def reset_zoom(self) -> None:
        self.zoom_by(1.0 / self.zoom)

    def _clamp_zoom(self) -> None:
        low, high = ZOOM_LIMITS
        if not low <= self.zoom <= high:
            self.zoom_by(1.0)

    def _free_spot(self, width: float = 0.0) -> QPointF:
        """Right of the row results are being placed in, or, when that row would grow past
        `ROW_WIDTH` (or four such blocks), the start of a new row below everything: results
        wrap instead of forming one ever-longer strip."""
        boxes = [i.sceneBoundingRect() for i in self.image_items()]
        if not boxes:
            self._row_top = 0.0
            return QPointF(0, 0)
        left = min(b.left() for b in boxes)
        row = [b for b in boxes if self._row_top is not None and b.top() >= self._row_top]
        if row:
            right = max(b.right() for b in row)
            if right + GAP * 3 + width - left <= max(ROW_WIDTH, 4 * width):
                return QPointF(right + GAP * 3, self._row_top)
        self._row_top = max(b.bottom() for b in boxes) + GAP * 3
        return QPointF(left, self._row_top)

    def show_preview(self, image: Any, caption: str = "") -> None:
        """The running job's latest preview (a QImage) in the bottom-right corner, over the
        canvas (the canvas keeps its size); None hides it."""
        if image is None:
            self.preview.clear()
            self.preview.hide()
            return
        pixmap = QPixmap.fromImage(image).scaled(
            PREVIEW_SIDE,
            PREVIEW_SIDE,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.preview.setPixmap(pixmap)
        self.preview.setToolTip(f"Preview, {caption}" if caption else "Preview")
        self.preview.adjustSize()
        self._place_preview()
        self.preview.show()
        self.preview.raise_()

    def _place_preview(self) -> None:
        area = self.viewport().geometry()
        size = self.preview.size()
        self.preview.move(area.right() - size.width() - 8, area.bottom() - size.height() - 8)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._place_preview()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        if self.image_items():
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(QColor("#6c7078"))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        painter.setFont(font)
        painter.drawText(
            self.viewport().rect(),
            Qt.AlignmentFlag.AlignCenter,
            "Pick a generator and press Ctrl+Enter,\nor drop images here.",
        )
        painter.restore()

    # -- input

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(ZOOM_STEP**steps)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
        super().keyReleaseEvent(event)

    def _masking(self) -> bool:
        return self.mask_tool is not None and self.mask_tool.active

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if (
            self._masking()
            and event.button() == Qt.MouseButton.LeftButton
            and not self._space
            and self.mask_tool.press(self.mapToScene(event.position().toPoint()))
        ):
            event.accept()
            return
        pan = event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space
        )
        if pan:
            self._panning = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.RightButton:
            # Right-drag one picture onto another (Alt+drag is the window manager's move on
            # most Linux desktops); a right click without a drag opens the item's menu.
            item = self._item_under(event.position().toPoint())
            self._use = (item, event.position()) if item is not None else None
            self._dragging = False
            event.accept()
            return
        super().mousePressEvent(event)
        self._pressed = {item: item.pos() for item in self.selected_items()}
        self._alt_drag = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._masking() and self.mask_tool.drag(self.mapToScene(event.position().toPoint())):
            event.accept()
            return
        if self._use is not None:
            self._drag_to(event.position())
            event.accept()
            return
        if self._panning is not None:
            delta = event.position() - self._panning
            self._panning = event.position()
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - round(delta.x()))
            v.setValue(v.value() - round(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._masking() and self.mask_tool.release():
            event.accept()
            return
        if event.button() == Qt.MouseButton.RightButton:
            self._end_use(event)
            return
        if self._panning is not None:
            self._panning = None
            if self._space:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)
        moves = [
            (item, old, item.pos()) for item, old in self._pressed.items() if item.pos() != old
        ]
        self._pressed = {}
        if self._alt_drag and len(moves) == 1:
            source, old, _new = moves[0]
            target = self._item_under(event.position().toPoint(), exclude=source)
            if target is not None:  # Alt+drag onto another item: an action, not a move
                source.setPos(old)
                self.item_dropped_on.emit(source, target)
                return
        if moves:
            self.undo_stack.push(_MoveItems(moves))

    def _drag_to(self, position: QPointF) -> None:
        source, start = self._use
        if not self._dragging:
            if (position - start).manhattanLength() < DRAG_START_PX:
                return
            self._dragging = True
            self.viewport().setCursor(Qt.CursorShape.DragCopyCursor)
        target = self._item_under(position.toPoint(), exclude=source)
        if target is not self._target:
            for item in (self._target, target):
                if item is not None:
                    item.set_highlighted(item is target)
            self._target = target
        label = (source.label or "this picture").splitlines()[0]
        self.hint.emit(
            f"Release on a picture to restyle it with {label}"
            if target is None
            else f"Release to restyle {(target.label or 'it').splitlines()[0]} with {label}"
        )

    def _end_use(self, event: QMouseEvent) -> None:
        use, dragging, target = self._use, self._dragging, self._target
        self._use, self._dragging, self._target = None, False, None
        self.viewport().unsetCursor()
        event.accept()
        if target is not None:
            target.set_highlighted(False)
        if use is None:
            return
        if not dragging:
            self._show_menu(use[0], event.globalPosition().toPoint())
        elif target is not None:
            self.hint.emit("")
            self.item_dropped_on.emit(use[0], target)
        else:
            self.hint.emit("")

    def _item_under(self, point: Any, exclude: ImageItem | None = None) -> ImageItem | None:
        for item in self.items(point):
            if isinstance(item, ImageItem) and item is not exclude and item.isVisible():
                return item
        return None

    def contextMenuEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        if event.reason() == event.Reason.Mouse:  # shown on release, unless it was a drag
            return
        item = self._item_under(event.pos())
        if item is not None:
            self._show_menu(item, event.globalPos())

    def _show_menu(self, item: ImageItem, where: Any) -> None:
        if not item.isSelected():
            self.scene_.clearSelection()
            item.setSelected(True)
        menu = QMenu(self)
        self.item_menu_requested.emit(item, menu)
        if not menu.isEmpty():
            menu.exec(where)

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            super().dropEvent(event)
            return
        event.acceptProposedAction()
        self.files_dropped.emit(paths, self.mapToScene(event.position().toPoint()))
