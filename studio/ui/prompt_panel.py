"""The generator picker and its parameter form; builds Requests and asks for them to run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.generator import Generator, ParamError, Request
from studio.ui.param_form import ParamForm
from studio.ui.preset_bar import PresetBar

FORMS_KEY = "forms"
SAVE_DELAY_MS = 500


class PromptPanel(QWidget):
    """One form per generator (values kept when switching); Generate emits a validated Request."""

    generate_requested = Signal(object, str)  # Request, title
    image_dropped = Signal(object)  # Path: restore the settings it carries
    grid_requested = Signal()  # the user asked for a comparison grid of the current generator

    def __init__(
        self,
        generators: list[Generator],
        unavailable: dict[str, str],
        parent: QWidget | None = None,
        models_dir: Any = None,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings  # each form's values are kept here, so a restart keeps them
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_values)
        self.generators = {g.id: g for g in generators}
        self.unavailable = dict(unavailable)
        self.picker = QComboBox()
        self.picker.setObjectName("generator_picker")
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setObjectName("generator_description")
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setObjectName("generator_notice")
        self.notice.setStyleSheet("color: #f0a35e;")
        self.forms = QStackedWidget()
        self.presets = PresetBar(models_dir)
        self.presets.applied.connect(self._on_preset)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ff7b7b;")
        self.error.hide()
        self.generate_button = QPushButton("Generate  (Ctrl+Enter)")
        self.generate_button.setObjectName("generate")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.request_generate)
        self.grid_button = QPushButton("Comparison grid…")
        self.grid_button.setObjectName("grid")
        self.grid_button.setToolTip(
            "Vary up to three settings and see the results side by side (X/Y/Z plot)"
        )
        self.grid_button.clicked.connect(self.grid_requested)

        self._form_of: dict[str, ParamForm] = {}
        self._models_dir = models_dir
        for generator in generators:  # forms are built when first needed: a quicker start
            self.picker.addItem(generator.title, generator.id)
        for name in self.unavailable:
            if name not in self.generators:  # a plugin that failed to import
                self.picker.addItem(f"{name} (unavailable)", name)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.forms)

        layout = QVBoxLayout(self)
        layout.addWidget(self.picker)
        layout.addWidget(self.description)
        layout.addWidget(self.notice)
        layout.addWidget(self.presets)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.generate_button)
        layout.addWidget(self.grid_button)
        self.picker.currentIndexChanged.connect(self._on_pick)
        self._on_pick()
        self.setAcceptDrops(True)
        self.setToolTip("Drop an image here to restore the settings that made it")

    @property
    def current_id(self) -> str:
        return self.picker.currentData() or ""

    @property
    def models_dir(self) -> Any:
        """The user's model folder the forms list their models from."""
        return self._models_dir

    def select(self, generator_id: str) -> None:
        index = self.picker.findData(generator_id)
        if index >= 0:
            self.picker.setCurrentIndex(index)

    def form(self, generator_id: str | None = None) -> ParamForm | None:
        """The form of a generator (the current one by default), built on first use."""
        gid = generator_id or self.current_id
        generator = self.generators.get(gid)
        if generator is None:
            return None
        if gid not in self._form_of:
            models_dir = self._models_dir
            form = ParamForm(
                generator.params,
                choices=lambda spec, g=generator: g.choices_for(spec, models_dir),
                previews=lambda name, side, g=generator: g.choice_previews(name, models_dir, side),
                suggest=lambda values, g=generator: g.suggested_values(values, models_dir),
            )
            self._form_of[gid] = form
            self.forms.addWidget(form)
            self._restore_values(gid, form)
            form.changed.connect(self._save_timer.start)
        return self._form_of[gid]

    def save_values(self) -> None:
        """Keep every built form's values (and which generator is picked) in the settings."""
        self._save_timer.stop()
        if self.settings is None:
            return
        for gid, form in self._form_of.items():
            try:
                text = json.dumps(form.values())
            except (TypeError, ValueError):  # a value that is no JSON: not kept
                continue
            self.settings.setValue(f"{FORMS_KEY}/{gid}", text)
        if self.current_id:
            self.settings.setValue(f"{FORMS_KEY}/current", self.current_id)

    def restore_current(self) -> None:
        """Pick the generator that was picked when Studio last closed."""
        if self.settings is not None:
            self.select(str(self.settings.value(f"{FORMS_KEY}/current") or ""))

    def _restore_values(self, gid: str, form: ParamForm) -> None:
        if self.settings is None:
            return
        text = self.settings.value(f"{FORMS_KEY}/{gid}")
        try:
            values = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            values = None
        if isinstance(values, dict):
            known = {p.name for p in form.params}
            form.set_values({k: v for k, v in values.items() if k in known})

    def refresh_model_choices(self) -> None:
        """Re-read the models every built form offers (after model folders changed)."""
        for form in self._form_of.values():
            form.refresh_choices()

    def refresh_choices_of(self, generator_id: str) -> None:
        """Re-read one generator's choices (a job of it may have added some), if its form
        is built."""
        form = self._form_of.get(generator_id)
        if form is not None:
            form.refresh_choices()

    def form_values(self, generator_id: str) -> dict:
        """The values of a generator's form (built now if it was not yet)."""
        form = self.form(generator_id)
        return form.values() if form is not None else {}

    def built_forms(self) -> list[ParamForm]:
        """The forms built so far (the others will read fresh choices when built)."""
        return list(self._form_of.values())

    def set_values(self, generator_id: str, values: dict[str, Any]) -> None:
        self.select(generator_id)
        form = self.form(generator_id)
        if form is not None:
            form.set_values(values)

    def build_request(self) -> Request | None:
        """A validated request from the form, or None (the reason is shown under the form)."""
        generator = self.generators.get(self.current_id)
        form = self.form()
        if generator is None or form is None or self.current_id in self.unavailable:
            return None
        try:
            request = generator.make_request(form.values())
        except ParamError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return None
        self.error.hide()
        return request

    def request_generate(self) -> None:
        request = self.build_request()
        if request is not None:
            generator = self.generators[request.generator]
            self.generate_requested.emit(request, generator.summary(request))

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.image_dropped.emit(Path(paths[0]))

    def _on_pick(self) -> None:
        gid = self.current_id
        generator = self.generators.get(gid)
        form = self.form()
        if form is not None:
            self.forms.setCurrentWidget(form)
        self.forms.setVisible(form is not None)
        self.description.setText(generator.description if generator else "")
        reason = self.unavailable.get(gid)
        self.notice.setText(f"Unavailable: {reason}" if reason else "")
        self.notice.setVisible(bool(reason))
        self.generate_button.setEnabled(generator is not None and not reason)
        self.grid_button.setEnabled(self.generate_button.isEnabled())
        self.error.hide()
        self.presets.show_for(None if reason else generator, form)

    def _on_preset(self, name: str, note: str) -> None:
        self.notice.setText(f"{name}: {note}" if note else name)
        self.notice.setVisible(True)
