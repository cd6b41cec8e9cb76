"""Canvas edits and their undo/redo, zoom, fit, and file drops."""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from studio.ui.canvas import ZOOM_LIMITS, CanvasView
from tests.gestures import drag_item


def images(n, size=40):
    return [(Image.new("RGB", (size, size), (i * 40, 0, 0)), i, f"img {i}") for i in range(n)]


def make_canvas(qtbot):
    canvas = CanvasView()
    qtbot.addWidget(canvas)
    canvas.resize(600, 400)
    canvas.show()
    qtbot.waitExposed(canvas)
    canvas.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is canvas)
    return canvas


def test_add_lays_out_a_grid_and_undo_redo_it(qtbot):
    canvas = make_canvas(qtbot)
    items = canvas.add_images(images(4))
    assert len(canvas.image_items()) == 4
    positions = {(i.pos().x(), i.pos().y()) for i in items}
    assert len(positions) == 4  # nothing stacked on top of another
    canvas.undo_stack.undo()
    assert canvas.image_items() == []
    canvas.undo_stack.redo()
    assert len(canvas.image_items()) == 4


def test_new_images_land_beside_existing_ones(qtbot):
    canvas = make_canvas(qtbot)
    (first,) = canvas.add_images(images(1))
    (second,) = canvas.add_images(images(1))
    assert second.sceneBoundingRect().left() > first.sceneBoundingRect().right()


def test_delete_selected_and_undo(qtbot):
    canvas = make_canvas(qtbot)
    items = canvas.add_images(images(3))
    items[1].setSelected(True)
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    assert items[1] not in canvas.image_items() and len(canvas.image_items()) == 2
    canvas.undo_stack.undo()
    assert items[1] in canvas.image_items()


def test_dragging_an_item_moves_it_undoably(qtbot):
    canvas = make_canvas(qtbot)
    (item,) = canvas.add_images(images(1, size=100))
    canvas.reset_zoom()
    before = item.pos()
    drag_item(canvas, item, QPoint(50, 25))
    assert item.pos() != before
    moved = item.pos()
    canvas.undo_stack.undo()
    assert item.pos() == before
    canvas.undo_stack.redo()
    assert item.pos() == moved


def wheel(canvas, delta):
    centre = QPointF(canvas.viewport().rect().center())
    event = QWheelEvent(
        centre,
        canvas.mapToGlobal(centre),
        QPoint(),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    canvas.wheelEvent(event)


def test_wheel_zooms_within_limits(qtbot):
    canvas = make_canvas(qtbot)
    canvas.add_images(images(1))
    wheel(canvas, 120)
    assert abs(canvas.zoom - 1.25) < 1e-6
    for _ in range(100):
        wheel(canvas, 120)
    assert canvas.zoom <= ZOOM_LIMITS[1] + 1e-6
    for _ in range(200):
        wheel(canvas, -120)
    assert canvas.zoom >= ZOOM_LIMITS[0] - 1e-6


def test_fit_all_shows_every_item(qtbot):
    canvas = make_canvas(qtbot)
    items = canvas.add_images(images(9, size=300))
    canvas.fit_all()
    visible = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert all(visible.contains(i.sceneBoundingRect()) for i in items)


def test_dropping_files_reports_paths_and_position(qtbot, tmp_path):
    canvas = make_canvas(qtbot)
    path = tmp_path / "a.png"
    Image.new("RGB", (4, 4)).save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(100, 100),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(canvas.files_dropped) as dropped:
        canvas.dropEvent(event)
    assert dropped.args[0] == [path]
    assert dropped.args[1] == canvas.mapToScene(QPoint(100, 100))


def _drag(canvas, item, to, modifier=Qt.KeyboardModifier.NoModifier):
    start = canvas.mapFromScene(item.sceneBoundingRect().center())
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, modifier, start)
    for step in range(1, 6):
        QTest.mouseMove(canvas.viewport(), start + (to - start) * step / 5)
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, modifier, to)


def test_alt_dragging_an_item_onto_another_asks_for_an_action_and_moves_nothing(qtbot):
    canvas = make_canvas(qtbot)
    source, target = canvas.add_images(images(2, size=100))
    canvas.reset_zoom()
    canvas.centerOn(source.sceneBoundingRect().united(target.sceneBoundingRect()).center())
    before, steps = source.pos(), canvas.undo_stack.count()
    onto = canvas.mapFromScene(target.sceneBoundingRect().center())
    with qtbot.waitSignal(canvas.item_dropped_on, timeout=2000) as signal:
        _drag(canvas, source, onto, Qt.KeyboardModifier.AltModifier)
    assert signal.args == [source, target]
    assert source.pos() == before
    assert canvas.undo_stack.count() == steps


def test_alt_dragging_onto_empty_canvas_is_an_ordinary_move(qtbot):
    canvas = make_canvas(qtbot)
    (item,) = canvas.add_images(images(1, size=100))
    canvas.reset_zoom()
    canvas.centerOn(item)
    before = item.pos()
    start = canvas.mapFromScene(item.sceneBoundingRect().center())
    dropped = []
    canvas.item_dropped_on.connect(lambda *args: dropped.append(args))
    _drag(canvas, item, start + QPoint(120, 0), Qt.KeyboardModifier.AltModifier)
    assert item.pos() != before and not dropped


def _right_drag(canvas, source, to):
    start = canvas.mapFromScene(source.sceneBoundingRect().center())
    viewport = canvas.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, start)
    for step in range(1, 6):  # a hand's drag: several moves on the way
        QTest.mouseMove(viewport, start + (to - start) * step / 5)
    QTest.mouseRelease(viewport, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, to)


def test_right_dragging_a_picture_onto_another_asks_for_an_action_with_feedback(qtbot):
    canvas = make_canvas(qtbot)
    source, target = canvas.add_images(images(2, size=100))
    canvas.reset_zoom()
    canvas.centerOn(source.sceneBoundingRect().united(target.sceneBoundingRect()).center())
    before, steps = source.pos(), canvas.undo_stack.count()
    onto = canvas.mapFromScene(target.sceneBoundingRect().center())
    hints, menus = [], []
    canvas.hint.connect(hints.append)
    canvas.item_menu_requested.connect(lambda item, menu: menus.append(item))
    with qtbot.waitSignal(canvas.item_dropped_on, timeout=2000) as signal:
        _right_drag(canvas, source, onto)
    assert signal.args == [source, target]
    assert any(h.startswith("Release to restyle img 1 with img 0") for h in hints)
    assert source.pos() == before and canvas.undo_stack.count() == steps and menus == []
    assert not target._highlighted  # the feedback ends with the drag


def test_a_right_click_without_a_drag_opens_the_items_menu(qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMenu

    canvas = make_canvas(qtbot)
    (item,) = canvas.add_images(images(1, size=100))
    canvas.reset_zoom()
    canvas.centerOn(item)
    at = canvas.mapFromScene(item.sceneBoundingRect().center())
    shown = []

    def fill(which, menu):
        menu.addAction("something")
        shown.append(which)
        QTimer.singleShot(0, lambda: QApplication.activePopupWidget() and menu.close())

    canvas.item_menu_requested.connect(fill)
    dropped = []
    canvas.item_dropped_on.connect(lambda *args: dropped.append(args))
    QTest.mousePress(
        canvas.viewport(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, at
    )
    QTest.mouseRelease(
        canvas.viewport(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, at
    )
    assert shown == [item] and dropped == [] and item.isSelected()
    assert QMenu  # the menu is Qt's own


def test_results_wrap_into_rows_instead_of_one_endless_strip(qtbot):
    canvas = make_canvas(qtbot)
    for _ in range(30):  # thirty batches of 4 x 4 faces
        canvas.add_images(images(16, size=64))
    canvas.fit_all()
    boxes = [i.sceneBoundingRect() for i in canvas.image_items()]
    width = max(b.right() for b in boxes) - min(b.left() for b in boxes)
    height = max(b.bottom() for b in boxes) - min(b.top() for b in boxes)
    assert width <= 2400 + 4 * 80 and height > 600, (width, height)  # several rows
    assert canvas.zoom > 0.2  # fit-all still shows the faces, not specks
    for n, a in enumerate(boxes):
        assert not any(a.intersects(b) for b in boxes[n + 1 :])


def test_pixels_are_crisp_past_200_percent_and_smooth_below(qtbot):
    from PySide6.QtGui import QImage, QPainter

    canvas = make_canvas(qtbot)
    checker = Image.new("RGB", (4, 4), "black")
    for x in range(4):
        for y in range(4):
            if (x + y) % 2:
                checker.putpixel((x, y), (255, 255, 255))
    (item,) = canvas.add_images([(checker, 1, "checker")])
    item.pixmap()  # decoded now, not on the decoder thread

    def render(zoom):
        target = QImage(40, 40, QImage.Format.Format_RGB32)
        painter = QPainter(target)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)  # as the view does
        painter.scale(zoom, zoom)
        item.paint(painter, None)
        painter.end()
        return [target.pixelColor(x, 5).red() for x in range(int(4 * zoom))]

    crisp = render(10.0)
    assert set(crisp) <= {0, 255}  # only the two colours: nearest neighbour
    smooth = render(1.5)
    assert len(set(smooth)) >= 1
