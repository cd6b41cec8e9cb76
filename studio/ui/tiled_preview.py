"""A picture repeated 3 × 3, to see whether it tiles without a seam."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from studio.ui.qt_convert import to_qimage

TILES = 3
MAX_SIDE = 960  # the preview's side on screen at most; small pictures are enlarged to fit


def tiled_pixmap(image: Any, tiles: int = TILES, side: int = MAX_SIDE) -> QPixmap:
    """`image` repeated tiles × tiles, scaled so the whole is at most `side` pixels a side
    (pixels stay sharp: a tile of 64 px is shown at a whole multiple)."""
    picture = to_qimage(image)
    scale = side / (max(picture.width(), picture.height()) * tiles)
    scale = max(1, int(scale)) if scale >= 1 else scale
    w, h = max(1, round(picture.width() * scale)), max(1, round(picture.height() * scale))
    tile = picture.scaled(
        w,
        h,
        Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.FastTransformation
        if scale >= 1
        else Qt.TransformationMode.SmoothTransformation,
    )
    pixmap = QPixmap(w * tiles, h * tiles)
    painter = QPainter(pixmap)
    for row in range(tiles):
        for column in range(tiles):
            painter.drawImage(column * w, row * h, tile)
    painter.end()
    return pixmap


class TiledPreview(QDialog):
    """Shows one canvas item tiled 3 × 3 (non-modal; closes itself when closed)."""

    def __init__(self, parent: QWidget | None, image: Any, title: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Tiled 3 × 3 · {title}" if title else "Tiled 3 × 3")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        self.view = QLabel()
        self.view.setPixmap(tiled_pixmap(image))
        layout.addWidget(self.view)
        hint = QLabel("Seams show where the picture's edges do not meet; Tileable avoids them.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
