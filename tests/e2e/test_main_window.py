"""Drives the real main window like a user: pick, press Ctrl+Enter, see results, cancel, fail."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio.core.jobs import JobState


def press_generate(window):
    QTest.keyClick(
        window.prompt_panel.picker, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier
    )


def test_gan_faces_from_ctrl_enter_to_gallery_and_canvas(window, qtbot):
    window.prompt_panel.select("gan_faces")
    window.prompt_panel.form().set_values({"count": 4, "seed": 7, "size": 128})
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000) as done:
        press_generate(window)
    job = done.args[0]
    assert job.state is JobState.DONE, job.error
    model = window.gallery.model
    assert model.rowCount() == 4
    assert [row.seed for row in model.rows] == [7, 8, 9, 10]
    assert list(job.item_ids) == [row.id for row in model.rows]  # committed to the project
    items = window.canvas.image_items()
    assert sorted(i.key for i in items) == sorted(row.id for row in model.rows)
    assert all(i.pixmap().width() == 128 for i in items)
    assert "upscaled" in items[0].toolTip()
    assert window.queue_panel.state_text(job.id) == "Done"
    assert window.queue_panel.tree.itemWidget(window.queue_panel.rows[job.id], 3) is None


def test_double_click_in_gallery_centres_the_item(window, qtbot):
    window.prompt_panel.select("solid")
    window.prompt_panel.form().set_values({"count": 9, "seed": 1, "size": 200})
    with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000):
        press_generate(window)
    window.canvas.reset_zoom()
    index = window.gallery.model.index(8, 0)
    key = window.gallery.model.rows[8].id
    assert window.gallery.model.rows[8].seed == 9
    view = window.gallery.view
    view.scrollTo(index)
    rect = view.visualRect(index)
    # Qt 6 delivers a double-click only after a first press/release at the same spot
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    (selected,) = window.canvas.selected_items()
    assert selected.key == key
    centre = window.canvas.mapToScene(window.canvas.viewport().rect().center())
    assert selected.sceneBoundingRect().contains(centre)


def test_escape_cancels_a_slow_job_and_leaves_no_result(window, qtbot, fakes):
    window.prompt_panel.select("slow")
    window.prompt_panel.form().set_values({"steps": 5000})
    press_generate(window)
    qtbot.waitUntil(lambda: fakes["slow"].steps_done > 2, timeout=10_000)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000) as done:
        QTest.keyClick(window.canvas, Qt.Key.Key_Escape)
    assert done.args[0].state is JobState.CANCELLED
    assert window.gallery.model.rowCount() == 0 and window.canvas.image_items() == []
    assert fakes["slow"].steps_done < 5000


def test_queue_row_cancel_button_removes_a_waiting_job(window, qtbot, fakes):
    window.prompt_panel.select("slow")
    window.prompt_panel.form().set_values({"steps": 5000})
    press_generate(window)
    qtbot.waitUntil(lambda: window.runner.running is not None, timeout=5_000)
    window.prompt_panel.select("solid")
    press_generate(window)
    waiting = window.runner.queue.waiting()[0]
    button = window.queue_panel.tree.itemWidget(window.queue_panel.rows[waiting.id], 3)
    assert button.text() == "Remove"
    with qtbot.waitSignal(window.jobs.job_finished, timeout=5_000):
        button.click()
    assert waiting.state is JobState.CANCELLED and fakes["solid"].runs == []
    window.runner.cancel_running()
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=10_000)
    assert window.gallery.model.rowCount() == 0


def test_a_failing_generator_shows_its_error_and_the_window_carries_on(window, qtbot):
    window.prompt_panel.select("failing")
    with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000) as done:
        press_generate(window)
    job = done.args[0]
    assert job.state is JobState.FAILED
    assert window.banner.isVisible() and "the model exploded" in window.banner.label.text()
    assert "the model exploded" in window.queue_panel.state_text(job.id)
    window.prompt_panel.select("solid")
    with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000) as again:
        press_generate(window)
    assert again.args[0].state is JobState.DONE and window.gallery.model.rowCount() == 2


def test_a_newer_batch_goes_above_an_older_one(window, qtbot):
    window.prompt_panel.select("solid")
    for seed in (1, 50):
        window.prompt_panel.form().set_values({"count": 2, "seed": seed})
        with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000):
            press_generate(window)
    assert [row.seed for row in window.gallery.model.rows] == [50, 51, 1, 2]


def test_a_value_the_spec_refuses_is_shown_and_nothing_runs(window, qtbot, monkeypatch):
    window.prompt_panel.select("gan_faces")
    form = window.prompt_panel.form()
    # the widgets keep values in range, so hand the spec one it must refuse directly
    monkeypatch.setattr(form, "values", lambda: {"count": 0})
    press_generate(window)
    assert window.prompt_panel.error.isVisible()
    assert "out of range" in window.prompt_panel.error.text()
    assert window.runner.queue.waiting() == [] and window.runner.running is None


def test_interpolation_lands_as_one_strip(window, qtbot):
    window.prompt_panel.select("gan_faces")
    window.prompt_panel.form().set_values(
        {"mode": "interpolate", "seed": 1, "end_seed": 2, "frames": 5}
    )
    assert window.prompt_panel.form()._layout.isRowVisible(
        window.prompt_panel.form().widgets["frames"]
    )
    assert not window.prompt_panel.form()._layout.isRowVisible(
        window.prompt_panel.form().widgets["count"]
    )
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        press_generate(window)
    items = sorted(window.canvas.image_items(), key=lambda i: i.pos().x())
    assert len(items) == 5
    assert len({i.pos().y() for i in items}) == 1  # one row
    assert window.gallery.model.rows[0].caption == "frame 1/5"


def test_export_animation_and_save_from_the_gallery(window, qtbot, tmp_path, monkeypatch):
    from PIL import Image
    from PySide6.QtWidgets import QFileDialog

    window.prompt_panel.select("gan_faces")
    form = window.prompt_panel.form()
    form.set_values({"mode": "interpolate", "seed": 4, "end_seed": 5, "frames": 4})
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000):
        press_generate(window)
    key = window.gallery.model.rows[2].id
    target = tmp_path / "walk.webp"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "Animated WebP (*.webp)")
    )
    window.items.export_animation(key)
    with Image.open(target) as animation:
        assert animation.n_frames == 4
    single = tmp_path / "one.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(single), ""))
    window.items.save_as(key)
    with Image.open(single) as image:
        assert image.size == (64, 64) and "studio" in image.text


def test_a_save_error_goes_to_the_banner(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window.prompt_panel.select("solid")
    with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000):
        press_generate(window)
    blocker = tmp_path / "file"
    blocker.write_text("")
    target = blocker / "x.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.items.save_as(window.gallery.model.rows[0].id)
    assert window.banner.isVisible() and "Cannot write" in window.banner.label.text()


def test_use_this_seed_fills_the_form(window, qtbot):
    window.prompt_panel.select("solid")
    window.prompt_panel.form().set_values({"count": 3, "seed": 40})
    with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000):
        press_generate(window)
    window.prompt_panel.form().set_values({"seed": None})
    window.items.reuse_seed(window.gallery.model.rows[2].id)
    assert window.prompt_panel.form().values()["seed"] == 42


def test_an_unexpected_error_in_a_slot_is_reported_not_fatal(window, qtbot, monkeypatch):
    import sys

    from PySide6.QtCore import QTimer

    monkeypatch.setattr(sys, "excepthook", window.report_unexpected)

    def broken_slot():
        raise ValueError("a bug in a slot")

    QTimer.singleShot(0, broken_slot)
    qtbot.waitUntil(window.banner.isVisible)
    assert "ValueError: a bug in a slot" in window.banner.label.text()
    window.prompt_panel.select("solid")
    with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000) as done:
        press_generate(window)
    assert done.args[0].item_ids


def test_previews_show_in_the_queue_row(window, qtbot):
    window.prompt_panel.select("slow")
    window.prompt_panel.form().set_values({"steps": 30})
    with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000) as done:
        press_generate(window)
    row = window.queue_panel.rows[done.args[0].id]
    assert not row.icon(0).isNull()


def test_new_results_leave_the_view_alone_when_follow_is_off(window, qtbot):
    window.follow_action.setChecked(False)
    window.canvas.reset_zoom()
    before = window.canvas.transform()
    window.prompt_panel.select("solid")
    window.prompt_panel.form().set_values({"count": 16, "size": 300})
    with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000):
        press_generate(window)
    assert window.canvas.transform() == before
    window.follow_action.setChecked(True)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000):
        press_generate(window)
    assert window.canvas.zoom < 1.0  # zoomed out to show the new batch
