"""The canvas item menu's "Upscale…": the upscaling generator's settings (its picture
aside) in a small dialog; accepting queues the job, whose result lands beside the item."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from studio.core.generator import Generator, ImageParam, Param
from studio.ui.param_form import ParamForm


class UpscaleDialog(QDialog):
    """Modal and small: which upscaler, how much, which tile size."""

    def __init__(
        self,
        generator: Generator,
        label: str,
        values: dict[str, Any],
        choices: Callable[[Param], list[tuple[str, str]]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("upscale_dialog")
        self.setWindowTitle(f"{generator.title}: {label}")
        self.setMinimumWidth(420)
        specs = [p for p in generator.params if not isinstance(p, ImageParam)]
        self.form = ParamForm(specs, choices=choices)
        self.form.set_values({k: v for k, v in values.items() if k in {p.name for p in specs}})
        intro = QLabel(f"Enlarge <b>{label}</b>; the result is placed beside it.")
        intro.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Upscale")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.form)
        layout.addWidget(buttons)

    def values(self) -> dict[str, Any]:
        return self.form.values()
