"""The queue panel: a row per job with its state, a progress bar and a cancel button."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QHeaderView,
    QProgressBar,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import Job, JobState

COL_TITLE, COL_STATE, COL_PROGRESS, COL_ACTION = range(4)
STATE_TEXT = {
    JobState.QUEUED: "Queued",
    JobState.RUNNING: "Running",
    JobState.DONE: "Done",
    JobState.FAILED: "Failed",
    JobState.CANCELLED: "Cancelled",
}
MAX_FINISHED_ROWS = 50
PREVIEW = 32


class QueuePanel(QWidget):
    """Reads jobs; asks (via signals) for a cancel or a removal, never changes them itself."""

    cancel_requested = Signal(object)  # Job

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setObjectName("queue")
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Job", "State", "Progress", ""])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setIconSize(QSize(PREVIEW, PREVIEW))
        header = self.tree.header()
        header.setSectionResizeMode(COL_TITLE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_STATE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_PROGRESS, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(COL_ACTION, QHeaderView.ResizeMode.Fixed)
        header.setStretchLastSection(False)
        header.resizeSection(COL_PROGRESS, 220)
        header.resizeSection(COL_ACTION, 80)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)
        self.rows: dict[int, QTreeWidgetItem] = {}
        self._jobs: dict[int, Job] = {}

    def add_job(self, job: Job) -> None:
        item = QTreeWidgetItem([job.title, "", "", ""])
        self.tree.insertTopLevelItem(0, item)  # newest on top, like the gallery
        bar = QProgressBar()
        bar.setRange(0, 1)
        bar.setValue(0)
        bar.setTextVisible(True)
        button = QToolButton()
        button.setObjectName(f"cancel_{job.id}")
        button.setText("Cancel")
        button.clicked.connect(lambda: self.cancel_requested.emit(self._jobs[job.id]))
        self.tree.setItemWidget(item, COL_PROGRESS, bar)
        self.tree.setItemWidget(item, COL_ACTION, button)
        self.rows[job.id] = item
        self._jobs[job.id] = job
        self.update_job(job)
        self._trim()

    def update_job(self, job: Job, preview: QImage | None = None) -> None:
        item = self.rows.get(job.id)
        if item is None:
            return
        if preview is not None:  # the latest preview, small, beside the job's title
            icon = QPixmap.fromImage(preview).scaled(
                PREVIEW,
                PREVIEW,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            item.setIcon(COL_TITLE, QIcon(icon))
        item.setText(COL_STATE, STATE_TEXT[job.state])
        bar = self.progress_bar(job.id)
        if job.total:
            bar.setRange(0, job.total)
            bar.setValue(job.step)
        elif job.state is JobState.RUNNING:
            bar.setRange(0, 0)  # busy indicator until the first step is reported
        if job.state.finished:
            bar.setRange(0, 1)
            bar.setValue(1 if job.state is JobState.DONE else 0)
            bar.setFormat({JobState.DONE: "%p%"}.get(job.state, STATE_TEXT[job.state]))
            self.tree.removeItemWidget(item, COL_ACTION)  # the view re-shows hidden ones
        if job.state is JobState.FAILED:
            item.setText(COL_STATE, f"Failed: {job.error}")
            item.setToolTip(COL_STATE, job.error)
            item.setForeground(COL_STATE, Qt.GlobalColor.red)
        button = self.tree.itemWidget(item, COL_ACTION)
        if button is not None:
            button.setText("Remove" if job.state is JobState.QUEUED else "Cancel")

    def progress_bar(self, job_id: int) -> QProgressBar:
        return self.tree.itemWidget(self.rows[job_id], COL_PROGRESS)

    def state_text(self, job_id: int) -> str:
        return self.rows[job_id].text(COL_STATE)

    def _trim(self) -> None:
        finished = [jid for jid, job in self._jobs.items() if job.state.finished]
        for job_id in finished[: max(0, len(finished) - MAX_FINISHED_ROWS)]:
            item = self.rows.pop(job_id)
            self._jobs.pop(job_id)
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
