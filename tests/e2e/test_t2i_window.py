"""Text to image in the window: adding models by dropping them, painting a mask, a job with
previews, and the generated image on the canvas."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from studio.core import config
from studio.core.jobs import JobState


def scanned(qtbot, window):
    """Models are listed from a background thread: wait until the form has them."""
    form = window.prompt_panel.form("text_to_image")
    qtbot.waitUntil(lambda: form.scanning == 0, timeout=20_000)
    return form


def test_dropping_a_model_folder_adds_it_to_the_models_and_the_form(
    window, qtbot, clean_config, tiny_model
):
    window.files.drop([tiny_model], None)
    scanned(qtbot, window)
    assert tiny_model in config.model_paths()
    assert window.prompt_panel.current_id == "text_to_image"
    combo = window.prompt_panel.form().widgets["model"]
    labels = [combo.itemText(i) for i in range(combo.count())]
    assert any(text.startswith("tiny-sd · SD 1.x") for text in labels)
    assert window.prompt_panel.form().values()["model"] == str(tiny_model)
    assert window.prompt_panel.form().values()["lora"] is None  # optional: "None" first
    window.files.drop([tiny_model], None)
    scanned(qtbot, window)
    assert config.model_paths().count(tiny_model) == 1
    assert "already" in window.status_label.text()


def test_a_text_to_image_job_reports_previews_and_lands_on_the_canvas(
    window, qtbot, clean_config, tiny_model
):
    window.executor.threads = 1
    window.add_models([tiny_model])
    form = scanned(qtbot, window)
    form.set_values({"prompt": "a cat", "steps": 4, "width": 64, "height": 64, "seed": 5})
    previews, shown = [], []

    def watch(_job, image):
        previews.append(image)
        shown.append(window.canvas.preview.isVisible())

    window.jobs.job_changed.connect(watch)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=120_000) as finished:
        window.prompt_panel.request_generate()
    job = finished.args[0]
    assert job.state is JobState.DONE, job.error
    assert any(p is not None for p in previews)
    assert any(shown) and not window.canvas.preview.isVisible()  # live, then hidden
    item = window.canvas.item_for_key(job.item_ids[0])
    assert item is not None and (item.picture.width, item.picture.height) == (64, 64)


def test_painting_a_mask_sets_up_inpainting(window, qtbot, clean_config):
    image = Image.new("RGB", (200, 120), (30, 90, 200))
    key = window.session.project.add_image(image, "sky.png")
    item = window.canvas.item_for_key(key)
    canvas = window.canvas
    canvas.reset_zoom()
    canvas.centerOn(item)
    before = item.pos()
    window.mask_tool.start(item)
    window.mask_tool.feather.setValue(0)
    window.mask_tool.size.setValue(20)
    start = canvas.mapFromScene(item.mapToScene(40, 60))
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 9):
        QTest.mouseMove(canvas.viewport(), start + QPoint(step * 10, 0))
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(80, 0))
    assert item.pos() == before  # the item did not move while painting
    mask = np.asarray(window.mask_tool.mask_image())
    assert mask[60, 40:120].min() == 255 and mask[5, 5] == 0 and mask[60, 190] == 0
    window.mask_tool.eraser.setChecked(True)
    window.mask_tool.press(item.mapToScene(60, 60))
    window.mask_tool.release()
    assert np.asarray(window.mask_tool.mask_image())[60, 60] == 0
    window.mask_tool.feather.setValue(6)
    window.mask_tool.use.click()
    assert not window.mask_tool.active
    values = window.prompt_panel.form("text_to_image").values()
    assert window.prompt_panel.current_id == "text_to_image"
    saved = np.asarray(Image.open(values["mask"]))
    assert saved.shape == (120, 200) and 0 < saved[60, 30] < 255  # feathered edge
    assert Image.open(values["init_image"]).size == (200, 120)


def test_an_unpainted_mask_is_not_used(window, clean_config):
    image = Image.new("RGB", (64, 64))
    (item,) = window.canvas.add_images([(image, None, "blank")])
    window.mask_tool.start(item)
    window.mask_tool.use.click()
    assert window.mask_tool.active  # still painting; the status bar says why
    window.mask_tool.cancel()
    assert not window.mask_tool.active and item.childItems() == []


def test_a_model_dropped_on_the_generate_panel_is_added_too(window, qtbot, clean_config, tmp_path):
    from safetensors.numpy import save_file

    lora = tmp_path / "ink.safetensors"
    save_file({"unet.down.lora_A.weight": np.zeros((2, 2), np.float32)}, str(lora))
    window.prompt_panel.image_dropped.emit(lora)
    scanned(qtbot, window)
    assert lora in config.model_paths()
    combo = window.prompt_panel.form("text_to_image").widgets["lora"]
    size = lora.stat().st_size
    assert [combo.itemText(i) for i in range(combo.count())][:2] == ["None", f"ink · {size} B"]


def test_mask_strokes_and_clear_are_undone_with_the_canvas_undo(window, clean_config):
    image = Image.new("RGB", (100, 80))
    (item,) = window.canvas.add_images([(image, None, "photo")])
    tool = window.mask_tool
    tool.start(item)
    tool.feather.setValue(0)

    def painted():
        return int(np.asarray(tool.mask_image()).astype(bool).sum())

    tool.press(item.mapToScene(20, 40))
    tool.drag(item.mapToScene(60, 40))
    tool.release()
    one = painted()
    tool.press(item.mapToScene(50, 10))
    tool.release()
    assert painted() > one > 0
    window.undo_stack.undo()
    assert painted() == one
    tool.clear()
    assert painted() == 0
    window.undo_stack.undo()
    assert painted() == one
    window.undo_stack.redo()
    assert painted() == 0
    tool.cancel()
    window.undo_stack.undo()  # the mask is gone: nothing happens, nothing breaks
    assert not tool.active


def test_opening_another_project_ends_mask_painting(window, clean_config, tmp_path):
    from studio.core.project import Project

    image = Image.new("RGB", (64, 64))
    (item,) = window.canvas.add_images([(image, None, "photo")])
    window.mask_tool.start(item)
    window.session.adopt(Project.open(tmp_path / "other.studio", create=True))
    assert not window.mask_tool.active and window.mask_tool.isHidden()


def test_restoring_a1111_settings_keeps_the_installed_model_and_names_the_missing_one(
    window, qtbot, clean_config, tiny_model, tmp_path
):
    from PIL import PngImagePlugin

    window.add_models([tiny_model])
    form = scanned(qtbot, window)
    assert form.values()["model"] == str(tiny_model)
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        "a cat <lora:ink:0.5>\nNegative prompt: ugly\nSteps: 12, Sampler: DPM++ 2M Karras, "
        "CFG scale: 6, Seed: 42, Size: 64x64, Model hash: 879db523c3, Model: dreamshaper_8",
    )
    Image.new("RGB", (8, 8)).save(tmp_path / "a1111.png", pnginfo=info)
    window.restorer.restore(tmp_path / "a1111.png")  # read on a pool thread
    qtbot.waitUntil(lambda: "Restored" in window.banner.label.text())
    values = form.values()
    assert values["model"] == str(tiny_model)  # not replaced by one that cannot load
    assert (values["steps"], values["scheduler"], values["schedule"]) == (12, "dpmpp_2m", "karras")
    text = window.banner.label.text()
    assert "dreamshaper_8" in text and "kept the current model" in text
    assert "LoRA not in your model folders: ink" in text


def test_preferences_add_an_existing_install_adds_its_model_folders(window, clean_config, tmp_path):
    from studio.ui.preferences import PreferencesDialog

    root = tmp_path / "ComfyUI"
    for sub in ("models/checkpoints", "models/loras", "models/vae"):
        (root / sub).mkdir(parents=True)
    dialog = PreferencesDialog(None, window.executor, window, window.registry.generators())
    assert dialog.add_install(root)
    assert [p.relative_to(root).as_posix() for p in dialog.model_paths()] == [
        "models/checkpoints",
        "models/loras",
        "models/vae",
    ]
    assert "Found ComfyUI" in dialog.install_note.text()
    (tmp_path / "photos").mkdir()
    assert not dialog.add_install(tmp_path / "photos")  # nothing added, and it says so
    assert "is not an AUTOMATIC1111" in dialog.install_note.text()
    dialog.accept()
    assert root / "models/loras" in config.model_paths()
    dialog.deleteLater()


def test_the_size_follows_the_model_until_the_user_sets_one(window, qtbot, clean_config, tmp_path):
    from safetensors.numpy import save_file

    def checkpoint(name, text_key, conv=(320, 4, 3, 3)):
        keys = {"model.diffusion_model.input_blocks.0.0.weight": np.zeros(conv, np.float16)}
        keys[text_key] = np.zeros(2, np.float16)
        save_file(keys, str(tmp_path / name))
        return tmp_path / name

    xl = checkpoint("juggernaut.safetensors", "conditioner.embedders.1.model.ln_final.weight")
    sd1 = checkpoint("dream.safetensors", "cond_stage_model.transformer.text_model.x")
    window.add_models([tmp_path])
    form = scanned(qtbot, window)
    form.set_values({"model": str(xl)})
    assert (form.values()["width"], form.values()["height"]) == (1024, 1024)
    form.set_values({"model": str(sd1)})
    assert form.values()["width"] == 512
    form.widgets["width"].setValue(640)  # the user's own size now stays
    form.set_values({"model": str(xl)})
    assert (form.values()["width"], form.values()["height"]) == (640, 1024)
