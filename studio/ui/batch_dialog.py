"""Run the current generator over many images: files or folders, one job per image, with overall
progress; results go to the project and, if asked, straight to a folder."""

from __future__ import annotations

from collections import deque
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.batch_run import DEFAULT_TEMPLATE, collect_images, write_result
from studio.core.export import ExportError, check_writable, template_tokens
from studio.core.generator import Generator, ImageParam, ParamError
from studio.core.jobs import Job, JobState

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow


SUBMIT_CHUNK = 8


def content_param(generator: Generator) -> ImageParam | None:
    """The image a batch varies: the generator's first content ImageParam."""
    return next(
        (p for p in generator.params if isinstance(p, ImageParam) and p.role == "content"), None
    )


class BatchDialog(QDialog):
    """Non-modal: the window stays usable while the batch runs."""

    def __init__(self, window: MainWindow, generator: Generator) -> None:
        super().__init__(window)
        self.window_ = window
        self.generator = generator
        self.setWindowTitle(f"Batch: {generator.title}")
        self.setObjectName("batch_dialog")
        self.resize(560, 520)
        self.jobs: dict[int, Job] = {}
        self.total = 0
        self._pending: deque = deque()
        self.input_of: dict[int, Path] = {}
        self.done = self.failed = 0
        self.failures: list[str] = []

        intro = QLabel(
            f"Runs <b>{generator.title}</b> with the settings in the Generate panel on every "
            "image below, one job per image. Drop files or folders here."
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
        self.template = QLineEdit(DEFAULT_TEMPLATE)
        self.template.setToolTip("Tokens as in Export: {source} {index} {seed} {generator} …")
        form = QFormLayout()
        form.addRow(self.write)
        form.addRow("Folder", folder_row)
        form.addRow("File names", self.template)
        self.write.toggled.connect(folder_row.setEnabled)
        self.write.toggled.connect(self.template.setEnabled)
        folder_row.setEnabled(False)
        self.template.setEnabled(False)

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
        layout.addWidget(self.problems)
        layout.addLayout(bottom)
        self.setAcceptDrops(True)
        window.runner.job_finished.connect(self._on_finished)

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
        from studio.ui.main_window import IMAGE_FILTER

        files, _ = QFileDialog.getOpenFileNames(self, "Add images", str(Path.home()), IMAGE_FILTER)
        self.add_paths([Path(f) for f in files])

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of images", str(Path.home()))
        if folder:
            self.add_paths([Path(folder)])

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Write results to", str(Path.home()))
        if folder:
            self.folder.setText(folder)

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
        form = self.window_.prompt_panel.form(self.generator.id)
        if spec is None or form is None:
            return self._refuse(f"{self.generator.title} takes no input image")
        found = collect_images(self.paths(), self.recursive.isChecked())
        if not found.files:
            return self._refuse("Add some images (or a folder with images) first")
        after = None
        if self.write.isChecked():
            try:
                folder = check_writable(Path(self.folder.text().strip() or "."))
                template_tokens(self.template.text())
            except ExportError as exc:
                return self._refuse(str(exc))
            if not self.folder.text().strip():
                return self._refuse("Choose the folder to write the results to")
            after = _Writer(folder, self.template.text(), datetime.now())
        values = dict(form.values())
        requests = []
        for path in found.files:
            try:
                requests.append(self.generator.make_request({**values, spec.name: str(path)}))
            except ParamError as exc:
                return self._refuse(str(exc))
        self.failures = list(found.problems)
        self.done = self.failed = 0
        self.jobs.clear()
        self.problems.setPlainText("\n".join(self.failures))
        self.total = len(requests)
        self._pending = deque(enumerate(requests, start=1))
        self._after, self._spec = after, spec
        self.progress.setRange(0, max(1, self.total))
        self.progress.setValue(0)
        self.cancel_button.setEnabled(True)
        self._submit_some()
        return self.total

    def _submit_some(self) -> None:
        """Queue a few jobs per turn of the event loop, so the window stays responsive while
        hundreds of rows join the queue."""
        for _ in range(SUBMIT_CHUNK):
            if not self._pending:
                break
            number, request = self._pending.popleft()
            fields: dict[str, Any] = {}
            if self._after is not None:
                fields["after"] = lambda job, n=number, write=self._after: write(job, n)
            job = self.window_.submit(request, self.generator.summary(request), **fields)
            if job is None:  # the project is read-only; the window said so
                self._pending.clear()
                self.total = len(self.jobs)
                break
            self.jobs[job.id] = job
            self.input_of[job.id] = Path(request.params[self._spec.name])
        self._update_status()
        if self._pending:
            QTimer.singleShot(0, self._submit_some)

    def cancel(self) -> None:
        self._pending.clear()
        self.total = len(self.jobs)
        for job in list(self.jobs.values()):
            if not job.state.finished:
                self.window_.runner.cancel(job)
        self._update_status()

    def _refuse(self, message: str) -> int:
        self.status.setText(message)
        self.status.setStyleSheet("color: #ff7b7b;")
        return 0

    def _on_finished(self, job: Job) -> None:
        if job.id not in self.jobs:
            return
        if job.state is JobState.DONE:
            self.done += 1
            if job.warning:
                name = self.input_of[job.id].name
                self.failures.append(f"{name}: kept, but not written: {job.warning}")
        else:
            self.failed += 1
            reason = job.error or "cancelled"
            self.failures.append(f"{self.input_of[job.id].name}: {reason}")
        self.problems.setPlainText("\n".join(self.failures))
        self.progress.setValue(self.done + self.failed)
        self._update_status()

    def _update_status(self) -> None:
        total = self.total
        finished = self.done + self.failed
        text = f"{finished} of {total} finished"
        if self.failed:
            text += f" · {self.failed} failed or cancelled"
        self.status.setStyleSheet("")
        self.status.setText(text)
        self.progress.setRange(0, max(1, total))
        self.start_button.setEnabled(finished >= total)  # one batch at a time
        if finished == total:
            self.cancel_button.setEnabled(False)


class _Writer:
    """Writes a batch job's result into the chosen folder, on the worker thread."""

    def __init__(self, folder: Path, template: str, when: datetime) -> None:
        self.folder, self.template, self.when = folder, template, when

    def __call__(self, job: Job, number: int) -> None:
        for result in job.results:
            write_result(result, self.folder, self.template, number, self.when)
