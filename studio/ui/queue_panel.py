"""The queue panel: a row per job with its state, a progress bar and a cancel button, and
a toolbar to pause the queue, reorder waiting jobs, remove several and clear finished rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobState

if TYPE_CHECKING:
    from studio.ui.job_controller import JobController, JobStatus

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
ID_ROLE = Qt.ItemDataRole.UserRole + 1


class _Tree(QTreeWidget):
    """Waiting rows can be dragged to a new place; the panel carries out the move."""

    dropped = Signal(int, int)  # job id, the row it was dropped on (-1: the end)

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        item = self.currentItem()
        target = self.itemAt(event.position().toPoint())
        event.ignore()  # the tree itself never moves rows: the queue decides
        if item is not None:
            self.dropped.emit(item.data(COL_TITLE, ID_ROLE), self.indexOfTopLevelItem(target))


class QueuePanel(QWidget):
    """Reads job statuses; asks (via signals) for changes, never makes them itself."""

    cancel_requested = Signal(int)  # job id
    move_requested = Signal(int, int)  # job id, index among the waiting jobs
    pause_toggled = Signal(bool)  # True: pause the queue

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = _Tree()
        self.tree.setObjectName("queue")
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Job", "State", "Progress", ""])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setIconSize(QSize(PREVIEW, PREVIEW))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.tree.dropped.connect(self._dropped)
        header = self.tree.header()
        header.setSectionResizeMode(COL_TITLE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_STATE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_PROGRESS, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(COL_ACTION, QHeaderView.ResizeMode.Fixed)
        header.setStretchLastSection(False)
        header.resizeSection(COL_PROGRESS, 220)
        header.resizeSection(COL_ACTION, 80)

        self.pause_button = self._tool("Pause", "Start no new job until resumed", checkable=True)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.up_button = self._tool("Move up", "Run the selected waiting job sooner")
        self.up_button.clicked.connect(lambda: self._shift(-1))
        self.down_button = self._tool("Move down", "Run the selected waiting job later")
        self.down_button.clicked.connect(lambda: self._shift(1))
        self.remove_button = self._tool("Remove", "Remove the selected waiting jobs (Delete)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button = self._tool("Clear finished", "Remove the rows of finished jobs")
        self.clear_button.clicked.connect(self.clear_finished)
        self.summary = QLabel("")
        remove = QShortcut(QKeySequence.StandardKey.Delete, self.tree)
        remove.setContext(Qt.ShortcutContext.WidgetShortcut)
        remove.activated.connect(self.remove_selected)

        tools = QHBoxLayout()
        tools.setContentsMargins(4, 2, 4, 0)
        for button in (self.pause_button, self.up_button, self.down_button, self.remove_button):
            tools.addWidget(button)
        tools.addWidget(self.summary, 1)
        tools.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(tools)
        layout.addWidget(self.tree)
        self.rows: dict[int, QTreeWidgetItem] = {}
        self._jobs: dict[int, JobStatus] = {}
        blank = QPixmap(PREVIEW, PREVIEW)
        blank.fill(Qt.GlobalColor.transparent)
        self._blank = QIcon(blank)
        self._waiting: Any = lambda: [
            i for i, s in self._jobs.items() if s.state is JobState.QUEUED
        ]

    def _tool(self, text: str, tip: str, checkable: bool = False) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setObjectName(f"queue_{text.lower().replace(' ', '_')}")
        return button

    def connect_jobs(self, jobs: JobController) -> None:
        """Follow a controller: its jobs become rows, these buttons steer it."""
        self.cancel_requested.connect(jobs.cancel)
        self.move_requested.connect(jobs.move)
        self.pause_toggled.connect(lambda pause: jobs.pause() if pause else jobs.resume())
        jobs.paused_changed.connect(self.show_paused)
        self._waiting = jobs.waiting_ids

    # -- rows

    def add_job(self, job: JobStatus) -> None:
        item = QTreeWidgetItem([job.title, "", "", ""])
        item.setIcon(COL_TITLE, self._blank)  # every row as tall as one with a preview
        item.setData(COL_TITLE, ID_ROLE, job.id)
        item.setToolTip(COL_TITLE, job.title)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsDropEnabled)
        self.tree.insertTopLevelItem(self._row_for_new(job), item)
        bar = QProgressBar()
        bar.setRange(0, 1)
        bar.setValue(0)
        bar.setTextVisible(True)
        button = QToolButton()
        button.setObjectName(f"cancel_{job.id}")
        button.setText("Cancel")
        button.clicked.connect(lambda: self.cancel_requested.emit(job.id))
        self.tree.setItemWidget(item, COL_PROGRESS, bar)
        self.tree.setItemWidget(item, COL_ACTION, button)
        self.rows[job.id] = item
        self._jobs[job.id] = job
        self.update_job(job)
        self._trim()

    def _row_for_new(self, job: JobStatus) -> int:
        # The running job first, then the waiting ones in the order they will run, then the
        # finished ones, newest first.
        return sum(1 for s in self._jobs.values() if not s.state.finished)

    def update_job(self, job: JobStatus, preview: QImage | None = None) -> None:
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
        item.setText(COL_STATE, "Cancelling…" if job.cancelling else _state_text(job))
        if item.text(COL_TITLE) != job.title:
            item.setText(COL_TITLE, job.title)
            item.setToolTip(COL_TITLE, job.title)
        bar = self.progress_bar(job.id)
        if job.total:
            bar.setRange(0, job.total)
            bar.setValue(job.step)
        elif job.state is JobState.RUNNING:
            bar.setRange(0, 0)  # busy indicator until the first step is reported
        if job.state.finished:
            self._to_finished(item)
            bar = self.progress_bar(job.id)
            bar.setRange(0, 1)
            bar.setValue(1 if job.state is JobState.DONE else 0)
            bar.setFormat({JobState.DONE: "%p%"}.get(job.state, _state_text(job)))
            self.tree.removeItemWidget(item, COL_ACTION)  # the view re-shows hidden ones
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsDragEnabled)
        if job.state is JobState.DONE and job.device:  # what decides the pixels, for a re-run
            item.setToolTip(COL_STATE, f"Done in {job.seconds:.1f} s on {job.device}")
        if job.state is JobState.FAILED:
            item.setToolTip(COL_STATE, job.error)
            item.setForeground(COL_STATE, Qt.GlobalColor.red)
        button = self.tree.itemWidget(item, COL_ACTION)
        if button is not None:
            button.setText("Remove" if job.state is JobState.QUEUED else "Cancel")
            button.setEnabled(not job.cancelling)
        self._update_summary()

    def _to_finished(self, item: QTreeWidgetItem) -> None:
        """A row that just finished moves to the top of the finished ones."""
        row = self.tree.indexOfTopLevelItem(item)
        target = sum(
            1 for i, s in self._jobs.items() if not s.state.finished and i != item.data(0, ID_ROLE)
        )
        if row == target:
            return
        self.tree.takeTopLevelItem(row)
        self.tree.insertTopLevelItem(target, item)
        bar = QProgressBar()
        self.tree.setItemWidget(item, COL_PROGRESS, bar)

    def progress_bar(self, job_id: int) -> QProgressBar:
        return self.tree.itemWidget(self.rows[job_id], COL_PROGRESS)

    def state_text(self, job_id: int) -> str:
        return self.rows[job_id].text(COL_STATE)

    def row_ids(self) -> list[int]:
        """Job ids in the order the rows are shown."""
        return [
            self.tree.topLevelItem(n).data(COL_TITLE, ID_ROLE)
            for n in range(self.tree.topLevelItemCount())
        ]

    def selected_ids(self) -> list[int]:
        return [item.data(COL_TITLE, ID_ROLE) for item in self.tree.selectedItems()]

    # -- steering

    def show_paused(self, paused: bool) -> None:
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.blockSignals(False)
        self._update_summary()

    def remove_selected(self) -> None:
        for job_id in self.selected_ids():
            status = self._jobs.get(job_id)
            if status is not None and status.state is JobState.QUEUED:
                self.cancel_requested.emit(job_id)

    def clear_finished(self) -> None:
        for job_id in [i for i, s in self._jobs.items() if s.state.finished]:
            self._drop_row(job_id)
        self._update_summary()

    def _pause_toggled(self, pause: bool) -> None:
        self.pause_button.setText("Resume" if pause else "Pause")
        self.pause_toggled.emit(pause)

    def _shift(self, by: int) -> None:
        waiting = self._waiting()
        picked = [i for i in self.selected_ids() if i in waiting]
        if len(picked) != 1:
            return
        index = waiting.index(picked[0]) + by
        if 0 <= index < len(waiting):
            self._move(picked[0], index)

    def _dropped(self, job_id: int, row: int) -> None:
        waiting = self._waiting()
        if job_id not in waiting:
            return
        ids = self.row_ids()
        target = ids[row] if 0 <= row < len(ids) else None
        index = waiting.index(target) if target in waiting else len(waiting) - 1
        self._move(job_id, index)

    def _move(self, job_id: int, index: int) -> None:
        self.move_requested.emit(job_id, index)
        self._reorder(self._waiting())

    def _reorder(self, waiting: list[int]) -> None:
        """Show waiting rows in the queue's order, where the first waiting row is."""
        items = [self.rows[i] for i in waiting if i in self.rows]
        if not items:
            return
        start = min(self.tree.indexOfTopLevelItem(item) for item in items)
        selected = set(self.selected_ids())
        for offset, item in enumerate(items):
            job = self._jobs[item.data(COL_TITLE, ID_ROLE)]
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
            self.tree.insertTopLevelItem(start + offset, item)
            self._rewidget(item, job)
            item.setSelected(job.id in selected)

    def _rewidget(self, item: QTreeWidgetItem, job: JobStatus) -> None:
        # A taken row loses its widgets: give it new ones.
        bar = QProgressBar()
        bar.setRange(0, 1)
        bar.setValue(0)
        button = QToolButton()
        button.setObjectName(f"cancel_{job.id}")
        button.clicked.connect(lambda: self.cancel_requested.emit(job.id))
        self.tree.setItemWidget(item, COL_PROGRESS, bar)
        self.tree.setItemWidget(item, COL_ACTION, button)
        self.update_job(job)

    def _update_summary(self) -> None:
        waiting = sum(1 for s in self._jobs.values() if s.state is JobState.QUEUED)
        paused = self.pause_button.isChecked()
        text = f"{waiting} waiting" if waiting else ""
        if paused:
            text = (text + " · " if text else "") + "paused"
        self.summary.setText(text)

    def _trim(self) -> None:
        finished = [jid for jid, job in self._jobs.items() if job.state.finished]
        for job_id in finished[: max(0, len(finished) - MAX_FINISHED_ROWS)]:
            self._drop_row(job_id)

    def _drop_row(self, job_id: int) -> None:
        item = self.rows.pop(job_id)
        self._jobs.pop(job_id)
        self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))


def _state_text(job: JobStatus) -> str:
    if job.state is JobState.FAILED:
        return f"Failed: {job.error}"
    if job.stopped:
        return f"Left in '{job.project.name}'"
    return STATE_TEXT[job.state]
