"""Upscale in the window: the item menu's "Upscale…" (a dialog, a queued job, the result
beside the item as its child) and the batch dialog over files for upscale and image to image."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMenu

from plugins.style_transfer import samples
from studio.core.jobs import JobState
from studio.ui.batch_dialog import content_param

FAST = "R-ESRGAN AnimeVideo"


def put_on_canvas(window, image, name):
    key = window.session.project.add_image(image, name)
    return window.canvas.item_for_key(key)


@pytest.mark.slow
def test_upscale_from_the_item_menu_lands_beside_the_item(window, qtbot):
    item = put_on_canvas(window, samples.photo(48, 32), "small.png")
    menu = QMenu(window)
    window.inputs.fill_menu(item, menu, window.canvas.delete_action)
    action = next(a for a in menu.actions() if a.text() == "Upscale…")
    chosen = {}

    def ask(dialog):
        combo = dialog.form.widgets["upscaler"]
        chosen["listed"] = [combo.itemData(i) for i in range(combo.count())]
        dialog.form.set_values({"upscaler": FAST, "scale": 3.0})
        return True

    window.inputs.upscale = lambda it, g, _orig=window.inputs.upscale: _orig(it, g, ask=ask)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=60_000) as finished:
        action.trigger()
    assert {"Lanczos", "R-ESRGAN 4x+", FAST} <= set(chosen["listed"])
    job = finished.args[0]
    assert job.state is JobState.DONE, job.error
    assert job.parent == item.key and job.request.params["upscaler"] == FAST
    result = window.canvas.item_for_key(job.item_ids[0])
    assert (result.picture.width, result.picture.height) == (144, 96)
    assert result.sceneBoundingRect().left() > item.sceneBoundingRect().right()
    assert window.prompt_panel.form("upscale").values()["scale"] == 3.0  # remembered


def test_the_batch_dialog_takes_image_to_image_and_upscale(window):
    generators = window.prompt_panel.generators
    assert content_param(generators["text_to_image"]).name == "init_image"
    assert content_param(generators["upscale"]).name == "image"
    window.prompt_panel.select("text_to_image")
    dialog = window.batches.open()
    assert dialog.generator.id == "text_to_image"
    assert "init image" in dialog.findChildren(type(dialog.status))[0].text()
