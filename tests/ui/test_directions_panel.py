"""The Directions panel over a fake walk: sliders render on the panel's thread, names are
saved, and the walked face goes to the form."""

from __future__ import annotations

import threading

import pytest
from PIL import Image

from studio.ui.directions_panel import STEPS_PER_UNIT, DirectionsPanel


class FakeWalk:
    """Paints the first offset as grey level; records what the panel asked for."""

    def __init__(self) -> None:
        self.opened: list[dict] = []
        self.renamed: list[tuple[int, str]] = []
        self.threads: set[str] = set()

    def open(self, values, progress):
        self.threads.add(threading.current_thread().name)
        progress(0, 1)
        progress(1, 1)
        self.opened.append(values)
        return ["Direction 1", "Direction 2", "Direction 3"]

    def render(self, offsets):
        self.threads.add(threading.current_thread().name)
        return Image.new("RGB", (64, 64), (int(100 + 20 * offsets[0]),) * 3)

    def rename(self, index, name):
        self.renamed.append((index, name))

    def values_for(self, offsets):
        return {"seed": 5, "directions": f"0:{offsets[0]:g}"}


@pytest.fixture
def panel(qtbot):
    walk = FakeWalk()
    widget = DirectionsPanel(lambda: walk)
    widget.walk = walk
    qtbot.addWidget(widget, before_close_func=lambda w: w.shutdown())
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


def open_panel(panel, qtbot, values=None):
    panel.walk_from(values or {"seed": 5})
    qtbot.waitUntil(lambda: panel.ready, timeout=5_000)
    qtbot.waitUntil(lambda: not panel.face.pixmap().isNull(), timeout=5_000)


def grey(panel):
    return panel.face.pixmap().toImage().pixelColor(128, 128).red()


def test_the_sliders_move_the_face_rendered_off_the_window_thread(panel, qtbot):
    open_panel(panel, qtbot)
    assert [n.text() for n in panel.names[:3]] == ["Direction 1", "Direction 2", "Direction 3"]
    assert not panel.sliders[3].isVisible()  # only as many sliders as directions
    assert grey(panel) == 100
    with qtbot.waitSignal(panel.face_shown, timeout=5_000) as shown:
        panel.sliders[0].setValue(2 * STEPS_PER_UNIT)
    qtbot.waitUntil(lambda: grey(panel) == 140, timeout=5_000)
    assert shown.args[0] < 1_000 and panel.readouts[0].text() == "+2.00"
    assert threading.main_thread().name not in panel.walk.threads


def test_a_drag_renders_only_the_latest_position(panel, qtbot):
    open_panel(panel, qtbot)
    done = len(panel.render_ms)
    for value in range(0, 3 * STEPS_PER_UNIT + 1):
        panel.sliders[0].setValue(value)
    qtbot.waitUntil(lambda: grey(panel) == 160, timeout=5_000)
    assert len(panel.render_ms) - done < 3 * STEPS_PER_UNIT  # coalesced, not one per tick


def test_names_are_saved_and_the_face_goes_to_the_form(panel, qtbot):
    open_panel(panel, qtbot)
    panel.names[1].setText("smile")
    panel.names[1].editingFinished.emit()
    qtbot.waitUntil(lambda: panel.walk.renamed == [(1, "smile")], timeout=5_000)
    panel.sliders[0].setValue(STEPS_PER_UNIT // 2)
    with qtbot.waitSignal(panel.values_requested, timeout=5_000) as asked:
        panel.use_button.click()
    assert asked.args[0] == {"seed": 5, "directions": "0:0.5"}
    panel.reset()
    assert panel.offsets() == [0.0] * 10


def test_a_walk_that_cannot_open_says_why(qtbot):
    class Broken(FakeWalk):
        def open(self, values, progress):
            raise RuntimeError("no such model 'x'")

    widget = DirectionsPanel(Broken)
    qtbot.addWidget(widget)
    widget.walk_from({})
    qtbot.waitUntil(lambda: "Unavailable" in widget.status.text(), timeout=5_000)
    assert "no such model 'x'" in widget.status.text() and not widget.sliders[0].isEnabled()
    widget.shutdown()
