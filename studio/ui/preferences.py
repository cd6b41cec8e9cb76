"""Edit → Preferences: settings that apply to every generator (CPU threads, model folders)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from studio.core import config

THREADS_KEY = "compute/threads"


def threads_setting(settings: QSettings | None) -> int:
    """CPU threads for generators (0: each library's own default, usually all cores)."""
    if settings is None:
        return 0
    try:
        value = int(settings.value(THREADS_KEY, 0))
    except (TypeError, ValueError):
        return 0
    return max(0, min(value, os.cpu_count() or 1))


class PreferencesDialog(QDialog):
    models_changed = Signal()

    def __init__(self, settings: QSettings | None, executor: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setObjectName("preferences")
        self.resize(560, 420)
        self.settings, self.executor = settings, executor
        self.threads = QSpinBox()
        self.threads.setObjectName("pref_threads")
        self.threads.setRange(0, os.cpu_count() or 1)
        self.threads.setSpecialValueText("Automatic (all cores)")
        self.threads.setValue(threads_setting(settings))
        self.threads.setToolTip("CPU threads a generator may use; fewer keeps the machine freer")
        form = QFormLayout()
        form.addRow("CPU threads", self.threads)

        self.model_list = QListWidget()
        self.model_list.setObjectName("pref_model_paths")
        for path in config.stored_model_paths():
            self.model_list.addItem(str(path))
        add_folder = QPushButton("Add folder…")
        add_folder.clicked.connect(self._add_folder)
        add_file = QPushButton("Add model file…")
        add_file.clicked.connect(self._add_file)
        remove = QPushButton("Remove")
        remove.clicked.connect(
            lambda: [
                self.model_list.takeItem(self.model_list.row(i))
                for i in self.model_list.selectedItems()
            ]
        )
        buttons_row = QHBoxLayout()
        for button in (add_folder, add_file, remove):
            buttons_row.addWidget(button)
        buttons_row.addStretch(1)
        models_note = QLabel(
            "Folders are searched two levels deep for diffusers folders (with "
            "model_index.json), .safetensors/.ckpt checkpoints and LoRA files. The Hugging Face "
            "cache is searched too. Nothing is ever downloaded. You can also drop a model file "
            "or folder on the window."
        )
        models_note.setWordWrap(True)
        models_note.setStyleSheet("color: #999;")

        note = QLabel("Applies from the next job.")
        note.setStyleSheet("color: #999;")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(QLabel("<b>Model folders</b> (text to image)"))
        layout.addWidget(self.model_list, 1)
        layout.addLayout(buttons_row)
        layout.addWidget(models_note)
        layout.addWidget(buttons)

    def model_paths(self) -> list[Path]:
        return [Path(self.model_list.item(i).text()) for i in range(self.model_list.count())]

    def add_model_path(self, path: Path) -> None:
        if str(path) not in {str(p) for p in self.model_paths()}:
            self.model_list.addItem(str(path))

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a model folder", str(Path.home()))
        if folder:
            self.add_model_path(Path(folder))

    def _add_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Add a model file", str(Path.home()), "Models (*.safetensors *.ckpt)"
        )
        if path:
            self.add_model_path(Path(path))

    def accept(self) -> None:
        value = self.threads.value()
        if self.settings is not None:
            self.settings.setValue(THREADS_KEY, value)
        self.executor.threads = value
        if self.model_paths() != config.stored_model_paths():
            config.set_model_paths(self.model_paths())
            self.models_changed.emit()
        super().accept()
