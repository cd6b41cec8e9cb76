"""Run the current generator over many images: files or folders, one job per image, with overall
progress; results go to the project and, if asked, straight to a folder. The batch runs on
this computer (the window's queue) or on a Ray cluster (a runner of its own, one job per
worker at a time, with each worker's count shown)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.batch_run import DEFAULT_TEMPLATE, Output, collect_images, varied_image
from studio.core.cluster import INSTALL_HINT, LOCAL, ClusterSpec, ray_available
from studio.core.export import ExportError, check_writable, template_tokens
from studio.core.generator import Generator, ImageParam, ParamError
from studio.core.jobs import JobState
from studio.core.project_queue import QueueEntry
from studio.ui import file_dialogs

if TYPE_CHECKING:
    from studio.ui.job_controller import JobController, JobStatus
    from studio.ui.prompt_panel import PromptPanel


def content_param(generator: Generator) -> ImageParam | None:
    """The image a batch varies: the generator's content image, else its init image."""
    return varied_image(generator)


class BatchDialog(QDialog):
    """Non-modal: the window stays usable while the batch runs."""

    def __init__(
        self,
        jobs: JobController,
        generator: Generator,
        form_values: Callable[[], dict[str, Any]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.generator = generator
        self._form_values = form_values
        self.setWindowTitle(f"Batch: {generator.title}")
        self.setObjectName("batch_dialog")
        self.resize(560, 520)
        self.batch: str | None = None
        self.total = 0
        self.succeeded = self.failed = 0
        self.failures: list[str] = []
        self.cluster_runner: Any = None  # the runner of a batch on a cluster, while it runs
        self._cluster_text = ""  # where it runs, how many workers

        intro = QLabel(
            f"Runs <b>{generator.title}</b> with the settings in the Generate panel on every "
            f"image below (as its {content_param(generator).title.lower()}), one job per image. "
            "Drop files or folders here."
        )
        intro.setWordWrap(True)
        self.inputs = QListWidget()
        self.inputs.setObjectName("batch_inputs")
        self.inputs.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        add_files = QPushButton("Add files…")
        add_files.clicked.connect(self._add_files)
        add_folder = QPushButton("Add folder…")
        add_folder.clicked.connect(self._add_folder)
        remove = QPushButton("Remove")
        remove.clicked.connect(
            lambda: [self.inputs.takeItem(self.inputs.row(i)) for i in self.inputs.selectedItems()]
        )
        buttons = QHBoxLayout()
        for button in (add_files, add_folder, remove):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.recursive = QCheckBox("Include sub-folders")
        self.write = QCheckBox("Also write each result to a folder")
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("output folder")
        choose = QPushButton("Choose…")
        choose.clicked.connect(self._choose_folder)
        folder_row = QWidget()
        row = QHBoxLayout(folder_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.folder, 1)
        row.addWidget(choose)
        restyles = generator.image_param("style") is not None
        self.template = QLineEdit(DEFAULT_TEMPLATE if restyles else "{source}-{generator}")
        self.template.setToolTip("Tokens as in Export: {source} {index} {seed} {generator} …")
        form = QFormLayout()
        form.addRow(self.write)
        form.addRow("Folder", folder_row)
        form.addRow("File names", self.template)
        self.write.toggled.connect(folder_row.setEnabled)
        self.write.toggled.connect(self.template.setEnabled)
        folder_row.setEnabled(False)
        self.template.setEnabled(False)
        form.addRow("Run on", self._run_on_row())
        self.workers_label = QLabel("")
        self.workers_label.setObjectName("batch_workers")
        self.workers_label.setWordWrap(True)

        self.progress = QProgressBar()
        self.progress.setObjectName("batch_progress")
        self.status = QLabel("")
        self.problems = QPlainTextEdit()
        self.problems.setReadOnly(True)
        self.problems.setMaximumHeight(90)
        self.problems.setPlaceholderText("Files that could not be used are listed here.")
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel batch")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.cancel_button)
        bottom.addWidget(self.start_button)
        bottom.addWidget(close)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.inputs, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.recursive)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.workers_label)
        layout.addWidget(self.problems)
        layout.addLayout(bottom)
        self.setAcceptDrops(True)
        jobs.job_finished.connect(self._on_finished)

    def _run_on_row(self) -> QWidget:
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        self.here = QRadioButton("This computer")
        self.here.setChecked(True)
        self.on_cluster = QRadioButton("Cluster at")
        self.on_cluster.setObjectName("batch_on_cluster")
        group = QButtonGroup(row)
        group.addButton(self.here)
        group.addButton(self.on_cluster)
        self.address = QLineEdit(LOCAL)
        self.address.setObjectName("batch_cluster_address")
        self.address.setToolTip(
            "local: start Ray on this computer; or a Ray cluster's address, e.g. 10.0.0.5:6379"
        )
        self.cluster_workers = QSpinBox()
        self.cluster_workers.setRange(0, 1024)
        self.cluster_workers.setSpecialValueText("auto")
        self.cluster_workers.setPrefix("workers ")
        self.cluster_workers.setToolTip("0 (auto): one per GPU, or one per 4 CPU cores")
        for widget in (self.here, self.on_cluster, self.address, self.cluster_workers):
            line.addWidget(widget, 1 if widget is self.address else 0)
        self.on_cluster.toggled.connect(self.address.setEnabled)
        self.on_cluster.toggled.connect(self.cluster_workers.setEnabled)
        self.address.setEnabled(False)
        self.cluster_workers.setEnabled(False)
        if not ray_available():
            self.on_cluster.setEnabled(False)
            self.on_cluster.setToolTip(INSTALL_HINT)
        return row

    # -- inputs

    def add_paths(self, paths: list[Path]) -> None:
        present = {self.inputs.item(i).text() for i in range(self.inputs.count())}
        for path in paths:
            if str(path) not in present:
                self.inputs.addItem(str(path))
                present.add(str(path))

    def paths(self) -> list[Path]:
        return [Path(self.inputs.item(i).text()) for i in range(self.inputs.count())]

    def _add_files(self) -> None:
        self.add_paths(
            file_dialogs.open_files(self, "batch inputs", "Add images", file_dialogs.IMAGE_FILTER)
        )

    def _add_folder(self) -> None:
        folder = file_dialogs.folder(self, "batch inputs", "Add a folder of images")
        if folder:
            self.add_paths([folder])

    def _choose_folder(self) -> None:
        folder = file_dialogs.folder(self, "batch outputs", "Write results to")
        if folder:
            self.folder.setText(str(folder))

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    # -- running

    def start(self) -> int:
        """Queue one job per image; returns how many were queued (0 when nothing could be)."""
        spec = content_param(self.generator)
        if spec is None:
            return self._refuse(f"{self.generator.title} takes no input image")
        found = collect_images(self.paths(), self.recursive.isChecked(), check=True)
        if not found.files:
            self.problems.setPlainText("\n".join(found.problems))
            return self._refuse("Add some images (or a folder with images) first")
        output = None
        if self.write.isChecked():
            try:
                folder = check_writable(Path(self.folder.text().strip() or "."))
                template_tokens(self.template.text())
            except ExportError as exc:
                return self._refuse(str(exc))
            if not self.folder.text().strip():
                return self._refuse("Choose the folder to write the results to")
            output = (str(folder), self.template.text(), time.time())
        values = dict(self._form_values())
        batch = uuid.uuid4().hex
        entries = []
        for number, path in enumerate(found.files, start=1):
            try:
                request = self.generator.make_request({**values, spec.name: str(path)})
            except ParamError as exc:
                return self._refuse(str(exc))
            written = Output(output[0], output[1], number, output[2]) if output else None
            summary = self.generator.summary(request)
            entries.append(QueueEntry(request, summary, output=written, batch=batch,
                                      batch_index=number))  # fmt: skip
        runner = self._cluster_runner(len(entries)) if self.on_cluster.isChecked() else None
        if runner is False:
            return 0
        self.failures = list(found.problems)
        self.succeeded = self.failed = 0
        self.problems.setPlainText("\n".join(self.failures))
        self.workers_label.setText("")
        if not self.jobs.submit_many(entries, runner=runner):  # no project; the window said so
            if runner is not None:
                runner.shutdown()
            return self._refuse("Nothing was queued: the results would have nowhere to go")
        self.cluster_runner = runner
        self.batch, self.total = batch, len(entries)
        self.progress.setRange(0, max(1, self.total))
        self.progress.setValue(0)
        self.cancel_button.setEnabled(True)
        self._update_status()
        return self.total

    def cancel(self) -> None:
        if self.batch is not None:
            unqueued = self.jobs.pending(self.batch)
            self.jobs.cancel_batch(self.batch)
            self.failed += unqueued
            self.progress.setValue(self.succeeded + self.failed)
        self._update_status()

    def _cluster_runner(self, jobs: int) -> Any:
        """A runner for this batch on the cluster the form names; False (having said why)
        when there is none to be had."""
        from studio.ui.cluster_runner import ClusterRunner

        if not ray_available():
            return self._refuse(INSTALL_HINT) or False
        address = self.address.text().strip() or LOCAL
        spec = ClusterSpec(address, self.cluster_workers.value(),
                           device=os.environ.get("STUDIO_DEVICE", "auto"))  # fmt: skip
        generators = {self.generator.id: self.generator}
        runner = ClusterRunner(spec, generators.__getitem__, jobs, self)
        runner.status_changed.connect(self._show_cluster)
        runner.workers_changed.connect(self._show_workers)
        runner.failed.connect(lambda text: self.workers_label.setText(f"Cluster: {text}"))
        return runner

    def _show_cluster(self, text: str) -> None:
        self._cluster_text = text
        self.workers_label.setText(text)

    def _show_workers(self, workers: tuple) -> None:
        counts = " · ".join(w.label() for w in workers)
        self.workers_label.setText(f"{self._cluster_text}\n{counts}")

    def _refuse(self, message: str) -> int:
        self.status.setText(message)
        self.status.setStyleSheet("color: #ff7b7b;")
        return 0

    def _on_finished(self, status: JobStatus) -> None:
        if self.batch is None or status.batch != self.batch:
            return
        name = Path(status.request.params[content_param(self.generator).name]).name
        if status.state is JobState.DONE:
            self.succeeded += 1
            if status.warning:
                self.failures.append(f"{name}: kept, but not written: {status.warning}")
        else:
            self.failed += 1
            reason = status.error or ("stopped; it stays queued" if status.stopped else "cancelled")
            self.failures.append(f"{name}: {reason}")
        self.problems.setPlainText("\n".join(self.failures))
        self.progress.setValue(self.succeeded + self.failed)
        self._update_status()

    def _update_status(self) -> None:
        total = self.total
        finished = self.succeeded + self.failed
        text = f"{finished} of {total} finished"
        if self.failed:
            text += f" · {self.failed} failed or cancelled"
        self.status.setStyleSheet("")
        self.status.setText(text)
        self.progress.setRange(0, max(1, total))
        self.start_button.setEnabled(finished >= total)  # one batch at a time
        if finished >= total:
            self.cancel_button.setEnabled(False)
            if self.cluster_runner is not None:  # its workers end; the counts stay shown
                runner, self.cluster_runner = self.cluster_runner, None
                self.jobs.retire(runner)


class BatchDialogs(QObject):
    """One batch dialog per generator, opened for the current one (or, when it takes no
    input image, the first available generator that does)."""

    message = Signal(str, str)

    def __init__(self, jobs: JobController, panel: PromptPanel, parent: QWidget) -> None:
        super().__init__(parent)
        self.jobs, self.panel, self._parent = jobs, panel, parent
        self.dialogs: dict[str, BatchDialog] = {}

    def open(self, paths: list[Path] | None = None) -> BatchDialog | None:
        panel = self.panel
        generator = panel.generators.get(panel.current_id)
        if generator is None or content_param(generator) is None:
            takers = [g for g in panel.generators.values() if content_param(g) is not None]
            ready = [g for g in takers if g.id not in panel.unavailable] or takers
            if not ready:
                self.message.emit("No generator here takes an input image", "warning")
                return None
            generator = ready[0]
            panel.select(generator.id)
        dialog = self.dialogs.get(generator.id)
        if dialog is None:
            values = lambda g=generator.id: panel.form(g).values()  # noqa: E731
            dialog = BatchDialog(self.jobs, generator, values, self._parent)
            self.dialogs[generator.id] = dialog
        if paths:
            dialog.add_paths(paths)
        dialog.show()
        dialog.raise_()
        return dialog
