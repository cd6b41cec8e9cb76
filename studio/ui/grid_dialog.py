"""The comparison grid dialog (A1111's X/Y/Z plot): up to three parameters of the current
generator and their values; one job per cell through the window's queue, then one labelled
grid on the canvas. The cells are kept in the project (in the gallery), the grid beside them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.grid import (
    AXIS_NAMES,
    SEARCH_REPLACE,
    GridError,
    axis_choices,
    parse_axis,
    plan_grid,
)
from studio.core.grid_image import GridRun, check_shape
from studio.core.jobs import JobState
from studio.core.params import (
    BoolParam,
    ChoiceParam,
    FloatParam,
    IntParam,
    ModelParam,
    SeedParam,
)

if TYPE_CHECKING:
    from studio.core.generator import Generator
    from studio.ui.job_controller import JobController, JobStatus
    from studio.ui.prompt_panel import PromptPanel

CHECK_DELAY_MS = 150
ERROR_STYLE = "color: #ff7b7b;"


def hint_for(spec: Any) -> str:
    """What the values field of an axis over `spec` shows before anything is typed."""
    if spec is None:
        return "text to find, then each replacement: an apple, a watermelon, a gun"
    if isinstance(spec, SeedParam):
        return "1, 2, 3  ·  1-8  ·  -1 for a random seed"
    if isinstance(spec, IntParam):
        return "1, 2, 3  ·  1-5  ·  10-50 (+10)  ·  1-100 [5]"
    if isinstance(spec, FloatParam):
        return "0.5, 0.8, 1  ·  0.5-1 [3]  ·  1-3 (+0.5)"
    if isinstance(spec, ChoiceParam):
        return ", ".join(spec.labels or [str(c) for c in spec.choices])
    if isinstance(spec, BoolParam):
        return "on, off"
    return 'comma-separated; "quote, to keep a comma"'


class GridDialog(QDialog):
    """Non-modal: the window stays usable while the cells run."""

    assembled = Signal(object)  # the grid's item id, or the text of what went wrong

    def __init__(
        self,
        jobs: JobController,
        generator: Generator,
        form_values: Callable[[], dict[str, Any]],
        models_dir: Any = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.jobs, self.generator, self._form_values = jobs, generator, form_values
        self.models_dir = models_dir
        self.setWindowTitle(f"Comparison grid: {generator.title}")
        self.setObjectName("grid_dialog")
        self.resize(620, 330)
        self.run: GridRun | None = None
        self.project: Any = None
        self.item: int | None = None  # the last grid made
        self._specs = {p.name: p for p in generator.params}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(CHECK_DELAY_MS)
        self._timer.timeout.connect(self.check)

        intro = QLabel(
            f"Runs <b>{generator.title}</b> with the settings in the Generate panel, once per "
            "cell, varying up to three of them. X runs along the top, Y down the side, and "
            "each Z value makes a grid of its own. Ranges as in AUTOMATIC1111: 1-5, "
            "1-10 (+2), 0.5-1 [3]."
        )
        intro.setWordWrap(True)
        axes = QGridLayout()
        self.params: list[QComboBox] = []
        self.values: list[QLineEdit] = []
        for row, letter in enumerate(AXIS_NAMES):
            self._axis_row(axes, row, letter)
        swaps = QHBoxLayout()
        for a, b in ((0, 1), (1, 2), (0, 2)):
            button = QPushButton(f"Swap {AXIS_NAMES[a]}/{AXIS_NAMES[b]}")
            button.clicked.connect(lambda _c=False, a=a, b=b: self.swap(a, b))
            swaps.addWidget(button)
        swaps.addStretch(1)
        self.summary = QLabel("")
        self.summary.setObjectName("grid_summary")
        self.summary.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setObjectName("grid_progress")
        self.status = QLabel("")
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel grid")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        for button in (self.cancel_button, self.start_button, close):
            bottom.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(axes)
        layout.addLayout(swaps)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        layout.addWidget(self.progress)
        layout.addLayout(bottom)
        jobs.job_finished.connect(self._on_finished)
        self.assembled.connect(self._on_assembled)
        self.check()

    def _axis_row(self, grid: QGridLayout, row: int, letter: str) -> None:
        param = QComboBox()
        param.setObjectName(f"grid_{letter.lower()}_param")
        param.addItem("Nothing", "")
        for name, title in axis_choices(self.generator.params):
            param.addItem(title, name)
        values = QLineEdit()
        values.setObjectName(f"grid_{letter.lower()}_values")
        fill = QPushButton("All")
        fill.setToolTip("Fill in every choice this parameter offers")
        param.currentIndexChanged.connect(lambda _i, r=row: self._picked(r))
        values.textChanged.connect(self._timer.start)
        fill.clicked.connect(lambda _c=False, r=row: self.fill(r))
        grid.addWidget(QLabel(f"{letter}"), row, 0)
        grid.addWidget(param, row, 1)
        grid.addWidget(values, row, 2)
        grid.addWidget(fill, row, 3)
        grid.setColumnStretch(2, 1)
        self.params.append(param)
        self.values.append(values)
        self._picked(row)

    def set_axis(self, row: int, name: str, text: str) -> None:
        """Put parameter `name` ("" for none) with values `text` on axis `row` (0 X .. 2 Z)."""
        self.params[row].setCurrentIndex(max(0, self.params[row].findData(name)))
        self.values[row].setText(text)
        self.check()

    def _picked(self, row: int) -> None:
        name = self.params[row].currentData()
        self.values[row].setEnabled(bool(name))
        spec = self._specs.get(name) if name != SEARCH_REPLACE else None
        self.values[row].setPlaceholderText(hint_for(spec) if name else "")
        self._timer.start()

    def fill(self, row: int) -> None:
        """A1111's fill button: every choice of the axis's parameter."""
        spec = self._specs.get(self.params[row].currentData())
        if isinstance(spec, ChoiceParam):
            texts = [spec.label_of(c) for c in spec.choices]
        elif isinstance(spec, BoolParam):
            texts = ["on", "off"]
        elif isinstance(spec, ModelParam) and not spec.scan and self.models_dir is not None:
            texts = [value for value, _label in self.generator.choices_for(spec, self.models_dir)]
        else:
            texts = []
        if texts:
            self.values[row].setText(",".join(f'"{t}"' if "," in t else t for t in texts))

    def swap(self, a: int, b: int) -> None:
        """A1111's swap buttons: axes `a` and `b` trade parameters and values."""
        first = (self.params[a].currentData(), self.values[a].text())
        second = (self.params[b].currentData(), self.values[b].text())
        self.set_axis(a, *second)
        self.set_axis(b, *first)

    # -- checking

    def plan(self) -> Any:
        """The grid the dialog describes, every value and cell checked; GridError if not."""
        axes = []
        for letter, param, values in zip(AXIS_NAMES, self.params, self.values, strict=True):
            name = param.currentData()
            if not name:
                axes.append(None)
                continue
            try:
                axes.append(parse_axis(self.generator.params, name, values.text()))
            except GridError as exc:
                raise GridError(f"{letter}: {exc}") from None
        plan = plan_grid(self.generator, self._form_values(), axes)
        check_shape(plan.shape)
        return plan

    def check(self) -> Any:
        """Show what Start would make (or why it cannot); returns the plan or None."""
        self._timer.stop()
        try:
            plan = self.plan()
        except GridError as exc:
            self.summary.setText(str(exc))
            self.summary.setStyleSheet(ERROR_STYLE)
            self.start_button.setEnabled(False)
            return None
        nx, ny, nz = plan.shape
        cells = f"{nx} × {ny}" + (f" × {nz}" if nz > 1 else "") + f" = {len(plan.cells)} cells"
        self.summary.setText(f"{cells}: {plan.describe()}")
        self.summary.setStyleSheet("")
        self.start_button.setEnabled(self.run is None)
        return plan

    # -- running

    def start(self) -> int:
        """Queue the grid's jobs; returns how many (0 when nothing could be queued)."""
        plan = self.check()
        if plan is None or self.run is not None:
            return 0
        try:
            run = GridRun(self.generator, plan)
        except GridError as exc:
            return self._refuse(str(exc))
        if not self.jobs.submit_many(run.entries()):  # no project: the window said why
            return self._refuse("Nothing was queued: the cells would have nowhere to go")
        self.run, self.project, self.item = run, self.jobs.project, None
        self.progress.setRange(0, run.total)
        self.progress.setValue(0)
        self.cancel_button.setEnabled(True)
        self.start_button.setEnabled(False)
        self._update_status()
        return run.total

    def cancel(self) -> None:
        """Stop the cells not yet made; the grid is drawn from those that are."""
        run = self.run
        if run is None:
            return
        pending = self.jobs.pending(run.batch)
        self.jobs.cancel_batch(run.batch)
        run.failed += pending  # dropped before they were queued: no message will come
        self._maybe_assemble()

    def _on_finished(self, status: JobStatus) -> None:
        run = self.run
        if run is None or status.batch != run.batch:
            return
        image = None
        if status.state is JobState.DONE and status.item_ids:
            try:
                image = status.project.image(status.item_ids[0])
            except Exception:  # noqa: BLE001 - a cell that cannot be read is an empty box
                image = None
        run.finished(status.request, image, status.item_ids[0] if image is not None else None)
        self._maybe_assemble()

    def _maybe_assemble(self) -> None:
        run = self.run
        self._update_status()
        if run is None or run.done + run.failed < run.total:
            return
        self.cancel_button.setEnabled(False)
        if not run.done:
            self._finish(None, "No cell was made, so there is no grid")
            return
        self.status.setText("Drawing the grid…")
        project = self.project
        threading.Thread(target=self._assemble, args=(run, project), daemon=True).start()

    def _assemble(self, run: GridRun, project: Any) -> None:
        # On a thread of its own: a big grid takes a second or two to draw and encode.
        try:
            (item,) = project.add_results([run.result()])
        except Exception as exc:  # noqa: BLE001 - say it in the dialog; the cells are kept
            self.assembled.emit(f"The grid could not be made: {exc}")
            return
        self.assembled.emit(item)

    def _on_assembled(self, outcome: Any) -> None:
        if isinstance(outcome, int):
            self._finish(outcome, "")
        else:
            self._finish(None, str(outcome))

    def _finish(self, item: int | None, error: str) -> None:
        run, self.run = self.run, None
        self.item = item
        self.start_button.setEnabled(self.check() is not None)
        if error:
            self._refuse(error)
            return
        made = f"{run.done} of {run.total} cells" if run else ""
        self.status.setStyleSheet("")
        self.status.setText(f"Grid #{item} is on the canvas ({made})")

    def _refuse(self, message: str) -> int:
        self.status.setText(message)
        self.status.setStyleSheet(ERROR_STYLE)
        return 0

    def _update_status(self) -> None:
        run = self.run
        if run is None:
            return
        finished = run.done + run.failed
        self.progress.setValue(finished)
        text = f"{finished} of {run.total} cells finished"
        if run.failed:
            text += f" · {run.failed} failed or cancelled"
        self.status.setStyleSheet("")
        self.status.setText(text)


class GridDialogs(QObject):
    """One grid dialog per generator, opened for the one the Generate panel shows."""

    message = Signal(str, str)

    def __init__(self, jobs: JobController, panel: PromptPanel, models_dir: Any,
                 parent: QWidget) -> None:  # fmt: skip
        super().__init__(parent)
        self.jobs, self.panel, self.models_dir, self._parent = jobs, panel, models_dir, parent
        self.dialogs: dict[str, GridDialog] = {}

    def open(self) -> GridDialog | None:
        panel = self.panel
        generator = panel.generators.get(panel.current_id)
        if generator is None or panel.current_id in panel.unavailable:
            self.message.emit("Pick a generator that can run first", "warning")
            return None
        dialog = self.dialogs.get(generator.id)
        if dialog is None:
            values = lambda g=generator.id: panel.form(g).values()  # noqa: E731
            dialog = GridDialog(self.jobs, generator, values, self.models_dir, self._parent)
            self.dialogs[generator.id] = dialog
        dialog.check()
        dialog.show()
        dialog.raise_()
        return dialog
