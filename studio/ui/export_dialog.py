"""The batch export dialog: which images, which format and size, what names; exports off the
main thread with progress and cancel, and reports problems in its own status line."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSettings, Qt, QThreadPool, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.batch_export import (
    MAX_SCALE,
    MIN_SCALE,
    TOKENS,
    ExportItem,
    ExportOptions,
    ExportReport,
    export_items,
    preview_name,
)
from studio.core.export import ExportError
from studio.ui.input_widgets import ElidedLabel

log = logging.getLogger(__name__)

SCOPES = (("selected", "Selected"), ("favourites", "Favourites"), ("all", "All"))
FORMATS = (("PNG", "png"), ("JPEG", "jpeg"), ("WebP", "webp"))
PROGRESS_INTERVAL_S = 0.05  # at most 20 progress updates a second reach the UI
ERROR_STYLE = "color: #c62828;"


class _Relay(QObject):
    """Lives on the main thread; the export task emits through it."""

    progressed = Signal(int, int)
    finished = Signal(object)


@dataclass
class _Run:
    """One export as both threads see it: the cancel flag, and the report once it exists."""

    cancel: threading.Event = field(default_factory=threading.Event)
    report: ExportReport | None = None


class _ExportTask(QRunnable):
    """Runs one export on a pool thread and reports through the relay."""

    def __init__(
        self,
        items: Sequence[ExportItem],
        folder: Path,
        options: ExportOptions,
        run: _Run,
        relay: _Relay,
    ) -> None:
        super().__init__()
        self._items, self._folder, self._options = items, folder, options
        self._run, self._relay = run, relay
        self._last_emit = 0.0

    def run(self) -> None:
        try:
            report = export_items(
                self._items, self._folder, self._options, self._progress, self._run.cancel.is_set
            )
        except Exception as exc:  # noqa: BLE001 - an export bug must not kill the pool thread
            log.exception("export to %s failed", self._folder)
            report = ExportReport(total=len(self._items), folder=self._folder)
            report.error = f"The export failed: {exc}"
        self._run.report = report
        self._relay.finished.emit(report)

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last_emit < PROGRESS_INTERVAL_S:
            return
        self._last_emit = now
        self._relay.progressed.emit(done, total)


class ExportDialog(QDialog):
    """Exports all, selected or favourite images to a folder, with progress and cancel."""

    export_finished = Signal(object)  # ExportReport, also after a cancel or an error

    def __init__(
        self,
        parent: QWidget | None,
        counts: dict[str, int],
        items_for: Callable[[str], Sequence[ExportItem]],
        default_folder: Path,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export images")
        self._counts, self._items_for, self._settings = counts, items_for, settings
        self._first_items: dict[str, ExportItem | None] = {}
        self._run: _Run | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.progressed.connect(self._on_progress)
        self._relay.finished.connect(self._on_finished)
        self._build(Path(default_folder))
        self._restore_settings()
        self._update_controls()

    # -- building

    def _build(self, folder: Path) -> None:
        self.scope_buttons: dict[str, QRadioButton] = {}
        self._scope_group = QButtonGroup(self)
        scope_row = QHBoxLayout()
        for key, title in SCOPES:
            button = QRadioButton(f"{title} ({self._counts.get(key, 0)})")
            button.setEnabled(self._counts.get(key, 0) > 0)
            self._scope_group.addButton(button)
            self.scope_buttons[key] = button
            scope_row.addWidget(button)
        first = next((key for key, _ in SCOPES if self._counts.get(key, 0) > 0), "all")
        self.scope_buttons[first].setChecked(True)

        self.folder_edit = QLineEdit(str(folder))
        self.browse_button = QPushButton("Choose…")
        self.browse_button.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)

        self.format_combo = QComboBox()
        for title, key in FORMATS:
            self.format_combo.addItem(title, key)
        self.quality_slider = QSlider(Qt.Orientation.Horizontal)
        self.quality_spin = QSpinBox()
        for widget in (self.quality_slider, self.quality_spin):
            widget.setRange(1, 100)
            widget.setValue(ExportOptions.quality)
        self.quality_slider.valueChanged.connect(self.quality_spin.setValue)
        self.quality_spin.valueChanged.connect(self.quality_slider.setValue)
        quality_row = QHBoxLayout()
        quality_row.addWidget(self.quality_slider, 1)
        quality_row.addWidget(self.quality_spin)
        self.lossless_check = QCheckBox("Lossless")

        self.scale_spin = QDoubleSpinBox()
        self.scale_spin.setRange(MIN_SCALE, MAX_SCALE)
        self.scale_spin.setSingleStep(0.5)
        self.scale_spin.setDecimals(2)
        self.scale_spin.setValue(1.0)
        self.scale_spin.setSuffix(" ×")
        self.scale_spin.setToolTip("Resized with a Lanczos filter, down or up")

        self.template_edit = QLineEdit(ExportOptions.template)
        self.template_edit.setToolTip(
            "Tokens:\n" + "\n".join(f"{{{name}}}  {meaning}" for name, meaning in TOKENS.items())
        )
        self.preview_label = ElidedLabel()  # a long name never widens the dialog
        self.manifest_check = QCheckBox("Also write manifest.csv and manifest.json")

        form = QFormLayout()
        form.addRow("Images", scope_row)
        form.addRow("Folder", folder_row)
        form.addRow("Format", self.format_combo)
        form.addRow("Quality", quality_row)
        form.addRow("", self.lossless_check)
        form.addRow("Scale", self.scale_spin)
        form.addRow("Names", self.template_edit)
        form.addRow("First file", self.preview_label)
        form.addRow("", self.manifest_check)

        self.progress_bar = QProgressBar()
        self.progress_bar.setValue(0)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.cancel_button = QPushButton("Close")
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)

        for signal in (
            self._scope_group.buttonToggled,
            self.format_combo.currentIndexChanged,
            self.lossless_check.toggled,
            self.scale_spin.valueChanged,
            self.template_edit.textChanged,
        ):
            signal.connect(self._update_controls)

    # -- state

    @property
    def scope(self) -> str:
        return next(key for key, button in self.scope_buttons.items() if button.isChecked())

    @property
    def running(self) -> bool:
        return self._run is not None

    def options(self) -> ExportOptions:
        """The options the controls describe (not yet validated)."""
        fmt = self.format_combo.currentData()
        return ExportOptions(
            fmt=fmt,
            quality=self.quality_spin.value(),
            lossless=fmt == "webp" and self.lossless_check.isChecked(),
            scale=round(self.scale_spin.value(), 2),
            template=self.template_edit.text(),
            manifest=self.manifest_check.isChecked(),
        )

    def _update_controls(self, *_args: object) -> None:
        fmt = self.format_combo.currentData()
        lossy = fmt == "jpeg" or (fmt == "webp" and not self.lossless_check.isChecked())
        idle = not self.running
        for widget in (self.quality_slider, self.quality_spin):
            widget.setEnabled(idle and lossy)
        self.lossless_check.setEnabled(idle and fmt == "webp")
        for widget in (self.folder_edit, self.browse_button, self.format_combo, self.scale_spin):
            widget.setEnabled(idle)
        self.template_edit.setEnabled(idle)
        self.manifest_check.setEnabled(idle)
        for key, button in self.scope_buttons.items():
            button.setEnabled(idle and self._counts.get(key, 0) > 0)
        options = self.options()
        try:
            options.validate()
        except ExportError as exc:
            self.preview_label.setText(str(exc))
            self.preview_label.setStyleSheet(ERROR_STYLE)
            self.export_button.setEnabled(False)
            return
        item = self._first_item(self.scope)
        self.preview_label.setText(preview_name(item.record if item else {}, options))
        self.preview_label.setStyleSheet("")
        self.export_button.setEnabled(idle and self._counts.get(self.scope, 0) > 0)

    def _first_item(self, scope: str) -> ExportItem | None:
        if scope not in self._first_items:  # asked once per scope: it may read the project
            items = self._items_for(scope) if self._counts.get(scope, 0) else []
            self._first_items[scope] = items[0] if items else None
        return self._first_items[scope]

    def _show_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")

    # -- actions

    @Slot()
    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    @Slot()
    def start_export(self) -> None:
        """Export the chosen images on a pool thread; export_finished tells when it is done."""
        if self.running:
            return
        options = self.options()
        folder_text = self.folder_edit.text().strip()
        try:
            options.validate()
            if not folder_text:
                raise ExportError("Choose a folder to export to.")
        except ExportError as exc:
            self._show_status(str(exc), error=True)
            return
        items = list(self._items_for(self.scope))
        if not items:
            self._show_status("There are no images to export.", error=True)
            return
        self._save_settings()
        self._run = _Run()
        task = _ExportTask(items, Path(folder_text), options, self._run, self._relay)
        self.progress_bar.setRange(0, len(items))
        self.progress_bar.setValue(0)
        self._show_status(f"Exporting {len(items)} images…")
        self.export_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self._update_controls()
        self._pool.start(task)

    @Slot()
    def cancel_export(self) -> None:
        """Stop the running export after the file being written; what was written stays."""
        if self._run is not None:
            self._run.cancel.set()
            self.cancel_button.setEnabled(False)
            self._show_status("Cancelling…")

    @Slot()
    def _on_cancel_clicked(self) -> None:
        if self.running:
            self.cancel_export()
        else:
            self.reject()

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if self._run is not None:
            self.progress_bar.setValue(done)
            if not self._run.cancel.is_set():
                self._show_status(f"Exported {done} of {total}…")

    @Slot(object)
    def _on_finished(self, report: ExportReport) -> None:
        if self._run is None or report is not self._run.report:
            return  # already handled when the dialog closed and waited for it
        self._run = None
        self.progress_bar.setValue(len(report.written))
        self._show_status(report.summary(), error=report.error is not None)
        self.cancel_button.setText("Close")
        self.cancel_button.setEnabled(True)
        self._update_controls()
        self.export_finished.emit(report)

    def done(self, result: int) -> None:
        """Closing while exporting cancels the export and waits for it to stop."""
        run = self._run
        if run is not None:
            run.cancel.set()
            self._pool.waitForDone()
            if run.report is not None:
                self._on_finished(run.report)
        super().done(result)

    # -- settings

    def _restore_settings(self) -> None:
        if self._settings is None:
            return
        get = self._settings.value
        if folder := get("export/folder", "", type=str):
            self.folder_edit.setText(folder)
        index = self.format_combo.findData(get("export/format", "png", type=str))
        self.format_combo.setCurrentIndex(max(index, 0))
        self.template_edit.setText(get("export/template", ExportOptions.template, type=str))
        self.quality_spin.setValue(get("export/quality", ExportOptions.quality, type=int))
        self.lossless_check.setChecked(get("export/lossless", False, type=bool))
        self.scale_spin.setValue(get("export/scale", 1.0, type=float))
        self.manifest_check.setChecked(get("export/manifest", False, type=bool))

    def _save_settings(self) -> None:
        if self._settings is None:
            return
        options = self.options()
        values = {
            "folder": self.folder_edit.text().strip(),
            "format": options.fmt,
            "template": options.template,
            "quality": options.quality,
            "lossless": self.lossless_check.isChecked(),
            "scale": options.scale,
            "manifest": options.manifest,
        }
        for key, value in values.items():
            self._settings.setValue(f"export/{key}", value)
        self._settings.sync()
