"""The comparison grid from the Generate panel, as a user drives it: pick parameters, type
values, see the cell count, run; the cells go to the gallery, the one grid to the canvas."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio.ui.canvas import ImageItem
from tests.fakes import Failing, Prompted, Slow, SolidColour


@pytest.fixture
def fakes():
    return {"solid": SolidColour(), "slow": Slow(delay=0.02), "failing": Failing(),
            "prompted": Prompted()}  # fmt: skip


def open_grid(window, qtbot, generator_id: str):
    window.prompt_panel.select(generator_id)
    qtbot.mouseClick(window.prompt_panel.grid_button, Qt.MouseButton.LeftButton)
    dialog = window.grids.dialogs[generator_id]
    qtbot.waitExposed(dialog)
    return dialog


def choose(qtbot, dialog, row: int, title: str, text: str) -> None:
    """Pick the parameter by its title and type its values, as a user does."""
    combo = dialog.params[row]
    combo.setCurrentIndex(combo.findText(title))
    field = dialog.values[row]
    field.setFocus()
    QTest.keyClicks(field, text)


def canvas_keys(window) -> list:
    return [i.key for i in window.canvas.scene_.items() if isinstance(i, ImageItem)]


def test_a_grid_puts_its_cells_in_the_gallery_and_one_grid_on_the_canvas(window, qtbot):
    dialog = open_grid(window, qtbot, "prompted")
    choose(qtbot, dialog, 0, "CFG scale", "3-7 (+2)")
    choose(qtbot, dialog, 1, "Prompt S/R", "an apple, a pear")
    qtbot.waitUntil(lambda: dialog.summary.text().startswith("3 × 2 = 6 cells"), timeout=3000)
    assert dialog.start_button.isEnabled()
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.item is not None, timeout=15_000)
    project = window.session.project
    record = project.record(dialog.item)
    cells = record["grid"]["cells"]
    assert len(cells) == 6 and None not in cells and project.count() == 7
    assert [project.record(c)["params"]["cfg"] for c in cells] == [3.0, 5.0, 7.0] * 2
    assert project.record(cells[4])["params"]["prompt"] == "a man holding a pear, 8k clean"
    qtbot.waitUntil(lambda: dialog.item in canvas_keys(window), timeout=5000)
    assert not set(cells) & set(canvas_keys(window))  # the cells stay off the canvas
    qtbot.waitUntil(lambda: window.gallery.model.rowCount() == 7, timeout=3000)
    assert "on the canvas (6 of 6 cells)" in dialog.status.text()
    jobs = len(window.jobs.statuses)
    with qtbot.waitSignal(window.items.message) as said:  # a grid is not one request
        window.items.rerun(dialog.item)
    assert "is a comparison grid" in said.args[0] and len(window.jobs.statuses) == jobs


def test_a_bad_value_says_why_and_nothing_can_start(window, qtbot):
    dialog = open_grid(window, qtbot, "solid")
    choose(qtbot, dialog, 0, "Size", "8, 600")
    qtbot.waitUntil(lambda: "600 is out of range 1..512" in dialog.summary.text(), timeout=3000)
    assert dialog.summary.text().startswith("X: Size (size)")
    assert not dialog.start_button.isEnabled()
    dialog.values[0].clear()
    QTest.keyClicks(dialog.values[0], "8,16")
    qtbot.waitUntil(lambda: dialog.start_button.isEnabled(), timeout=3000)


def test_cancelling_draws_the_grid_from_the_cells_made(window, qtbot):
    dialog = open_grid(window, qtbot, "slow")
    dialog.set_axis(0, "seed", "1-4")
    dialog.set_axis(1, "steps", "20")
    assert dialog.start() == 4
    qtbot.waitUntil(lambda: dialog.run is not None and dialog.run.done >= 1, timeout=10_000)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.item is not None, timeout=10_000)
    cells = window.session.project.record(dialog.item)["grid"]["cells"]
    assert cells[0] is not None and None in cells
    assert len(window.session.project.queue) == 0  # nothing left to resume


def test_fill_and_swap_as_a1111s_buttons_do(window, qtbot):
    dialog = open_grid(window, qtbot, "prompted")
    choose(qtbot, dialog, 0, "Sampler", "")
    dialog.fill(0)
    assert dialog.values[0].text() == "Euler,DDIM"
    dialog.set_axis(2, "steps", "10-30 [3]")
    qtbot.waitUntil(lambda: dialog.summary.text().startswith("2 × 1 × 3 = 6 cells"), timeout=3000)
    dialog.swap(0, 2)
    assert dialog.params[0].currentData() == "steps" and dialog.values[2].text() == "Euler,DDIM"
    assert dialog.summary.text().startswith("3 × 1 × 2 = 6 cells")
