"""A row of buttons for the presets a generator offers (e.g. "Fast"); a click sets the form."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from studio.core.generator import Generator
from studio.ui.param_form import ParamForm

log = logging.getLogger(__name__)


class PresetBar(QWidget):
    """Shows the current generator's presets; choosing one fills its form with the values
    the generator fits to the form's current model, and tells what it did."""

    applied = Signal(str, str)  # preset name, its note

    def __init__(self, models_dir: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._models_dir = models_dir
        self._generator: Generator | None = None
        self._form: ParamForm | None = None
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.buttons: dict[str, QPushButton] = {}

    def show_for(self, generator: Generator | None, form: ParamForm | None) -> None:
        self._generator, self._form = generator, form
        while self._layout.count():
            widget = self._layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.buttons = {}
        presets = self._presets()
        if presets:
            self._layout.addWidget(QLabel("Presets:"))
        for preset in presets:
            button = QPushButton(preset.name)
            button.setObjectName(f"preset_{preset.name}")
            button.setToolTip(preset.help)
            button.clicked.connect(lambda _=False, name=preset.name: self.choose(name))
            self._layout.addWidget(button)
            self.buttons[preset.name] = button
        self._layout.addStretch(1)
        self.setVisible(bool(presets))

    def choose(self, name: str) -> None:
        """Apply the preset `name`, fitted to what the form holds now."""
        chosen = next((p for p in self._presets() if p.name == name), None)
        if chosen is None or self._form is None:
            return
        self._form.set_values(dict(chosen.values))
        self.applied.emit(chosen.name, chosen.note)

    def _presets(self) -> list:
        if self._generator is None or self._form is None:
            return []
        try:
            return list(self._generator.presets(self._form.values(), self._models_dir))
        except Exception:  # noqa: BLE001 - a preset is never worth an error
            log.warning("listing the presets of %s failed", self._generator.id, exc_info=True)
            return []
