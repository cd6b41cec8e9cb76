"""The Train panel on its own: charts from a trainer's Plot specs (pyqtgraph), log scale,
per-step time and time left, Cancel and Resume."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage

from studio.core.generator import Generator, IntParam, Kind, Plot, SeedParam
from studio.core.jobs import JobState
from studio.ui.job_controller import JobStatus
from studio.ui.train_panel import TrainPanel
from tests.fakes import Trainer


class Resumable(Generator):
    """A trainer that reports GAN-like figures per step and can continue a stopped run."""

    id = "resumable_train"
    title = "Resumable"
    kind = Kind.TRAIN
    params = (IntParam(name="steps", default=10, maximum=1000), IntParam(name="resume"),
              SeedParam(name="seed"))  # fmt: skip
    plots = (
        Plot("Losses", "step", (("d_loss", "D loss"), ("g_loss", "G loss"))),
        Plot("D(x) and D(G(z))", "step", (("d_real", "D(x)"), ("d_fake", "D(G(z))"))),
    )

    def resume_values(self, request, models_dir):
        return {"resume": 7, "steps": request.params["steps"]}


@pytest.fixture
def panel(qtbot):
    widget = TrainPanel([Resumable(), Trainer()])
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    widget.show_charts()  # the window does this when the Train dock is first looked at
    return widget


def status_of(panel, trainer_id="resumable_train", **values):
    trainer = panel.trainers[trainer_id]
    return JobStatus(1, trainer.title, trainer.make_request(values), project=None)


def point(step):
    figures = {"d_loss": 1.4 - step / 100, "g_loss": 0.7 + step / 50, "d_real": 0.5 + step / 400}
    return {"step": step, **figures, "d_fake": 0.5 - step / 400, "seconds_per_step": 0.5}


def test_charts_follow_the_trainers_plots_and_draw_every_point(panel):
    assert [c.plot.title for c in panel.charts] == ["Losses", "D(x) and D(G(z))"]
    job = status_of(panel, steps=100)
    panel.watch(job)
    job.state, job.total = JobState.RUNNING, 100
    for step in (5, 10, 15):
        job.step = step
        job.metrics.append(point(step))
        panel.on_progress(job, QImage(384, 384, QImage.Format.Format_RGB888))
    losses = panel.charts[0]
    xs, ys = losses.curves["g_loss"].getData()
    assert list(xs) == [5, 10, 15] and list(ys) == pytest.approx([0.8, 0.9, 1.0])
    assert losses.values("d_loss") == pytest.approx([1.35, 1.3, 1.25])
    legend = [label.text for _sample, label in losses.legend.items]
    assert legend == ["D loss", "G loss"]
    assert "Step 15/100" in panel.status.text() and "G loss 1" in panel.status.text()
    assert panel.timing.text() == "0.50 s/step · about 42 s left"
    assert not panel.preview.pixmap().isNull()


def test_log_scale_switches_every_chart(panel):
    job = status_of(panel)
    panel.watch(job)
    job.metrics.append(point(5))
    panel.on_progress(job, None)
    panel.log_box.setChecked(True)
    assert all(chart.log for chart in panel.charts)
    panel.log_box.setChecked(False)
    assert not any(chart.log for chart in panel.charts)


def test_the_vae_style_trainer_gets_its_own_charts(panel):
    panel.picker.setCurrentIndex(panel.picker.findData("fake_train"))
    assert [c.plot.title for c in panel.charts] == ["Reconstruction", "KL"]
    job = status_of(panel, "fake_train", epochs=3)
    panel.watch(job)
    job.metrics.append({"epoch": 1, "train_recon": 120.0, "heldout_recon": 130.0})
    job.step, job.total = 141, 423
    panel.on_progress(job, None)
    assert panel.charts[0].points("heldout_recon") == ([1.0], [130.0])
    assert "epoch 1" in panel.status.text() and "Reconstruction: train 120" in panel.status.text()


def test_cancel_offers_resume_with_the_trainers_values(panel, qtbot):
    job = status_of(panel, steps=40)
    panel.watch(job)
    assert panel.cancel_button.isEnabled() and not panel.resume_button.isEnabled()
    with qtbot.waitSignal(panel.cancel_requested) as asked:
        panel.cancel_button.click()
    assert asked.args == [1]
    job.state = JobState.CANCELLED
    panel.on_finished(job)
    assert "last checkpoint is kept" in panel.status.text() and panel.resume_button.isEnabled()
    with qtbot.waitSignal(panel.train_requested) as resumed:
        panel.resume_button.click()
    request, _title = resumed.args
    assert request.params["resume"] == 7 and request.params["steps"] == 40


def test_a_trainer_without_resume_says_nothing_was_saved(panel):
    panel.picker.setCurrentIndex(panel.picker.findData("fake_train"))
    job = status_of(panel, "fake_train")
    panel.watch(job)
    job.state = JobState.CANCELLED
    panel.on_finished(job)
    assert "nothing was saved" in panel.status.text() and not panel.resume_button.isEnabled()
