"""Builds an editing form from a generator's Param specs: one widget per spec."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from studio.core.generator import (
    BoolParam,
    ChoiceParam,
    FloatParam,
    ImageParam,
    IntParam,
    MixParam,
    ModelParam,
    Param,
    SeedParam,
    TextParam,
    random_seed,
)
from studio.ui.input_widgets import MixGrid, PathField

Getter = Callable[[], Any]
Setter = Callable[[Any], None]


class ParamForm(QWidget):
    """The widgets for one generator's params; `values()` reads them, `set_values` fills them."""

    changed = Signal()

    def __init__(
        self,
        params: Sequence[Param],
        parent: QWidget | None = None,
        choices: Callable[[Param], list[tuple[str, str]]] | None = None,
        previews: Callable[[str, int], list | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.params = tuple(params)
        self._choices = choices or (lambda _spec: [])
        self._previews = previews
        self._model_combos: dict[str, QComboBox] = {}
        self._layout = QFormLayout(self)
        self._layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._access: dict[str, tuple[Getter, Setter]] = {}
        self.widgets: dict[str, QWidget] = {}
        self._wide_labels: dict[str, QLabel] = {}
        for spec in self.params:
            widget, getter, setter = self._build(spec)
            widget.setToolTip(spec.help)
            widget.setObjectName(f"param_{spec.name}")
            if isinstance(widget, MixGrid):  # a grid needs the whole width: label above it
                label = QLabel(spec.title)
                self._wide_labels[spec.name] = label
                self._layout.addRow(label)
                self._layout.addRow(widget)
            else:
                self._layout.addRow(spec.title, widget)
            self._access[spec.name] = (getter, setter)
            self.widgets[spec.name] = widget
        self.changed.connect(self._update_visibility)
        self._update_visibility()

    def values(self) -> dict[str, Any]:
        return {name: getter() for name, (getter, _setter) in self._access.items()}

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self._access:
                self._access[name][1](value)
        self._update_visibility()

    def _update_visibility(self) -> None:
        current = self.values()
        for spec in self.params:
            visible = spec.applies(current)
            self._layout.setRowVisible(self.widgets[spec.name], visible)
            if spec.name in self._wide_labels:
                self._layout.setRowVisible(self._wide_labels[spec.name], visible)

    # -- one builder per spec type

    def _build(self, spec: Param) -> tuple[QWidget, Getter, Setter]:
        builders: list[tuple[type, Callable[[Any], tuple[QWidget, Getter, Setter]]]] = [
            (SeedParam, self._seed),
            (BoolParam, self._bool),
            (IntParam, self._int),
            (FloatParam, self._float),
            (ChoiceParam, self._choice),
            (TextParam, self._text),
            (ImageParam, self._image),
            (MixParam, self._mix),
            (ModelParam, self._model),
        ]
        for kind, build in builders:
            if isinstance(spec, kind):
                return build(spec)
        edit = QLineEdit(str(spec.default or ""))
        edit.textChanged.connect(self.changed)
        return edit, edit.text, lambda v: edit.setText(str(v))

    def _int(self, spec: IntParam) -> tuple[QWidget, Getter, Setter]:
        box = QSpinBox()
        box.setRange(spec.minimum, spec.maximum)
        box.setSingleStep(spec.step)
        box.setValue(spec.default)
        box.valueChanged.connect(self.changed)
        return box, box.value, lambda v: box.setValue(int(v))

    def _float(self, spec: FloatParam) -> tuple[QWidget, Getter, Setter]:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        scale = 10**spec.decimals
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(round(spec.minimum * scale), round(spec.maximum * scale))
        box = QDoubleSpinBox()
        box.setDecimals(spec.decimals)
        box.setRange(spec.minimum, spec.maximum)
        box.setSingleStep(spec.step)
        box.setValue(spec.default)
        slider.setValue(round(spec.default * scale))
        slider.valueChanged.connect(lambda v: box.setValue(v / scale))
        box.valueChanged.connect(lambda v: slider.setValue(round(v * scale)))
        box.valueChanged.connect(self.changed)
        layout.addWidget(slider, 1)
        layout.addWidget(box)
        return row, box.value, lambda v: box.setValue(float(v))

    def _choice(self, spec: ChoiceParam) -> tuple[QWidget, Getter, Setter]:
        combo = _combo()
        for value in spec.choices:
            combo.addItem(spec.label_of(value), value)
        combo.setCurrentIndex(max(0, combo.findData(spec.default)))
        combo.currentIndexChanged.connect(self.changed)
        return combo, combo.currentData, lambda v: combo.setCurrentIndex(max(0, combo.findData(v)))

    def _bool(self, spec: BoolParam) -> tuple[QWidget, Getter, Setter]:
        box = QCheckBox()
        box.setChecked(bool(spec.default))
        box.toggled.connect(self.changed)
        return box, box.isChecked, lambda v: box.setChecked(bool(v))

    def _text(self, spec: TextParam) -> tuple[QWidget, Getter, Setter]:
        if spec.multiline:
            area = QPlainTextEdit(spec.default)
            area.setTabChangesFocus(True)
            area.setMaximumHeight(120)
            area.textChanged.connect(self.changed)
            return area, area.toPlainText, lambda v: area.setPlainText(str(v))
        edit = QLineEdit(spec.default)
        edit.setMaxLength(spec.max_length)
        edit.textChanged.connect(self.changed)
        return edit, edit.text, lambda v: edit.setText(str(v))

    def _seed(self, spec: SeedParam) -> tuple[QWidget, Getter, Setter]:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        edit = QLineEdit()
        edit.setPlaceholderText("random")
        edit.setValidator(QRegularExpressionValidator(r"\d{0,10}"))
        edit.setClearButtonEnabled(True)
        dice = QToolButton()
        dice.setText("Roll")
        dice.setToolTip("Pick a random seed now (leave empty for a new one every time)")
        dice.clicked.connect(lambda: edit.setText(str(random_seed())))
        edit.textChanged.connect(self.changed)
        layout.addWidget(edit, 1)
        layout.addWidget(dice)

        def get() -> int | None:
            text = edit.text().strip()
            return int(text) if text else None  # the spec rejects values past SEED_MAX

        return row, get, lambda v: edit.setText("" if v is None else str(v))

    def refresh_choices(self) -> None:
        """Re-read the models a ModelParam offers (after one was installed or trained)."""
        for name, combo in self._model_combos.items():
            current = combo.currentData() or combo.currentText()
            self._fill(combo, self._spec(name))
            self._select(combo, current)

    def _spec(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def _model(self, spec: ModelParam) -> tuple[QWidget, Getter, Setter]:
        combo = _combo()
        combo.setEditable(True)  # a path to the user's own file works too
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.lineEdit().setPlaceholderText(
            "none" if spec.optional else "a path, or drop a model on the window"
        )
        self._fill(combo, spec)
        self._select(combo, spec.default)
        combo.currentTextChanged.connect(self.changed)
        combo.currentIndexChanged.connect(lambda _i: combo.lineEdit().setCursorPosition(0))
        self._model_combos[spec.name] = combo

        def get() -> str | None:
            index = combo.findText(combo.currentText())
            value = combo.itemData(index) if index >= 0 else combo.currentText().strip()
            return value or None

        return combo, get, lambda v: self._select(combo, v)

    def _fill(self, combo: QComboBox, spec: Param) -> None:
        combo.blockSignals(True)
        combo.clear()
        if getattr(spec, "optional", False):
            combo.addItem("None", "")
        for value, label in self._choices(spec):
            combo.addItem(label, value)
        combo.blockSignals(False)

    @staticmethod
    def _select(combo: QComboBox, value: Any) -> None:
        index = combo.findData(value)
        if index >= 0:
            combo.setCurrentIndex(index)
        elif value:
            combo.setEditText(str(value))
        if combo.lineEdit() is not None:  # show a long label from its start: the name
            combo.lineEdit().setCursorPosition(0)

    def _path(self, spec: Param, images: bool = False) -> tuple[QWidget, Getter, Setter]:
        field = PathField(spec, images)
        field.changed.connect(self.changed)
        return field, field.value, field.set_value

    def _image(self, spec: ImageParam) -> tuple[QWidget, Getter, Setter]:
        return self._path(spec, images=True)

    def _mix(self, spec: MixParam) -> tuple[QWidget, Getter, Setter]:
        make = None
        if self._previews is not None:
            make = lambda side, name=spec.name: self._previews(name, side)  # noqa: E731
        grid = MixGrid(spec, make)
        grid.changed.connect(self.changed)
        return grid, grid.value, grid.set_value


def _combo() -> QComboBox:
    # Long entries (trained model names) must not widen the form past its dock.
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(10)
    return combo
