"""Style transfer in the window: canvas items as inputs, Alt+drag, the batch dialog."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QMenu

from plugins.style_transfer import samples
from studio.core.jobs import JobState
from studio.ui.image_inputs import inputs_dir


def put_on_canvas(window, image, name):
    key = window.session.project.add_image(image, name)
    return window.canvas.item_for_key(key)  # placed by the project's event


def test_item_menu_offers_the_image_inputs_and_uses_the_items_pixels(window, qtbot):
    photo = samples.photo(120, 80)
    item = put_on_canvas(window, photo, "landscape.png")
    menu = QMenu(window)
    window.inputs.fill_menu(item, menu, window.canvas.delete_action)
    texts = [a.text() for a in menu.actions()]
    assert "Use as Photo (Style transfer)" in texts
    assert "Use as Painting (Style transfer)" in texts
    next(a for a in menu.actions() if a.text() == "Use as Photo (Style transfer)").trigger()
    assert window.prompt_panel.current_id == "style_transfer"
    path = Path(window.prompt_panel.form().values()["image"])
    assert path.parent.parent == inputs_dir() and path.name == "landscape.png"
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), np.asarray(photo))


def test_alt_drag_restyles_the_target_and_puts_the_result_beside_it(window, qtbot):
    target = put_on_canvas(window, samples.photo(96, 64), "photo.png")
    source = put_on_canvas(window, samples.painting(64), "painting.png")
    source.setPos(0, 300)  # out of the way: the result's spot beside the target is free
    window.prompt_panel.select("style_transfer")
    window.prompt_panel.form().set_values({"model": "builtin"})  # takes no painting
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000) as finished:
        window.canvas.item_dropped_on.emit(source, target)
    job = finished.args[0]
    assert job.state is JobState.DONE, job.error
    assert job.request.params["model"] == "arbitrary"
    assert job.parent == target.key
    result = window.canvas.item_for_key(job.item_ids[0])
    assert result is not None
    box, made = target.sceneBoundingRect(), result.sceneBoundingRect()
    assert made.left() > box.right() and abs(made.top() - box.top()) < 1
    assert result.picture.width == 96 and result.picture.height == 64
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000) as again:
        window.canvas.item_dropped_on.emit(source, target)
    second = window.canvas.item_for_key(again.args[0].item_ids[0]).sceneBoundingRect()
    assert second.left() == made.left() and second.top() >= made.bottom()  # never on top


def test_batch_over_a_folder_skips_a_broken_file_and_writes_the_rest(window, qtbot, tmp_path):
    folder, out = tmp_path / "photos", tmp_path / "out"
    (folder / "sub").mkdir(parents=True)
    samples.photo(96, 64).save(folder / "one.png")
    samples.photo(80, 60, seed=2).save(folder / "sub" / "two.jpg")
    (folder / "broken.png").write_bytes(b"not an image")
    window.prompt_panel.select("style_transfer")
    window.prompt_panel.form().set_values({"model": "builtin", "styles": "5"})
    dialog = window.batches.open([folder])
    dialog.recursive.setChecked(True)
    dialog.write.setChecked(True)
    dialog.folder.setText(str(out))
    assert dialog.start() == 2  # the broken file is listed up front, not queued
    assert "broken.png" in dialog.problems.toPlainText()
    assert all("broken" not in s.title for s in window.jobs.statuses.values())
    assert not dialog.start_button.isEnabled()  # one batch at a time
    qtbot.waitUntil(lambda: dialog.succeeded + dialog.failed == 2, timeout=60_000)
    assert dialog.start_button.isEnabled()
    assert (dialog.succeeded, dialog.failed) == (2, 0)
    assert sorted(p.name for p in out.iterdir()) == ["one-styled.png", "two-styled.png"]
    assert Image.open(out / "two-styled.png").size == (80, 60)
    assert dialog.progress.value() == 2
    assert "2 of 2 finished" in dialog.status.text()


def test_batch_refuses_without_images_and_says_why(window, tmp_path):
    window.prompt_panel.select("style_transfer")
    dialog = window.batches.open()
    assert dialog.start() == 0
    assert "Add some images" in dialog.status.text()
    dialog.add_paths([tmp_path])  # an empty folder
    assert dialog.start() == 0


def test_dropping_a_folder_on_the_canvas_opens_the_batch(window, tmp_path):
    samples.photo(64, 48).save(tmp_path / "a.png")
    window.prompt_panel.select("style_transfer")
    window.files.drop([tmp_path], None)
    dialog = window.batches.dialogs["style_transfer"]
    assert dialog.isVisible() and dialog.paths() == [tmp_path]


def test_preferences_set_the_thread_count_for_later_jobs(window, tmp_path):
    from PySide6.QtCore import QSettings

    from studio.ui.preferences import PreferencesDialog, threads_setting

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    dialog = PreferencesDialog(settings, window.executor, window)
    dialog.threads.setValue(1)
    dialog.accept()
    assert window.executor.threads == 1 and threads_setting(settings) == 1
