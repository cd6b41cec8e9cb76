"""Every odd image a user may drop lands on the canvas; broken ones get a banner, not a crash."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.odd_images import write_odd_images


def drop(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(200, 150),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.canvas.dropEvent(event)


def test_dropping_odd_and_broken_files(window, qtbot, tmp_path):
    good, bad = write_odd_images(tmp_path / "drops")
    drop(window, sorted((tmp_path / "drops").iterdir()))
    qtbot.waitUntil(lambda: window.files.loader.pending == 0, timeout=20_000)
    items = {item.label: item for item in window.canvas.image_items()}
    assert set(items) == set(good)
    for name, (width, height) in good.items():
        pixmap = items[name].pixmap()
        assert (pixmap.width(), pixmap.height()) == (width, height), name
    assert items["palette.png"].pixmap().hasAlphaChannel()
    assert not items["cmyk.jpg"].pixmap().hasAlphaChannel()
    assert window.banner.isVisible()
    text = window.banner.label.text()
    for name in bad:
        assert name in text
    assert "megapixels" in text and "empty" in text
    window.canvas.undo_stack.undo()  # the window still works: undo the last drop
    assert len(window.canvas.image_items()) == len(good) - 1
