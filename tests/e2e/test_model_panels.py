"""The Train panel and the latent map in the real window, over fake generators."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget

from studio.core.devices import CPU
from studio.core.jobs import Executor, JobState
from studio.core.registry import Registry
from studio.ui.main_window import MainWindow
from tests.fakes import Mapped, Trainer


@pytest.fixture
def panels_window(qtbot, tmp_path, project):
    registry = Registry()
    for generator in (Mapped(), Trainer(delay=0.02)):
        registry.register(generator)
    window = MainWindow(
        registry, Executor(registry.get, lambda: CPU, tmp_path), tmp_path, project=project
    )
    qtbot.addWidget(window, before_close_func=lambda w: w.jobs.shutdown())
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


def test_trainers_live_in_the_train_panel_not_the_picker(panels_window):
    assert panels_window.prompt_panel.picker.findData("fake_train") < 0
    assert panels_window.train_panel.picker.findData("fake_train") >= 0


def test_training_plots_every_epoch_and_finishes(panels_window, qtbot):
    panel = panels_window.train_panel
    panel.forms["fake_train"].set_values({"epochs": 5})
    with qtbot.waitSignal(panel.trained, timeout=10_000) as done:
        panel.train_button.click()
    job = done.args[0]
    assert job.state is JobState.DONE and len(job.metrics) == 5
    chart = panel.charts[0]
    assert chart.values("train_recon") == [200.0 / e for e in range(1, 6)]
    assert not panel.preview.pixmap().isNull()
    assert "Saved model fake-1" in panel.status.text()
    assert panel.train_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_training_can_be_cancelled(panels_window, qtbot):
    panel = panels_window.train_panel
    panel.forms["fake_train"].set_values({"epochs": 100})
    panel.train_button.click()
    qtbot.waitUntil(lambda: len(panel.job.metrics) >= 2, timeout=10_000)
    with qtbot.waitSignal(panels_window.jobs.job_finished, timeout=5_000) as done:
        panel.cancel_button.click()
    assert done.args[0].state is JobState.CANCELLED
    assert "nothing was saved" in panel.status.text()


def test_latent_map_loads_when_shown_and_decodes_under_the_mouse(panels_window, qtbot):
    dock = panels_window.findChild(QDockWidget, "dock_latent map")
    latent = panels_window.latent_map
    assert not latent.ready  # nothing loaded until the dock is looked at
    dock.raise_()
    qtbot.waitUntil(lambda: latent.ready, timeout=10_000)
    assert len(latent.map.points) == 20
    centre = latent.map.square().center().toPoint()
    QTest.mousePress(latent.map, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(lambda: not latent.decoded.pixmap().isNull(), timeout=5_000)
    x, y = latent.map.probe
    assert abs(x) < 0.1 and abs(y) < 0.1  # the middle of the map is the origin
    assert latent.map.to_latent(QPointF(latent.map.square().topLeft())) == (-2.0, 2.0)


def test_drawing_a_digit_places_it_and_can_be_reconstructed(panels_window, qtbot):
    latent = panels_window.latent_map
    latent.load()
    qtbot.waitUntil(lambda: latent.ready, timeout=10_000)
    pad = latent.pad
    QTest.mousePress(pad, Qt.MouseButton.LeftButton, pos=QPoint(30, 30))
    QTest.mouseMove(pad, QPoint(60, 90))
    QTest.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=QPoint(60, 90))
    qtbot.waitUntil(lambda: latent.map.drawn == (1.5, -0.5), timeout=5_000)
    drawing = pad.to_pil()
    assert drawing.size == (28, 28) and drawing.getextrema()[1] > 200  # white strokes
    latent.use_drawing.emit(drawing)
    values = panels_window.prompt_panel.form("mapped").values()
    assert values["mode"] == "reconstruct" and values["image"].endswith(".png")
