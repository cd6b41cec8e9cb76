"""The export dialog: exports off the main thread, cancels cleanly, shows errors in place."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from studio.core.batch_export import ExportItem
from studio.ui.export_dialog import ERROR_STYLE, ExportDialog


def make_items(n: int, first_id: int = 1, delay: float = 0.0) -> list[ExportItem]:
    def load(i: int) -> Image.Image:
        time.sleep(delay)
        return Image.new("RGB", (16, 16), (i * 40 % 256, 80, 160))

    def record(i: int) -> dict:
        params = {"prompt": f"tile {i}"}
        return {"generator": "solid", "seed": 500 + i, "params": params, "width": 16, "height": 16}

    return [ExportItem(i, record(i), lambda i=i: load(i)) for i in range(first_id, first_id + n)]


def open_dialog(qtbot, folder: Path, scopes: dict, settings: QSettings | None = None):
    counts = {key: len(items) for key, items in scopes.items()}
    dialog = ExportDialog(None, counts, scopes.__getitem__, folder, settings=settings)
    qtbot.addWidget(dialog)
    return dialog


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def scopes():
    return {"all": make_items(5), "selected": make_items(2, first_id=3), "favourites": []}


def test_exports_the_selected_images_and_reports_them(qtbot, tmp_path, scopes):
    dialog = open_dialog(qtbot, tmp_path / "out", scopes)
    buttons = dialog.scope_buttons
    assert buttons["selected"].isChecked() and buttons["selected"].text() == "Selected (2)"
    assert buttons["all"].text() == "All (5)" and not buttons["favourites"].isEnabled()
    assert dialog.preview_label.text() == "0001-solid-503.png"
    with qtbot.waitSignal(dialog.export_finished, timeout=10_000) as finished:
        dialog.export_button.click()
    report = finished.args[0]
    assert report.error is None and not report.cancelled
    assert files_in(tmp_path / "out") == ["0001-solid-503.png", "0002-solid-504.png"]
    assert [p.name for p in report.written] == files_in(tmp_path / "out")
    assert dialog.progress_bar.value() == 2 and dialog.status_label.text().startswith("Wrote 2")
    assert dialog.export_button.isEnabled() and dialog.cancel_button.text() == "Close"


def test_cancel_stops_between_files_and_shows_what_was_written(qtbot, tmp_path):
    items = make_items(300, delay=0.01)
    dialog = open_dialog(qtbot, tmp_path, {"all": items, "selected": [], "favourites": []})
    seen = []
    dialog.export_finished.connect(seen.append)
    dialog.show()
    dialog.export_button.click()
    assert dialog.running and dialog.cancel_button.text() == "Cancel"
    assert not dialog.format_combo.isEnabled()
    qtbot.waitUntil(lambda: dialog.progress_bar.value() >= 3, timeout=10_000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    (report,) = seen
    assert report.cancelled and report.error is None and 3 <= len(report.written) < 300
    assert files_in(tmp_path) == sorted(p.name for p in report.written)  # nothing half-made
    assert f"{len(report.written)} of 300" in dialog.status_label.text()
    assert dialog.progress_bar.value() == len(report.written) and not dialog.running
    assert dialog.isVisible()  # cancelling the export leaves the dialog open


def test_an_unusable_folder_shows_in_the_status_line(qtbot, tmp_path, scopes):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    dialog = open_dialog(qtbot, tmp_path, scopes)
    dialog.folder_edit.setText(str(blocker))
    with qtbot.waitSignal(dialog.export_finished, timeout=10_000) as finished:
        dialog.export_button.click()
    assert finished.args[0].error and str(blocker) in dialog.status_label.text()
    assert dialog.status_label.styleSheet() == ERROR_STYLE
    assert files_in(tmp_path) == ["a-file"]


def test_controls_follow_the_format(qtbot, tmp_path, scopes):
    dialog = open_dialog(qtbot, tmp_path, scopes)
    quality, lossless = dialog.quality_spin, dialog.lossless_check
    assert not quality.isEnabled() and not lossless.isEnabled()  # PNG
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("jpeg"))
    assert quality.isEnabled() and not lossless.isEnabled()
    assert dialog.preview_label.text().endswith(".jpg")
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("webp"))
    assert quality.isEnabled() and lossless.isEnabled()
    lossless.setChecked(True)
    assert not quality.isEnabled() and dialog.options().lossless
    dialog.quality_slider.setValue(40)
    assert quality.value() == 40


def test_the_preview_follows_the_template_and_refuses_unknown_tokens(qtbot, tmp_path, scopes):
    dialog = open_dialog(qtbot, tmp_path, scopes)
    dialog.scale_spin.setValue(2.0)
    dialog.template_edit.setText("{prompt}-{w}x{h}")
    assert dialog.preview_label.text() == "tile_3-32x32.png"
    dialog.template_edit.setText("{index}-{colour}")
    assert "Unknown token {colour}" in dialog.preview_label.text()
    assert not dialog.export_button.isEnabled()
    assert "{prompt}" in dialog.template_edit.toolTip()


def test_closing_while_exporting_cancels_and_waits(qtbot, tmp_path):
    items = make_items(300, delay=0.01)
    dialog = open_dialog(qtbot, tmp_path, {"all": items, "selected": [], "favourites": []})
    seen = []
    dialog.export_finished.connect(seen.append)
    dialog.show()
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.progress_bar.value() >= 1, timeout=10_000)
    dialog.close()
    assert not dialog.running and len(seen) == 1 and seen[0].cancelled
    assert files_in(tmp_path) == sorted(p.name for p in seen[0].written)
    qtbot.wait(50)  # the worker's own finished signal arrives late and is ignored
    assert len(seen) == 1


def test_settings_remember_folder_format_and_template(qtbot, tmp_path, scopes):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    dialog = open_dialog(qtbot, tmp_path / "first", scopes, settings)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("webp"))
    dialog.template_edit.setText("{seed}")
    dialog.folder_edit.setText(str(tmp_path / "chosen"))
    with qtbot.waitSignal(dialog.export_finished, timeout=10_000):
        dialog.export_button.click()
    again = open_dialog(qtbot, tmp_path / "default", scopes, settings)
    assert again.folder_edit.text() == str(tmp_path / "chosen")
    assert again.format_combo.currentData() == "webp"
    assert again.template_edit.text() == "{seed}"
    assert files_in(tmp_path / "chosen") == ["503.webp", "504.webp"]


def test_typing_a_long_name_template_never_widens_the_dialog(qtbot, tmp_path, scopes):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    dialog = open_dialog(qtbot, tmp_path, scopes)
    dialog.show()
    qtbot.waitExposed(dialog)
    width = dialog.width()
    dialog.template_edit.setFocus()
    QTest.keyClick(dialog.template_edit, Qt.Key.Key_End)
    QTest.keyClicks(dialog.template_edit, "-{prompt}-{model}-{date}-{time}" * 6)
    qtbot.wait(50)
    assert dialog.width() == width
    assert dialog.preview_label.text()  # the first file name is still shown (wrapped/elided)
