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
    window.canvas.undo_stack.undo()  # the window still works: the drop is one step to undo
    assert window.canvas.image_items() == []


def test_files_dropped_together_are_laid_out_like_results_where_they_were_dropped(
    window, qtbot, tmp_path
):
    from PIL import Image

    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(9):
        Image.new("RGB", (40 + 5 * n, 30 + 3 * n), (20 * n, 90, 160)).save(folder / f"{n}.png")
    drop(window, sorted(folder.iterdir()))
    qtbot.waitUntil(lambda: len(window.canvas.image_items()) == 9, timeout=20_000)
    boxes = [item.sceneBoundingRect() for item in window.canvas.image_items()]
    for n, a in enumerate(boxes):
        assert not any(a.intersects(b) for b in boxes[n + 1 :])  # no two on one spot
    spot = window.canvas.mapToScene(200, 150)
    assert min(b.left() for b in boxes) == spot.x() and min(b.top() for b in boxes) == spot.y()
    rows = {round(b.top()) for b in boxes}
    assert len(rows) == 3  # a 3 x 3 grid, as results are laid out
