"""The gallery: whole thumbnails with their captions, tiny images enlarged crisp, and rows
that follow the project's events."""

from __future__ import annotations

from PIL import Image

from studio.core.project import Project
from studio.ui.gallery import THUMB, GalleryPanel


def gallery_over(qtbot, tmp_path, images):
    project = Project.open(tmp_path / "g.studio", create=True)
    for name, image in images:
        project.add_image(image, name)
    panel = GalleryPanel()
    qtbot.addWidget(panel)
    panel.resize(400, 500)
    panel.set_project(project)
    panel.show()
    qtbot.waitExposed(panel)
    return panel, project


def test_every_cell_holds_its_whole_thumbnail_and_a_caption_line(qtbot, tmp_path):
    panel, project = gallery_over(
        qtbot,
        tmp_path,
        [("square.png", Image.new("RGB", (128, 128))), ("wide.png", Image.new("RGB", (300, 100)))],
    )
    line = panel.view.fontMetrics().height()
    for row in range(panel.model.rowCount()):
        rect = panel.view.visualRect(panel.model.index(row))
        assert rect.height() >= THUMB + line
    panel.set_project(None)
    project.close()


def test_a_tiny_image_is_shown_larger_and_crisp(qtbot, tmp_path):
    digit = Image.new("L", (28, 28), 0)
    for x in range(10, 18):
        digit.putpixel((x, 14), 255)
    panel, project = gallery_over(qtbot, tmp_path, [("digit.png", digit.convert("RGB"))])
    pixmap = panel.model.thumbnail(panel.model.rows[0].id)
    assert pixmap.width() == 28 * (THUMB // 28)  # four times larger
    picture = pixmap.toImage()
    colours = {picture.pixelColor(x, 14 * 4 + 1).red() for x in range(pixmap.width())}
    assert colours <= {0, 255} or max(colours) - min(colours) > 200  # hard edges, no blur ramp
    panel.set_project(None)
    project.close()


def test_rows_arrive_and_leave_with_the_projects_events(qtbot, tmp_path):
    panel, project = gallery_over(qtbot, tmp_path, [])
    project.events.items_added.connect(panel.on_items_added)
    project.events.items_removed.connect(panel.on_items_removed)
    first = project.add_image(Image.new("RGB", (8, 8)), "a.png")
    second = project.add_image(Image.new("RGB", (8, 8)), "b.png")
    assert [r.id for r in panel.model.rows] == [second, first]  # newest first
    project.delete([first])
    assert [r.id for r in panel.model.rows] == [second]
    panel.set_project(None)
    project.close()
