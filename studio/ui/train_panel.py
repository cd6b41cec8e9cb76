"""The Train panel: settings of a trainer generator, live charts of what it reports, the
latest preview, per-step time and time left; Cancel, and Resume where the trainer kept a
checkpoint.

Training is an ordinary job on the worker, so it queues, cancels and fails like any
generation; this panel only watches the job's reported metrics. Each trainer says what to
chart (`Generator.plots`); the charts are made the first time the panel is shown.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.generator import Generator, ParamError, Plot
from studio.core.jobs import JobState
from studio.ui.job_controller import JobStatus
from studio.ui.param_form import ParamForm

RATE_WINDOW_S = 30.0  # per-step time is measured over this much of the latest progress
PREVIEW_SIDE = 192


def plots_of(trainer: Generator, metrics: list[dict] | None = None) -> tuple[Plot, ...]:
    """The trainer's own charts; without any, one chart of every figure it reported."""
    if trainer.plots:
        return tuple(trainer.plots)
    keys: list[str] = []
    for entry in metrics or []:
        keys += [k for k in entry if k not in keys and k not in ("step", "epoch")]
    x = "epoch" if metrics and "epoch" in metrics[0] else "step"
    return (Plot("Figures", x, tuple((k, k) for k in keys)),) if keys else ()


class TrainPanel(QWidget):
    """Pick a trainer, set it up, train; watch the curves; cancel at any step, resume."""

    train_requested = Signal(object, str)  # Request, title
    cancel_requested = Signal(int)  # job id
    trained = Signal(object)  # the finished JobStatus (its model is saved)

    def __init__(
        self, trainers: list[Generator], parent: QWidget | None = None, models_dir: Any = None
    ) -> None:
        super().__init__(parent)
        self.trainers = {t.id: t for t in trainers}
        self.models_dir = models_dir
        self.job: JobStatus | None = None
        self.charts: list[Any] = []
        self._chart_owner: tuple[str, tuple] | None = None
        self._resume: dict[str, Any] | None = None
        self._rate: deque[tuple[float, int]] = deque()
        self._charts_wanted = False
        self.picker = QComboBox()
        for trainer in trainers:
            self.picker.addItem(trainer.title, trainer.id)
        self.forms = {t.id: ParamForm(t.params, choices=self._choices_of(t)) for t in trainers}
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("train")
        self.train_button.clicked.connect(self.request_train)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(
            lambda: self.job and self.cancel_requested.emit(self.job.id)
        )
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the stopped run from its last checkpoint")
        self.resume_button.setEnabled(False)
        self.resume_button.clicked.connect(self.resume)
        self.status = QLabel("Not training")
        self.status.setWordWrap(True)
        self.timing = QLabel("")
        self.timing.setObjectName("train_timing")
        self.log_box = QCheckBox("Log scale")
        self.log_box.toggled.connect(self._set_log)
        self.preview = QLabel()
        self.preview.setFixedSize(QSize(PREVIEW_SIDE, PREVIEW_SIDE))
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setToolTip("The model's latest samples (always the same latents)")

        settings = QWidget()
        top = QVBoxLayout(settings)
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.picker)
        for form in self.forms.values():
            top.addWidget(form)
        top.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(settings)
        buttons = QHBoxLayout()
        for button in (self.train_button, self.cancel_button, self.resume_button):
            buttons.addWidget(button)
        watch = QWidget()
        self._charts_box = QVBoxLayout()
        below = QVBoxLayout(watch)
        below.setContentsMargins(0, 0, 0, 0)
        below.addLayout(buttons)
        below.addWidget(self.status)
        below.addWidget(self.timing)
        below.addWidget(self.log_box)
        below.addLayout(self._charts_box, 1)
        below.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignHCenter)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(scroll)
        splitter.addWidget(watch)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([340, 560])  # the settings stay in view above the charts
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self.picker.currentIndexChanged.connect(self._show_form)
        self._show_form()

    @property
    def current(self) -> Generator:
        return self.trainers[self.picker.currentData()]

    def request_train(self) -> None:
        trainer = self.current
        try:
            request = trainer.make_request(self.forms[trainer.id].values())
        except ParamError as exc:
            self.status.setText(str(exc))
            return
        self.train_requested.emit(request, trainer.summary(request))

    def resume(self) -> None:
        """Fill the form with the values that continue the stopped run, and train."""
        if self.job is None or self._resume is None:
            return
        self.picker.setCurrentIndex(self.picker.findData(self.job.generator))
        form = self.forms[self.job.generator]
        form.refresh_choices()  # the run is a new choice
        form.set_values(self._resume)
        self.request_train()

    def watch(self, job: JobStatus) -> None:
        """Follow `job` (called by the window once the request is queued)."""
        self.job = job
        self._resume = None
        self._rate.clear()
        self._ensure_charts(self.trainers.get(job.generator))
        for chart in self.charts:
            chart.set_history([])
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.resume_button.setEnabled(False)
        self.status.setText("Waiting for the worker…")
        self.timing.setText("")

    def on_progress(self, job: JobStatus, preview: QImage | None) -> None:
        if job is not self.job or job.state.finished:
            return
        self._ensure_charts(self.trainers.get(job.generator), job.metrics)
        for chart in self.charts:
            chart.set_history(job.metrics)
        if preview is not None:
            self.preview.setPixmap(QPixmap.fromImage(preview).scaled(
                self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation))  # fmt: skip
        self.status.setText(self._describe(job))
        self.timing.setText(self._timing(job))

    def on_finished(self, job: JobStatus) -> None:
        if job is not self.job:
            return
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if job.state is JobState.DONE:
            self.status.setText(f"Done. {job.note}")
            self.timing.setText("")
            self.trained.emit(job)
            return
        trainer = self.trainers.get(job.generator)
        self._resume = trainer.resume_values(job.request, self.models_dir) if trainer else None
        self.resume_button.setEnabled(self._resume is not None)
        kept = (
            "the last checkpoint is kept: Resume continues it."
            if self._resume is not None
            else "nothing was saved."
        )
        if job.state is JobState.FAILED:
            self.status.setText(f"Failed: {job.error} ({kept})")
        else:
            self.status.setText(f"Cancelled; {kept}")
        if self._resume is not None:
            self.trained.emit(job)  # the stopped run is a model too: offer it in the forms

    # -- charts

    def show_charts(self) -> None:
        """Make the current trainer's charts (imports pyqtgraph): once the panel is seen."""
        self._charts_wanted = True
        self._ensure_charts(self.current)

    def _ensure_charts(self, trainer: Generator | None, metrics: list | None = None) -> None:
        """Charts for `trainer` (made once per trainer and set of figures)."""
        if trainer is None:
            return
        plots = plots_of(trainer, metrics)
        key = (trainer.id, plots)
        if key == self._chart_owner:
            return
        from studio.ui.charts import LiveChart

        for chart in self.charts:
            self._charts_box.removeWidget(chart)
            chart.deleteLater()
        self.charts = [LiveChart(plot) for plot in plots]
        for chart in self.charts:
            self._charts_box.addWidget(chart, 1)
            chart.set_log(self.log_box.isChecked() or chart.plot.log)
        self._chart_owner = key

    def _set_log(self, on: bool) -> None:
        for chart in self.charts:
            chart.set_log(on)
            chart.set_history(chart.history)

    def _show_form(self) -> None:
        for trainer_id, form in self.forms.items():
            form.setVisible(trainer_id == self.picker.currentData())
        if self._charts_wanted:
            self._ensure_charts(self.current)

    def _choices_of(self, trainer: Generator) -> Any:
        return lambda spec: trainer.choices_for(spec, self.models_dir)

    # -- what the status lines say

    def _describe(self, job: JobStatus) -> str:
        last = job.metrics[-1] if job.metrics else {}
        parts = [f"Step {job.step}/{job.total}"]
        if "epoch" in last:
            parts.append(f"epoch {int(last['epoch'])}")
        if self.charts:
            plot = self.charts[0].plot
            shown = [f"{label} {last[key]:.3g}" for key, label in plot.series if key in last]
            if shown:
                parts.append(f"{plot.title}: " + ", ".join(shown))
        first = job.metrics[0] if job.metrics else {}
        if "images" in first:
            skipped = int(first.get("skipped", 0))
            parts.append(
                f"{int(first['images'])} images" + (f", {skipped} skipped" if skipped else "")
            )
        return " · ".join(parts)

    def _timing(self, job: JobStatus) -> str:
        now = time.monotonic()
        self._rate.append((now, job.step))
        while len(self._rate) > 2 and now - self._rate[0][0] > RATE_WINDOW_S:
            self._rate.popleft()
        per_step = None
        last = job.metrics[-1] if job.metrics else {}
        if "seconds_per_step" in last:
            per_step = float(last["seconds_per_step"])
        elif len(self._rate) >= 2:
            (t0, s0), (t1, s1) = self._rate[0], self._rate[-1]
            per_step = (t1 - t0) / (s1 - s0) if s1 > s0 else None
        if per_step is None or job.total <= 0:
            return ""
        left = max(0, job.total - job.step) * per_step
        return f"{per_step:.2f} s/step · about {_duration(left)} left"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
