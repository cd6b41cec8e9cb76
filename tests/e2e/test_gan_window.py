"""GAN faces in the real window: train on a folder in the Train panel, walk directions live,
find a picture and walk from it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtWidgets import QDockWidget

from plugins.gan_faces import install, store
from plugins.gan_faces.samples import disc_folder
from studio.core.devices import CPU
from studio.core.jobs import Executor, JobState
from studio.core.registry import Registry
from studio.ui.main_window import MainWindow


@pytest.fixture
def gan_window(qtbot, tmp_path, models_dir, project):
    home = tmp_path / "models"
    shutil.copytree(install.model_folder(models_dir), install.model_folder(home))
    registry = Registry().discover(use_entry_points=False)
    window = MainWindow(registry, Executor(registry.get, lambda: CPU, home), home, project=project)
    qtbot.addWidget(window, before_close_func=lambda w: w.jobs.shutdown())
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


@pytest.mark.slow
def test_training_a_gan_in_the_train_panel(gan_window, qtbot, tmp_path):
    folder = disc_folder(tmp_path / "discs", 16)
    gan_window.findChild(QDockWidget, "dock_train").raise_()
    panel = gan_window.train_panel
    panel.picker.setCurrentIndex(panel.picker.findData("gan_faces_train"))
    assert [c.plot.title for c in panel.charts][:2] == ["Losses", "D(x) and D(G(z))"]
    form = panel.forms["gan_faces_train"]
    form.set_values({"folder": str(folder), "name": "window-discs", "steps": 6, "batch": 16,
                     "preview_every": 3, "seed": 1})  # fmt: skip
    with qtbot.waitSignal(panel.trained, timeout=60_000) as done:
        panel.train_button.click()
    job = done.args[0]
    assert job.state is JobState.DONE, job.error
    assert panel.charts[0].values("d_loss") and len(panel.charts[1].values("d_fake")) == 2
    assert not panel.preview.pixmap().isNull() and "window-discs" in panel.status.text()
    faces = gan_window.prompt_panel.form("gan_faces")
    combo = faces.widgets["model"]
    assert combo.findData("window-discs") >= 0  # offered in GAN faces' model choice at once


@pytest.mark.slow
def test_directions_find_and_walk_in_the_window(gan_window, qtbot, tmp_path):
    from PIL import Image

    dock = gan_window.findChild(QDockWidget, "dock_directions")
    panel = gan_window.directions
    assert not panel.ready  # nothing is loaded until the dock is looked at
    gan_window.prompt_panel.set_values("gan_faces", {"seed": 12, "truncation": 0.8})
    dock.raise_()
    qtbot.waitUntil(lambda: panel.ready, timeout=60_000)
    qtbot.waitUntil(lambda: not panel.face.pixmap().isNull(), timeout=10_000)
    before = panel.face.pixmap().toImage()
    panel.sliders[0].setValue(60)
    qtbot.waitUntil(lambda: panel.face.pixmap().toImage() != before, timeout=10_000)
    panel.use_button.click()
    form = gan_window.prompt_panel.form("gan_faces")
    qtbot.waitUntil(lambda: form.values()["directions"] == "0:3", timeout=5_000)
    assert form.values()["seed"] == 12 and form.values()["count"] == 1

    picture = tmp_path / "face.png"
    Image.fromarray(np.full((64, 64, 3), (200, 150, 120), np.uint8)).save(picture)
    form.set_values({"mode": "find", "image": str(picture), "find_steps": 20})
    with qtbot.waitSignal(gan_window.jobs.job_finished, timeout=60_000) as done:
        gan_window.prompt_panel.request_generate()
    assert done.args[0].state is JobState.DONE, done.args[0].error
    found = store.root(gan_window.models_dir) / "found"
    assert len(list(found.glob("*.safetensors"))) == 1
    qtbot.waitUntil(lambda: "directions" in panel.status.text(), timeout=10_000)
    with qtbot.waitSignal(panel.values_requested, timeout=10_000) as walked:
        panel.use_button.click()
    assert walked.args[0]["start"] == next(found.glob("*.safetensors")).stem
    assert form.widgets["start"].findData(walked.args[0]["start"]) >= 0  # offered at once
