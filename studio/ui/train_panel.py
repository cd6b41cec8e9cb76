"""The Train panel: settings of a trainer generator, live loss curves and a preview per epoch.

Training is an ordinary job on the worker thread, so it queues, cancels and fails like any
generation; this panel only watches the job's reported metrics.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.generator import Generator, ParamError
from studio.core.jobs import JobState
from studio.ui.job_controller import JobStatus
from studio.ui.param_form import ParamForm

# (metric key, legend, colour, dashed): train solid, held-out dashed
SERIES = {
    "Reconstruction": [("train_recon", "train", "#4da3ff", False),
                       ("heldout_recon", "held-out", "#4da3ff", True)],
    "KL": [("train_kl", "train", "#f5a623", False), ("heldout_kl", "held-out", "#f5a623", True)],
    "−ELBO (nats)": [("train_elbo_neg", "train", "#7ed321", False),
                     ("heldout_elbo_neg", "held-out", "#7ed321", True)],
}  # fmt: skip


class LineChart(QWidget):
    """A small line chart of several series over epochs, drawn with QPainter."""

    def __init__(self, title: str, series: list[tuple[str, str, str, bool]]) -> None:
        super().__init__()
        self.title, self.series = title, series
        self.history: list[dict] = []
        self.setMinimumSize(QSize(220, 130))

    def set_history(self, history: list[dict]) -> None:
        self.history = history
        self.update()

    def values(self, key: str) -> list[float]:
        return [float(h[key]) for h in self.history if key in h]

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#1e2024"))
        plot = QRectF(self.rect()).adjusted(42, 20, -8, -18)
        painter.setPen(QColor("#a0a4ab"))
        painter.drawText(QRectF(6, 2, self.width(), 16), self.title)
        everything = [v for key, *_ in self.series for v in self.values(key)]
        if not everything:
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "no epochs yet")
            return
        low, high = min(everything), max(everything)
        high = high if high > low else low + 1.0
        epochs = max(len(self.values(key)) for key, *_ in self.series)
        painter.drawText(
            QRectF(0, plot.top() - 6, 40, 14), Qt.AlignmentFlag.AlignRight, f"{high:.1f}"
        )
        painter.drawText(
            QRectF(0, plot.bottom() - 8, 40, 14), Qt.AlignmentFlag.AlignRight, f"{low:.1f}"
        )
        painter.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), 14),
                         Qt.AlignmentFlag.AlignRight, f"epoch {epochs}")  # fmt: skip
        for key, _legend, colour, dashed in self.series:
            values = self.values(key)
            if not values:
                continue
            path = QPainterPath()
            for i, value in enumerate(values):
                x = plot.left() + plot.width() * (i / max(1, epochs - 1))
                y = plot.bottom() - plot.height() * (value - low) / (high - low)
                path.moveTo(QPointF(x, y)) if i == 0 else path.lineTo(QPointF(x, y))
            pen = QPen(QColor(colour), 2, Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
            painter.setPen(pen)
            painter.drawPath(path)


class TrainPanel(QWidget):
    """Pick a trainer, set it up, train; watch the curves; cancel at any batch."""

    train_requested = Signal(object, str)  # Request, title
    cancel_requested = Signal(int)  # job id
    trained = Signal(object)  # the finished JobStatus (its model is saved)

    def __init__(self, trainers: list[Generator], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.trainers = {t.id: t for t in trainers}
        self.job: JobStatus | None = None
        self.picker = QComboBox()
        for trainer in trainers:
            self.picker.addItem(trainer.title, trainer.id)
        self.forms = {t.id: ParamForm(t.params) for t in trainers}
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("train")
        self.train_button.clicked.connect(self.request_train)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(
            lambda: self.job and self.cancel_requested.emit(self.job.id)
        )
        self.status = QLabel("Not training")
        self.status.setWordWrap(True)
        self.charts = [LineChart(title, series) for title, series in SERIES.items()]
        self.preview = QLabel()
        self.preview.setFixedSize(QSize(160, 160))
        self.preview.setToolTip("The model after the latest epoch")

        layout = QVBoxLayout(self)
        layout.addWidget(self.picker)
        for form in self.forms.values():
            layout.addWidget(form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        grid = QGridLayout()
        grid.addWidget(self.charts[0], 0, 0)
        grid.addWidget(self.charts[1], 0, 1)
        grid.addWidget(self.charts[2], 1, 0)
        grid.addWidget(self.preview, 1, 1, Qt.AlignmentFlag.AlignCenter)
        layout.addLayout(grid, 1)
        self.picker.currentIndexChanged.connect(self._show_form)
        self._show_form()

    def request_train(self) -> None:
        trainer = self.trainers[self.picker.currentData()]
        try:
            request = trainer.make_request(self.forms[trainer.id].values())
        except ParamError as exc:
            self.status.setText(str(exc))
            return
        self.train_requested.emit(request, trainer.summary(request))

    def watch(self, job: JobStatus) -> None:
        """Follow `job` (called by the window once the request is queued)."""
        self.job = job
        for chart in self.charts:
            chart.set_history([])
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Waiting for the worker…")

    def on_progress(self, job: JobStatus, preview: QImage | None) -> None:
        if job is not self.job or job.state.finished:
            return
        for chart in self.charts:
            chart.set_history(job.metrics)
        if preview is not None:
            self.preview.setPixmap(QPixmap.fromImage(preview).scaled(
                self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio))  # fmt: skip
        last = job.metrics[-1] if job.metrics else {}
        held = last.get("heldout_elbo_neg")
        figure = f" · held-out −ELBO {held:.1f}" if held is not None else ""
        self.status.setText(f"Batch {job.step}/{job.total}{figure}")

    def on_finished(self, job: JobStatus) -> None:
        if job is not self.job:
            return
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if job.state is JobState.DONE:
            self.status.setText(f"Done. {job.note}")
            self.trained.emit(job)
        elif job.state is JobState.FAILED:
            self.status.setText(f"Failed: {job.error}")
        else:
            self.status.setText("Cancelled; nothing was saved.")

    def _show_form(self) -> None:
        for trainer_id, form in self.forms.items():
            form.setVisible(trainer_id == self.picker.currentData())
