"""Builds an editing form from a generator's Param specs: one widget per spec."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
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
    FolderParam,
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

log = logging.getLogger(__name__)
Getter = Callable[[], Any]
Setter = Callable[[Any], None]


class _ScanRelay(QObject):
    done = Signal(str, int, object)  # param name, request number, choices or None


class _Scan(QRunnable):
    def __init__(self, name: str, number: int, find: Callable[[], list], relay: _ScanRelay):
        super().__init__()
        self._name, self._number, self._find, self._relay = name, number, find, relay

    def run(self) -> None:
        try:
            choices = self._find()
        except Exception:  # noqa: BLE001 - the field stays free text; the job says what is wrong
            log.warning("listing the choices of %s failed", self._name, exc_info=True)
            choices = None
        with contextlib.suppress(RuntimeError):  # the form closed meanwhile
            self._relay.done.emit(self._name, self._number, choices)


class ParamForm(QWidget):
    """The widgets for one generator's params; `values()` reads them, `set_values` fills them."""

    changed = Signal()
    choices_ready = Signal(str)  # a scanned ModelParam's list is filled in

    def __init__(
        self,
        params: Sequence[Param],
        parent: QWidget | None = None,
        choices: Callable[[Param], list[tuple[str, str]]] | None = None,
        previews: Callable[[str, int], list | None] | None = None,
        suggest: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.params = tuple(params)
        self._suggest = suggest
        self._suggesting = False
        self.user_set: set[str] = set()  # params the user (or a restore) set: never suggested
        self._choices = choices or (lambda _spec: [])
        self._previews = previews
        self._model_combos: dict[str, QComboBox] = {}
        # Created before the relay, so destroyed first: it waits for a scan still running,
        # which then reports to a relay that is still there.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _ScanRelay(self)
        self._relay.done.connect(self._scanned)
        self._scans: dict[str, int] = {}  # the latest scan asked for, per param
        self.scanning = 0
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
        self._last = self.values()
        self.changed.connect(self._follow)
        self._update_visibility()

    def values(self) -> dict[str, Any]:
        return {name: getter() for name, (getter, _setter) in self._access.items()}

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self._access:
                self._access[name][1](value)
        self._update_visibility()

    def _follow(self) -> None:
        """Note which params changed by hand; when a model changed, take the generator's
        suggestions for the params the user has not set."""
        if self._suggesting:
            return
        current = self.values()
        moved = {name for name, value in current.items() if self._last.get(name) != value}
        self.user_set |= moved
        self._last = current
        models = {s.name for s in self.params if isinstance(s, ModelParam)}
        if self._suggest is None or not moved & models:
            return
        try:
            wanted = self._suggest(current)
        except Exception:  # noqa: BLE001 - a suggestion is never worth an error
            log.warning("suggesting values failed", exc_info=True)
            return
        wanted = {k: v for k, v in wanted.items() if k in self._access and k not in self.user_set}
        if wanted:
            self._suggesting = True
            try:
                self.set_values(wanted)
            finally:
                self._suggesting = False
            self._last = self.values()

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
            (FolderParam, self._folder),
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
        # The box takes its value when the user is done typing (Enter, Tab, leaving it), not
        # at every key: otherwise "0.3" of "0.35" moves the slider, which rewrites the text.
        box.setKeyboardTracking(False)
        slider.setValue(round(spec.default * scale))

        def from_slider(v: int) -> None:
            if round(box.value() * scale) != v:  # a drag: the box follows
                box.setValue(v / scale)

        def from_box(v: float) -> None:
            slider.blockSignals(True)  # the box's exact value stays; the slider only shows it
            slider.setValue(round(v * scale))
            slider.blockSignals(False)

        slider.valueChanged.connect(from_slider)
        box.valueChanged.connect(from_box)
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
        edit.setValidator(QRegularExpressionValidator(r"\d{0,20}"))  # up to 2**64 - 1
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
            spec = self._spec(name)
            if getattr(spec, "scan", False):
                self._scan(spec)
                continue
            current = combo.currentData() or combo.currentText()
            self._fill(combo, spec)
            self._select(combo, current)

    def _scan(self, spec: Param) -> None:
        """List a ModelParam's choices on a pool thread; the field stays usable meanwhile."""
        number = self._scans.get(spec.name, 0) + 1
        self._scans[spec.name] = number
        self.scanning += 1
        self._model_combos[spec.name].setToolTip(f"{spec.help}\n(looking for models…)")
        self._pool.start(_Scan(spec.name, number, lambda: self._choices(spec), self._relay))

    def _scanned(self, name: str, number: int, choices: list | None) -> None:
        self.scanning -= 1
        if number != self._scans.get(name):  # a newer scan is on its way
            return
        combo, spec = self._model_combos[name], self._spec(name)
        combo.setToolTip(spec.help)
        if choices is not None:
            current = combo.currentData() or combo.currentText() or spec.default
            self._fill(combo, spec, choices)
            self._select(combo, current)
            self._follow()  # a model now chosen may suggest its size
        self.choices_ready.emit(name)

    def _spec(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def _model(self, spec: ModelParam) -> tuple[QWidget, Getter, Setter]:
        combo = _combo()
        combo.setEditable(True)  # a path to the user's own file works too
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.lineEdit().setPlaceholderText(
            "none" if spec.optional else "a path, or drop a model on the window"
        )
        self._model_combos[spec.name] = combo
        if spec.scan:
            self._fill(combo, spec, [])
            self._scan(spec)
        else:
            self._fill(combo, spec)
            self._select(combo, spec.default)
        combo.currentTextChanged.connect(self.changed)
        combo.currentIndexChanged.connect(lambda _i: combo.lineEdit().setCursorPosition(0))

        def get() -> str | None:
            index = combo.findText(combo.currentText())
            value = combo.itemData(index) if index >= 0 else combo.currentText().strip()
            return value or None

        return combo, get, lambda v: self._select(combo, v)

    def _fill(self, combo: QComboBox, spec: Param, choices: list | None = None) -> None:
        combo.blockSignals(True)
        combo.clear()
        if getattr(spec, "optional", False):
            combo.addItem("None", "")
        for value, label in self._choices(spec) if choices is None else choices:
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

    def _folder(self, spec: FolderParam) -> tuple[QWidget, Getter, Setter]:
        field = PathField(spec, images=False, folder=True)
        field.changed.connect(self.changed)
        return field, field.value, field.set_value

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
