"""What a new user trips over, driven the way a person does it (keys, clicks, drags)."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDoubleSpinBox, QPushButton, QSlider

from studio.core.generator import FloatParam
from studio.ui.param_form import ParamForm


@pytest.mark.parametrize("how", ["escape", "close button", "title bar"])
def test_the_batch_dialog_closes(window, qtbot, how):
    from PySide6.QtWidgets import QApplication

    dialog = window.batches.open()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()  # as a click on it does
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    if how == "escape":
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
    elif how == "close button":
        button = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Close")
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    else:
        dialog.close()  # what the title bar's X asks for
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2_000)
    assert window.batches.open() is dialog  # and it opens again


def test_an_error_raised_inside_a_call_from_qt_logs_where_it_came_from(window, caplog):
    with caplog.at_level(logging.ERROR):
        window.banner.report_unexpected(TypeError, TypeError("'int' object is not callable"), None)
    (record,) = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    text = record.getMessage()
    assert "'int' object is not callable" in text and "File " in text  # a stack, not one line
    assert "Details are in the log" in window.banner.label.text()


def float_form(qtbot, **spec):
    form = ParamForm([FloatParam(name="value", **spec)])
    qtbot.addWidget(form)
    form.show()
    qtbot.waitExposed(form)
    box = form.widgets["value"].findChild(QDoubleSpinBox)
    slider = form.widgets["value"].findChild(QSlider)
    return form, box, slider


def type_into(qtbot, box, text, then=Qt.Key.Key_Tab):
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    QTest.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(box, text)
    QTest.keyClick(box, then)


@pytest.mark.parametrize(
    ("spec", "typed", "wanted"),
    [
        ({"minimum": 0.0, "maximum": 1.0, "decimals": 2, "default": 0.75}, "0.35", 0.35),
        ({"minimum": 1.0, "maximum": 30.0, "decimals": 1, "default": 7.0}, "12.5", 12.5),
        ({"minimum": 0.05, "maximum": 1.0, "decimals": 2, "default": 1.0}, "0.07", 0.07),
        ({"minimum": 0.0, "maximum": 2.0, "decimals": 3, "default": 1.0}, "1.234", 1.234),
    ],
)
@pytest.mark.parametrize("key", [Qt.Key.Key_Tab, Qt.Key.Key_Return])
def test_a_typed_decimal_is_kept_exactly(qtbot, spec, typed, wanted, key):
    form, box, slider = float_form(qtbot, **spec)
    type_into(qtbot, box, typed, key)
    assert form.values()["value"] == pytest.approx(wanted, abs=1e-9)
    assert box.text().replace(",", ".") == typed
    assert slider.value() == round(wanted * 10 ** spec["decimals"])


def test_dragging_the_slider_still_sets_the_value(qtbot):
    form, box, slider = float_form(qtbot, minimum=0.0, maximum=1.0, decimals=2, default=0.5)
    slider.setFocus()
    for _ in range(3):
        QTest.keyClick(slider, Qt.Key.Key_Right)  # a drag moves the same way, one step at a time
    assert form.values()["value"] == pytest.approx(0.53)
    handle = slider.rect().center()
    QTest.mouseClick(slider, Qt.MouseButton.LeftButton, pos=handle)
    assert 0.0 <= form.values()["value"] <= 1.0 and box.value() == form.values()["value"]


def test_escape_says_cancelling_at_once(window, qtbot, fakes):
    from tests.e2e.test_main_window import press_generate

    fakes["slow"].delay = 0.2  # a slow step
    window.prompt_panel.select("slow")
    window.prompt_panel.form().set_values({"steps": 100})
    press_generate(window)
    qtbot.waitUntil(lambda: fakes["slow"].steps_done >= 1, timeout=5_000)
    (job_id,) = list(window.jobs.statuses)
    QTest.keyClick(window.canvas, Qt.Key.Key_Escape)
    assert window.queue_panel.state_text(job_id) == "Cancelling…"  # before the step ends
    assert window.status_label.text().startswith("Cancelling")
    qtbot.waitUntil(lambda: window.queue_panel.state_text(job_id) == "Cancelled", timeout=5_000)
    assert fakes["slow"].steps_done < 5


def test_queue_rows_stay_in_line_when_a_row_gains_a_preview(window, qtbot, fakes):
    from tests.e2e.test_main_window import press_generate

    panel = window.queue_panel
    window.prompt_panel.select("solid")
    press_generate(window)  # a finished row without a preview
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=5_000)
    window.prompt_panel.select("slow")
    window.prompt_panel.form().set_values({"steps": 40})
    for _ in range(3):
        press_generate(window)
    statuses = window.jobs.statuses.values()
    qtbot.waitUntil(lambda: all(s.state.finished for s in statuses), timeout=10_000)
    panel.tree.scrollToTop()
    for job_id, item in panel.rows.items():
        row = panel.tree.visualItemRect(item)
        bar = panel.progress_bar(job_id)
        assert abs(bar.geometry().center().y() - row.center().y()) <= 2, job_id


@pytest.mark.parametrize("row", [0, 2])
def test_a_preview_on_any_row_keeps_every_row_in_line(qtbot, tmp_path, row):
    from PySide6.QtGui import QImage

    from studio.core.generator import Request
    from studio.core.jobs import JobState
    from studio.core.project import Project
    from studio.ui.job_controller import JobStatus
    from studio.ui.queue_panel import QueuePanel

    project = Project.open(tmp_path / "q.studio", create=True)
    panel = QueuePanel()
    qtbot.addWidget(panel)
    panel.resize(700, 300)
    panel.show()
    qtbot.waitExposed(panel)
    jobs = [JobStatus(n, f"job {n}", Request("x", {}, n), project) for n in range(1, 5)]
    for job in jobs:
        panel.add_job(job)
    qtbot.wait(50)  # laid out and painted without previews first
    jobs[row].state, jobs[row].step, jobs[row].total = JobState.RUNNING, 1, 4
    preview = QImage(64, 64, QImage.Format.Format_RGB888)
    preview.fill(0x808080)
    panel.update_job(jobs[row], preview)
    qtbot.wait(50)
    for job in jobs:
        row = panel.tree.visualItemRect(panel.rows[job.id])
        for widget in (panel.progress_bar(job.id), panel.tree.itemWidget(panel.rows[job.id], 3)):
            assert abs(widget.geometry().center().y() - row.center().y()) <= 2, job.title
    project.close()


@pytest.mark.parametrize("key", ["f", "F"])
def test_single_key_shortcuts_do_not_fire_while_typing_in_a_field(window, qtbot, key):
    from PySide6.QtWidgets import QLineEdit

    from studio.core.generator import ModelParam

    window.canvas.add_images([(_image(), None, "a")])
    window.canvas.reset_zoom()
    before = window.canvas.transform()
    form = ParamForm([ModelParam(name="model")])  # an editable model box, as text to image has
    window.prompt_panel.forms.addWidget(form)
    window.prompt_panel.forms.setCurrentWidget(form)
    field = form.widgets["model"].lineEdit()
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    QTest.keyClicks(field, key)
    assert field.text() == key and isinstance(field, QLineEdit)  # the key stayed in the field
    assert window.canvas.transform() == before  # and "fit" did not fire
    window.canvas.setFocus()
    qtbot.waitUntil(window.canvas.hasFocus)
    QTest.keyClick(window.canvas, Qt.Key.Key_F)
    assert window.canvas.transform() != before  # on the canvas, F fits


def test_delete_in_a_field_deletes_text_not_canvas_items(window, qtbot):
    from PySide6.QtWidgets import QLineEdit

    (item,) = window.canvas.add_images([(_image(), None, "a")])
    item.setSelected(True)
    window.gallery.search.setText("abc")
    window.gallery.search.setFocus()
    qtbot.waitUntil(window.gallery.search.hasFocus)
    window.gallery.search.setCursorPosition(0)
    QTest.keyClick(window.gallery.search, Qt.Key.Key_Delete)
    assert window.gallery.search.text() == "bc" and item.scene() is not None
    assert isinstance(window.gallery.search, QLineEdit)


def _image():
    from PIL import Image

    return Image.new("RGB", (300, 200), "teal")


def test_a_picture_with_a_huge_text_chunk_is_dropped_with_a_word_about_it(window, qtbot, tmp_path):
    from tests.core.test_images import _png_with_text
    from tests.e2e.test_drop_images import drop

    path = tmp_path / "from-a1111.png"
    path.write_bytes(_png_with_text(3 << 20))
    drop(window, [path])
    qtbot.waitUntil(lambda: len(window.canvas.image_items()) == 1, timeout=10_000)
    text = window.banner.label.text()
    assert "more than Studio reads" in text and "Decompressed" not in text


def test_queue_rows_with_other_settings_are_told_apart(window, qtbot, fakes):
    from tests.e2e.test_main_window import press_generate

    window.jobs.pause()
    window.prompt_panel.select("solid")
    for size in (16, 32):
        window.prompt_panel.form().set_values({"seed": 5, "count": 1, "size": size})
        press_generate(window)
    titles = [window.queue_panel.rows[i].text(0) for i in window.jobs.waiting_ids()]
    assert titles[0] != titles[1]
    assert titles[0].endswith("size 16") and titles[1].endswith("size 32")
    window.jobs.resume()


def test_copy_a_canvas_picture_and_paste_it_back_as_a_new_one(window, qtbot, project):
    from PySide6.QtWidgets import QApplication

    key = project.add_image(_image(), "teal.png")
    item = window.canvas.item_for_key(key)
    item.setSelected(True)
    window.canvas.setFocus()
    qtbot.waitUntil(window.canvas.hasFocus)
    QTest.keyClick(window.canvas, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    copied = QApplication.clipboard().image()
    assert (copied.width(), copied.height()) == (300, 200)
    QTest.keyClick(window.canvas, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(window.canvas.image_items()) == 2, timeout=10_000)
    pasted = next(i for i in window.canvas.image_items() if i is not item)
    assert pasted.label == "pasted.png" and project.count() == 2
    assert pasted.pixmap().toImage().pixelColor(5, 5) == copied.pixelColor(5, 5)


def test_paste_with_nothing_to_paste_says_so(window, qtbot):
    from PySide6.QtWidgets import QApplication

    QApplication.clipboard().setText("just words")
    window.canvas.setFocus()
    qtbot.waitUntil(window.canvas.hasFocus)
    QTest.keyClick(window.canvas, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert "no image to paste" in window.status_label.text()
