"""The Generate panel keeps each form's values, and the generator picked, across restarts."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from studio.ui.prompt_panel import PromptPanel
from tests.fakes import Slow, SolidColour


def panel(qtbot, settings):
    made = PromptPanel([SolidColour(), Slow()], {}, settings=settings)
    qtbot.addWidget(made)
    made.restore_current()
    return made


def test_form_values_and_the_picked_generator_survive_a_restart(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    first = panel(qtbot, settings)
    first.set_values("solid", {"count": 7, "size": 48, "seed": 1234})
    first.set_values("slow", {"steps": 33})
    qtbot.waitUntil(lambda: settings.value("forms/slow") is not None, timeout=2_000)  # saved
    first.select("solid")
    first.save_values()
    settings.sync()
    again = panel(qtbot, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert again.current_id == "solid"
    values = again.form("solid").values()
    assert (values["count"], values["size"], values["seed"]) == (7, 48, 1234)
    assert again.form("slow").values()["steps"] == 33


def test_a_stored_value_the_form_no_longer_has_is_ignored(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("forms/solid", '{"count": 3, "gone": 1}')
    settings.setValue("forms/slow", "not json")
    made = panel(qtbot, settings)
    assert made.form("solid").values()["count"] == 3
    assert made.form("slow").values()["steps"] == 200  # the default
