"""Edit → Preferences: settings that apply to every generator."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QVBoxLayout

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
    def __init__(self, settings: QSettings | None, executor: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setObjectName("preferences")
        self.settings, self.executor = settings, executor
        self.threads = QSpinBox()
        self.threads.setObjectName("pref_threads")
        self.threads.setRange(0, os.cpu_count() or 1)
        self.threads.setSpecialValueText("Automatic (all cores)")
        self.threads.setValue(threads_setting(settings))
        self.threads.setToolTip("CPU threads a generator may use; fewer keeps the machine freer")
        form = QFormLayout()
        form.addRow("CPU threads", self.threads)
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
        layout.addWidget(buttons)

    def accept(self) -> None:
        value = self.threads.value()
        if self.settings is not None:
            self.settings.setValue(THREADS_KEY, value)
        self.executor.threads = value
        super().accept()
