"""The Generate panel offers a generator's presets as buttons; a click fits them to the form."""

from __future__ import annotations

from PySide6.QtCore import Qt

from studio.core.generator import Preset
from studio.ui.prompt_panel import PromptPanel
from tests.fakes import Slow, SolidColour


class WithPresets(SolidColour):
    """Solid colours with a "Small" preset that depends on the form's current count."""

    id = "presets"
    title = "With presets"

    def presets(self, values, models_dir):
        count = int(values.get("count") or 1)
        return [Preset("Small", {"size": 8, "count": count * 2}, note=f"{count * 2} small ones")]


def test_presets_show_for_generators_that_have_them_and_fill_the_form(qtbot):
    panel = PromptPanel([WithPresets(), Slow()], {})
    qtbot.addWidget(panel)
    panel.show()
    panel.select("presets")
    assert list(panel.presets.buttons) == ["Small"] and panel.presets.isVisible()
    panel.set_values("presets", {"count": 3, "size": 100})
    qtbot.mouseClick(panel.presets.buttons["Small"], Qt.MouseButton.LeftButton)
    values = panel.form("presets").values()
    assert (values["size"], values["count"]) == (8, 6)  # fitted to the count it found
    assert panel.notice.isVisible() and panel.notice.text() == "Small: 6 small ones"
    request = panel.build_request()
    assert (request.params["size"], request.params["count"]) == (8, 6)
    panel.select("slow")
    assert panel.presets.buttons == {} and not panel.presets.isVisible()


class BrokenPresets(SolidColour):
    id = "broken"

    def presets(self, values, models_dir):
        raise RuntimeError("no presets today")


def test_a_failing_presets_hook_shows_no_bar_and_no_error(qtbot):
    panel = PromptPanel([BrokenPresets()], {})
    qtbot.addWidget(panel)
    assert panel.presets.buttons == {} and panel.build_request() is not None
