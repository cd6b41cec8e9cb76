"""Projects in the window: nothing lost, the canvas kept, gallery actions, settings restored."""

from __future__ import annotations

from contextlib import closing

import numpy as np
from PySide6.QtCore import QPoint, QSettings

from studio.core.devices import CPU
from studio.core.jobs import Executor, JobState
from studio.core.project import Project
from studio.core.registry import Registry
from studio.ui.main_window import MainWindow
from tests.e2e.test_main_window import press_generate
from tests.gestures import drag_item


def generate(window, qtbot, generator="solid", **values):
    window.prompt_panel.select(generator)
    window.prompt_panel.form().set_values(values)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000) as done:
        press_generate(window)
    assert done.args[0].state is JobState.DONE, done.args[0].error
    return done.args[0]


def second_window(qtbot, models_dir, fakes, project, settings=None):
    registry = Registry().discover(use_entry_points=False)
    for generator in fakes.values():
        registry.register(generator)
    window = MainWindow(
        registry, Executor(registry.get, lambda: CPU, models_dir), models_dir, settings, project
    )
    qtbot.addWidget(window, before_close_func=lambda w: w.jobs.shutdown())
    return window


def test_results_and_canvas_survive_closing_the_window(window, qtbot, project, models_dir, fakes):
    job = generate(window, qtbot, count=3, seed=5)
    item = window.canvas.item_for_key(job.item_ids[1])
    before = item.pos()
    drag_item(window.canvas, item, QPoint(120, -60))
    moved = item.pos()
    assert moved != before
    path = project.path
    window.close()
    reopened = Project.open(path)
    again = second_window(qtbot, models_dir, fakes, reopened)
    assert [row.seed for row in again.gallery.model.rows] == [5, 6, 7]
    restored = again.canvas.item_for_key(job.item_ids[1])
    assert restored.pos() == moved
    assert again.windowTitle().startswith("test")


def test_the_canvas_is_saved_within_a_second_of_a_change(window, qtbot, project):
    job = generate(window, qtbot, count=2, seed=1)
    item = window.canvas.item_for_key(job.item_ids[0])
    drag_item(window.canvas, item, QPoint(-90, 40))
    moved = (item.pos().x(), item.pos().y())

    def stored():
        with closing(Project.open(project.path, read_only=True)) as viewer:
            return {la.item_id: (la.x, la.y) for la in viewer.layout()}

    assert stored().get(job.item_ids[0]) != moved
    qtbot.waitUntil(lambda: stored().get(job.item_ids[0]) == moved, timeout=1_000)


def test_delete_from_the_gallery_and_undo(window, qtbot, project):
    job = generate(window, qtbot, count=3, seed=1)
    window.items.delete(job.item_ids[:2])
    assert [row.id for row in window.gallery.model.rows] == list(job.item_ids[2:])
    assert [i.key for i in window.canvas.image_items()] == list(job.item_ids[2:])
    assert project.count() == 1
    window.undo_stack.undo()
    assert {row.id for row in window.gallery.model.rows} == set(job.item_ids)
    assert {i.key for i in window.canvas.image_items()} == set(job.item_ids)


def test_favourites_filter_and_search(window, qtbot):
    first = generate(window, qtbot, count=2, seed=100)
    generate(window, qtbot, generator="gan_faces", count=1, seed=3)
    window.items.set_favourite([first.item_ids[1]], True)
    gallery = window.gallery
    gallery.favourites_only.setChecked(True)
    assert [row.id for row in gallery.model.rows] == [first.item_ids[1]]
    assert gallery.model.data(gallery.model.index(0, 0)).startswith("★")
    gallery.favourites_only.setChecked(False)
    gallery.generator_filter.setCurrentIndex(gallery.generator_filter.findData("gan_faces"))
    assert [row.generator for row in gallery.model.rows] == ["gan_faces"]
    gallery.generator_filter.setCurrentIndex(0)
    gallery.search.setText("seed 101")
    qtbot.waitUntil(lambda: [row.id for row in gallery.model.rows] == [first.item_ids[1]])


def test_rerun_renders_identical_pixels(window, qtbot, project):
    job = generate(window, qtbot, generator="gan_faces", count=4, seed=77, truncation=0.7)
    original = job.item_ids[2]
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000) as rerun:
        window.items.rerun(original)
    again = rerun.args[0]
    assert again.state is JobState.DONE and len(again.item_ids) == 1
    assert project.record(again.item_ids[0])["seed"] == 79
    same = np.array_equal(
        np.asarray(project.image(original)), np.asarray(project.image(again.item_ids[0]))
    )
    assert same


def test_rerun_of_an_interpolation_frame(window, qtbot, project):
    job = generate(
        window, qtbot, generator="gan_faces", mode="interpolate", seed=1, end_seed=2, frames=5
    )
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000) as rerun:
        window.items.rerun(job.item_ids[3])
    (copy,) = rerun.args[0].item_ids
    assert np.array_equal(
        np.asarray(project.image(job.item_ids[3])), np.asarray(project.image(copy))
    )


def test_dropped_images_are_kept_in_the_project(window, qtbot, project, tmp_path):
    from PIL import Image

    from tests.e2e.test_drop_images import drop

    Image.new("RGB", (20, 10), "orange").save(tmp_path / "photo.png")
    drop(window, [tmp_path / "photo.png"])
    qtbot.waitUntil(lambda: window.files.loader.pending == 0)
    (item,) = window.canvas.image_items()
    assert project.image(item.key).getpixel((1, 1)) == (255, 165, 0)
    assert window.gallery.model.rows[0].caption == "photo.png"


def test_dropping_an_image_on_the_panel_restores_its_settings(window, qtbot, project, tmp_path):
    job = generate(
        window, qtbot, generator="gan_faces", count=2, seed=40, truncation=0.55, size=128
    )
    path = tmp_path / "face.png"
    path.write_bytes(project.png(job.item_ids[1]))
    window.prompt_panel.select("solid")
    window.restorer.restore(path)  # read on a pool thread; the form fills when it is read
    qtbot.waitUntil(lambda: "Restored" in window.banner.label.text())
    values = window.prompt_panel.form().values()
    assert window.prompt_panel.current_id == "gan_faces"
    assert (values["seed"], values["truncation"], values["size"]) == (41, 0.55, 128)
    assert "Restored" in window.banner.label.text()


def test_settings_from_another_tool_say_what_was_not_mapped(window, qtbot, tmp_path):
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(
        "parameters",
        "a castle\nSteps: 20, Sampler: DPM adaptive, CFG scale: 7, Seed: 123, Size: 64x64, "
        "Model: v1-5",
    )
    Image.new("RGB", (64, 64)).save(tmp_path / "a1111.png", pnginfo=info)
    window.prompt_panel.select("gan_faces")
    window.restorer.restore(tmp_path / "a1111.png")
    qtbot.waitUntil(lambda: "Restored" in window.banner.label.text())
    assert window.prompt_panel.current_id == "text_to_image"  # the one that takes a prompt
    assert window.prompt_panel.form().values()["seed"] == 123
    text = window.banner.label.text()
    assert "Not restored" in text and "DPM adaptive" in text  # a sampler Studio does not have
    assert "'v1-5', which is not in your model folders; kept the current model" in text


def test_a_dropped_zip_bomb_says_its_settings_are_too_large(window, qtbot, tmp_path):
    from tests.core.test_metadata_hostile import png_with_chunks, ztxt

    (tmp_path / "bomb.png").write_bytes(png_with_chunks(ztxt("parameters", b"x" * 2**26)))
    window.restorer.restore(tmp_path / "bomb.png")
    qtbot.waitUntil(lambda: "limit" in window.banner.label.text(), timeout=20_000)
    assert window.banner.label.text() == (
        "'bomb.png': The settings text 'parameters' inflates to more than 16 MB, "
        "over Studio's limit of 16 MB; skipped."
    )


def test_a_project_open_elsewhere_is_read_only_and_refuses_to_generate(
    qtbot, models_dir, fakes, project
):
    window = second_window(qtbot, models_dir, fakes, None)
    assert window.session.open(project.path)  # `project` holds the lock: read-only here
    assert window.session.project.read_only
    assert "read-only" in window.windowTitle() and not window.banner.isHidden()
    window.prompt_panel.select("solid")
    assert window.submit(window.prompt_panel.build_request()) is None
    assert "Save As" in window.banner.label.text()


def test_save_as_switches_to_the_copy(window, qtbot, project, tmp_path):
    job = generate(window, qtbot, count=1, seed=9)
    assert window.session.save_as(tmp_path / "copy.studio")
    assert window.session.project.path == tmp_path / "copy.studio"
    assert [row.id for row in window.gallery.model.rows] == list(job.item_ids)
    generate(window, qtbot, count=1, seed=10)
    with closing(Project.open(project.path)) as original:  # the first file is closed and unchanged
        assert original.count() == 1


def test_startup_reopens_the_last_project(qtbot, models_dir, fakes, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    first = second_window(qtbot, models_dir, fakes, None, settings)
    first.session.open_startup(tmp_path / "Untitled.studio")
    assert first.session.project.path == tmp_path / "Untitled.studio"
    first.session.open(tmp_path / "second.studio", create=True)
    first.close()
    again = second_window(qtbot, models_dir, fakes, None, settings)
    again.session.open_startup(tmp_path / "Untitled.studio")
    assert again.session.project.path == tmp_path / "second.studio"


def test_a_bad_project_file_keeps_the_current_one(window, qtbot, project, tmp_path):
    bad = tmp_path / "bad.studio"
    bad.write_text("not a project")
    assert not window.session.open(bad)
    assert window.session.project is project
    assert "not a Studio project" in window.banner.label.text()


def test_export_from_the_window_keeps_metadata(window, qtbot, project, tmp_path):
    from PIL import Image

    from studio.core.metadata import read_studio_record

    job = generate(window, qtbot, count=3, seed=60)
    window.items.set_favourite([job.item_ids[0]], True)
    window.items.export(window.gallery.selected_ids())
    dialog = window.items.export_dialog
    dialog.folder_edit.setText(str(tmp_path / "out"))
    dialog.scope_buttons["favourites"].setChecked(True)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("webp"))
    with qtbot.waitSignal(dialog.export_finished, timeout=20_000) as done:
        dialog.start_export()
    report = done.args[0]
    assert report.error is None and len(report.written) == 1
    with Image.open(report.written[0]) as image:
        assert image.format == "WEBP" and read_studio_record(image)["seed"] == 60


def test_the_window_opens_on_a_project_named_on_the_command_line(
    qtbot, models_dir, fakes, tmp_path
):
    from studio.app import open_first_project

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = second_window(qtbot, models_dir, fakes, None, settings)
    open_first_project(window, tmp_path / "new.studio")
    assert window.session.project.path == tmp_path / "new.studio"
    (tmp_path / "bad.studio").write_text("not a project")
    open_first_project(window, tmp_path / "bad.studio")  # refused: the last one opens instead
    assert window.session.project.path == tmp_path / "new.studio"
    assert "not a Studio project" in window.banner.label.text()
