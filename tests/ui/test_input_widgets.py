"""The style grid (a MixParam) and the image file field."""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest

from studio.core.generator import ImageParam, MixParam
from studio.ui.input_widgets import MixGrid, PathField
from studio.ui.param_form import ParamForm

SPEC = MixParam(name="styles", labels=tuple(f"s{i}" for i in range(6)), default="2")


def click(grid, row, modifier=Qt.KeyboardModifier.NoModifier):
    rect = grid.list.visualItemRect(grid.list.item(row))
    QTest.mouseClick(grid.list.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def test_click_picks_one_style_and_ctrl_click_blends(qtbot):
    grid = MixGrid(SPEC)
    qtbot.addWidget(grid)
    grid.resize(300, 300)
    grid.show()
    assert grid.value() == "2" and grid.list.item(2).isSelected()
    click(grid, 4)
    assert grid.value() == "4"
    click(grid, 1, Qt.KeyboardModifier.ControlModifier)
    assert SPEC.weights(grid.value()) == [(1, 0.5), (4, 0.5)]


def test_typed_weights_select_the_styles_they_name(qtbot):
    grid = MixGrid(SPEC)
    qtbot.addWidget(grid)
    grid.text.setText("0:0.25,5:0.75")
    selected = sorted(i.data(Qt.ItemDataRole.UserRole) for i in grid.list.selectedItems())
    assert selected == [0, 5]
    assert SPEC.validate(grid.value()) == "0:0.25,5:0.75"


def test_previews_become_icons(qtbot):
    shown = []

    def previews(side):
        shown.append(side)
        return [Image.new("RGB", (side, side), (i * 40, 0, 0)) for i in range(6)]

    grid = MixGrid(SPEC, previews)
    qtbot.addWidget(grid)
    assert not shown  # nothing is rendered until the grid is seen
    grid.show()

    def colour():
        return grid.list.item(5).icon().pixmap(8, 8).toImage().pixelColor(4, 4)

    qtbot.waitUntil(lambda: colour().alpha() == 255)
    assert colour().red() == 200 and shown == [96]


def test_form_builds_a_grid_for_a_mix_param_and_reads_its_value(qtbot):
    form = ParamForm([SPEC])
    qtbot.addWidget(form)
    assert isinstance(form.widgets["styles"], MixGrid)
    form.set_values({"styles": "1:1,3:3"})
    assert form.values() == {"styles": "1:1,3:3"}


def test_dropping_a_file_on_an_image_field_fills_it_and_shows_it(qtbot, tmp_path):
    path = tmp_path / "painting.png"
    Image.new("RGB", (120, 80), (10, 200, 30)).save(path)
    field = PathField(ImageParam(name="style_image", role="style", optional=True), images=True)
    qtbot.addWidget(field)
    field.show()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    field.dropEvent(event)
    assert field.value() == str(path)
    thumb = field.thumb.pixmap()
    assert not thumb.isNull() and thumb.width() <= 44
    assert thumb.toImage().pixelColor(thumb.width() // 2, thumb.height() // 2).green() > 150
    field.set_value(str(tmp_path / "missing.png"))
    assert field.thumb.pixmap().isNull() and field.thumb.text() == "?"
