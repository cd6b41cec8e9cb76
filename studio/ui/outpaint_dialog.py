"""The canvas's "Extend…": how far to extend a picture (by pixels per side, or to an aspect
ratio), how to pre-fill the new area, and how soft the seam is."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.outpaint import Margins, OutpaintError, margins_for_ratio, parse_ratio, to_multiple

RATIOS = ("16:9", "3:2", "4:3", "1:1", "3:4", "2:3", "9:16")
FILL_LABELS = {"stretch": "Stretch the edges", "blur": "Blurred edges"}


class ExtendDialog(QDialog):
    """Asks for the margins of an outpainting; `margins()` and `fill` once accepted."""

    def __init__(self, parent: QWidget | None, size: tuple[int, int], remark: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Extend the picture")
        self.width_, self.height_ = size
        layout = QVBoxLayout(self)
        self.by_pixels = QRadioButton("By pixels")
        self.by_ratio = QRadioButton("To an aspect ratio")
        self.by_pixels.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.by_pixels)
        group.addButton(self.by_ratio)
        layout.addWidget(self.by_pixels)
        sides = QGridLayout()
        self.sides: dict[str, QSpinBox] = {}
        for index, (name, label) in enumerate(
            (("left", "Left"), ("right", "Right"), ("top", "Up"), ("bottom", "Down"))
        ):
            spin = QSpinBox()
            spin.setRange(0, 2048)
            spin.setSingleStep(64)
            spin.setSuffix(" px")
            spin.setValue(128 if name == "right" else 0)
            self.sides[name] = spin
            sides.addWidget(QLabel(label), index // 2, (index % 2) * 2)
            sides.addWidget(spin, index // 2, (index % 2) * 2 + 1)
            spin.valueChanged.connect(self._update)
        layout.addLayout(sides)
        layout.addWidget(self.by_ratio)
        self.ratio = QComboBox()
        self.ratio.setEditable(True)
        self.ratio.addItems(RATIOS)
        self.ratio.currentTextChanged.connect(self._update)
        layout.addWidget(self.ratio)
        form = QFormLayout()
        self.fill = QComboBox()
        for value, label in FILL_LABELS.items():
            self.fill.addItem(label, value)
        self.fill.setToolTip("What the new area starts from, so the model continues the picture")
        form.addRow("Pre-fill", self.fill)
        self.feather = QSpinBox()
        self.feather.setRange(0, 256)
        self.feather.setValue(32)
        self.feather.setSuffix(" px")
        self.feather.setToolTip("How far into the picture the new pixels blend in")
        form.addRow("Seam", self.feather)
        layout.addLayout(form)
        self.size_label = QLabel()
        layout.addWidget(self.size_label)
        self.remark = QLabel(remark)
        self.remark.setWordWrap(True)
        self.remark.setVisible(bool(remark))
        self.remark.setStyleSheet("color: #c98a00;")
        layout.addWidget(self.remark)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Extend")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.by_pixels.toggled.connect(self._update)
        self._update()

    def margins(self) -> Margins:
        """The margins asked for, grown to sides of multiples of 8 (OutpaintError if none)."""
        if self.by_ratio.isChecked():
            ratio = parse_ratio(self.ratio.currentText())
            margins = margins_for_ratio(self.width_, self.height_, ratio)
        else:
            margins = Margins(**{name: spin.value() for name, spin in self.sides.items()})
        if not any((margins.left, margins.right, margins.top, margins.bottom)):
            raise OutpaintError("The picture already has that shape: extend by some pixels")
        return to_multiple(margins, self.width_, self.height_)

    @property
    def fill_mode(self) -> str:
        return str(self.fill.currentData())

    def _update(self, *_: Any) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        for spin in self.sides.values():
            spin.setEnabled(self.by_pixels.isChecked())
        self.ratio.setEnabled(self.by_ratio.isChecked())
        try:
            width, height = self.margins().size(self.width_, self.height_)
        except OutpaintError as exc:
            self.size_label.setText(str(exc))
            ok.setEnabled(False)
            return
        ok.setEnabled(True)
        self.size_label.setText(f"{self.width_}×{self.height_} → {width}×{height} px")
