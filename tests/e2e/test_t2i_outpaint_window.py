"""Outpainting and the tiled preview from a canvas item's menu, in the real window."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QMenu

from studio.core.jobs import JobState


def menu_of(window, item):
    menu = QMenu(window)
    window.inputs.fill_menu(item, menu, window.canvas.delete_action, window.outpainting.fill_menu)
    return menu, [a.text() for a in menu.actions()]


def test_extend_outpaints_beside_the_picture_and_says_a_normal_model_is_second_best(
    window, qtbot, clean_config, tiny_model
):
    window.executor.threads = 1
    window.add_models([tiny_model])
    form = window.prompt_panel.form("text_to_image")
    qtbot.waitUntil(lambda: form.scanning == 0, timeout=20_000)
    form.set_values({"prompt": "a cat", "steps": 2, "seed": 4, "model": str(tiny_model)})
    rng = np.random.default_rng(0)
    source = Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8))
    key = window.session.project.add_image(source, "cat.png")
    item = window.canvas.item_for_key(key)
    _menu, texts = menu_of(window, item)
    assert "Extend… (Text to image)" in texts and "Show tiled (3 × 3)" in texts
    assert texts[-1] == window.canvas.delete_action.text()
    with qtbot.waitSignal(window.jobs.job_finished, timeout=120_000) as finished:
        status = window.outpainting.extend(item, "text_to_image", ask=False)  # right, 128 px
    assert status is not None
    assert "normal model" in window.outpainting.dialog.remark.text()
    job = finished.args[0]
    assert job.state is JobState.DONE, job.error
    assert job.parent == key and job.request.params["width"] == 192
    result = window.canvas.item_for_key(job.item_ids[0])
    assert (result.picture.width, result.picture.height) == (192, 64)
    assert result.sceneBoundingRect().left() > item.sceneBoundingRect().right()  # beside it
    made = np.asarray(window.session.project.image(job.item_ids[0]).convert("RGB"))
    # the old picture is kept outside the seam (32 px), and the new area is painted
    assert np.array_equal(made[:, :32], np.asarray(source)[:, :32])
    assert not np.array_equal(made[:, 64:], np.repeat(made[:, 63:64], 128, axis=1))


def test_the_extend_dialog_takes_pixels_or_an_aspect_ratio(window):
    from studio.ui.outpaint_dialog import ExtendDialog

    dialog = ExtendDialog(window, (512, 512))
    dialog.sides["right"].setValue(0)
    assert not dialog.buttons.buttons()[0].isEnabled() and "extend" in dialog.size_label.text()
    dialog.sides["top"].setValue(100)
    assert dialog.margins().top == 104 and dialog.size_label.text().endswith("512×616 px")
    dialog.by_ratio.setChecked(True)
    dialog.ratio.setCurrentText("16:9")
    assert dialog.margins().size(512, 512) == (912, 512)
    dialog.ratio.setCurrentText("wide")
    assert "not an aspect ratio" in dialog.size_label.text()
    assert not dialog.buttons.buttons()[0].isEnabled()


def test_show_tiled_repeats_the_picture_three_by_three(window, qtbot):
    image = Image.new("RGB", (40, 30), (200, 30, 30))
    image.putpixel((0, 0), (0, 255, 0))
    item = window.canvas.item_for_key(window.session.project.add_image(image, "tile.png"))
    menu, _texts = menu_of(window, item)
    next(a for a in menu.actions() if a.text() == "Show tiled (3 × 3)").trigger()
    (preview,) = window.outpainting.windows
    picture = preview.view.pixmap().toImage()
    scale = picture.width() // 120
    assert (picture.width(), picture.height()) == (120 * scale, 90 * scale)
    for column in range(3):  # the green corner of each copy
        for row in range(3):
            assert picture.pixelColor(column * 40 * scale, row * 30 * scale).green() == 255
    preview.close()
    qtbot.waitUntil(lambda: not window.outpainting.windows)
