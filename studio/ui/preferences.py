"""Edit → Preferences: settings that apply to every generator (CPU threads, model folders)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from studio.core import config
from studio.ui import file_dialogs

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

    def __init__(
        self,
        settings: QSettings | None,
        executor: Any,
        parent: Any = None,
        generators: list | None = None,
    ) -> None:
        super().__init__(parent)
        self.generators = list(generators or [])  # asked which folders of an install they read
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
        add_install = QPushButton("Add an existing install…")
        add_install.setObjectName("pref_add_install")
        add_install.setToolTip(
            "An AUTOMATIC1111, Forge, ComfyUI, InvokeAI or Fooocus folder: its checkpoints, "
            "LoRAs, embeddings and VAEs are added"
        )
        add_install.clicked.connect(self._add_install)
        remove = QPushButton("Remove")
        remove.clicked.connect(
            lambda: [
                self.model_list.takeItem(self.model_list.row(i))
                for i in self.model_list.selectedItems()
            ]
        )
        buttons_row = QHBoxLayout()
        for button in (add_folder, add_file, add_install, remove):
            buttons_row.addWidget(button)
        buttons_row.addStretch(1)
        self.install_note = QLabel("")
        self.install_note.setObjectName("pref_install_note")
        self.install_note.setWordWrap(True)
        self.install_note.hide()
        models_note = QLabel(
            "Folders are searched three levels deep for diffusers folders (with "
            "model_index.json), .safetensors/.ckpt checkpoints, LoRAs, embeddings and VAEs. The "
            "Hugging Face cache is searched too. Nothing is ever downloaded. You can also drop a "
            "model file or folder on the window."
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
        layout.addWidget(self.install_note)
        layout.addWidget(models_note)
        layout.addWidget(buttons)

    def model_paths(self) -> list[Path]:
        return [Path(self.model_list.item(i).text()) for i in range(self.model_list.count())]

    def add_model_path(self, path: Path) -> None:
        if str(path) not in {str(p) for p in self.model_paths()}:
            self.model_list.addItem(str(path))

    def _add_folder(self) -> None:
        folder = file_dialogs.folder(self, "models", "Add a model folder")
        if folder:
            self.add_model_path(folder)

    def _add_install(self) -> None:
        folder = file_dialogs.folder(
            self, "installs", "Add an existing install (AUTOMATIC1111, Forge, ComfyUI, InvokeAI, "
            "Fooocus)",
        )  # fmt: skip
        if folder:
            self.add_install(folder)

    def add_install(self, path: Path) -> bool:
        """Add the model folders of another tool's install; False (and a word why) if `path`
        is no install any generator knows."""
        for generator in self.generators:
            found = generator.find_install(path)
            if found is None:
                continue
            kinds = []
            for what, folder in found.folders:
                self.add_model_path(Path(folder))
                kinds.append(what)
            names = ", ".join(dict.fromkeys(kinds))
            self.install_note.setText(
                f"Found {found.tool} in {path.name}: added its {names} "
                f"({len(found.folders)} folder(s)). Press OK to keep them."
            )
            self.install_note.setStyleSheet("color: #8c8;")
            self.install_note.show()
            return True
        self.install_note.setText(
            f"'{path.name}' is not an AUTOMATIC1111, Forge, ComfyUI, InvokeAI or Fooocus folder "
            "(none of their model folders is in it). Use Add folder… for a plain model folder."
        )
        self.install_note.setStyleSheet("color: #e99;")
        self.install_note.show()
        return False

    def _add_file(self) -> None:
        path = file_dialogs.open_file(
            self, "models", "Add a model file", "Models (*.safetensors *.ckpt)"
        )
        if path:
            self.add_model_path(path)

    def accept(self) -> None:
        value = self.threads.value()
        if self.settings is not None:
            self.settings.setValue(THREADS_KEY, value)
        self.executor.threads = value
        if self.model_paths() != config.stored_model_paths():
            config.set_model_paths(self.model_paths())
            self.models_changed.emit()
        super().accept()
