"""Mouse gestures on the canvas as a user makes them (press, several moves, release)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest


def drag_item(canvas, item, by: QPoint, steps: int = 5) -> None:
    """Drag `item` with the left button by `by` view pixels."""
    canvas.centerOn(item)
    start = canvas.mapFromScene(item.sceneBoundingRect().center())
    viewport = canvas.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, steps + 1):
        QTest.mouseMove(viewport, start + by * step / steps)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=start + by)
