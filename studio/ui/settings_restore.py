"""Dropping an image on the Generate panel: fill the form from the settings it carries."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from studio.core.registry import Registry
from studio.ui.metadata_reader import MetadataReader

if TYPE_CHECKING:
    from studio.ui.prompt_panel import PromptPanel


class SettingsRestorer(QObject):
    """Reads ours, A1111's, ComfyUI's or InvokeAI's metadata into the right generator's form."""

    message = Signal(str, str)  # text, level
    models_dropped = Signal(list)  # a model file dropped on the panel: add it, as anywhere

    def __init__(
        self, registry: Registry, panel: PromptPanel, parent: Any = None, models_dir: Any = None
    ) -> None:
        super().__init__(parent)
        self.registry, self.panel, self.models_dir = registry, panel, models_dir
        self.reader = MetadataReader(self)  # reads on a pool thread: the window never waits
        self.reader.metadata_read.connect(self._apply)
        self.reader.read_failed.connect(lambda _path, text: self.message.emit(text, "error"))

    def restore(self, path: Path) -> None:
        if any(g.accepts_model(path) for g in self.registry.generators()):
            self.models_dropped.emit([path])
            return
        self.reader.read(path)

    def _apply(self, path: Path, meta: Any) -> None:
        from studio.core.metadata_restore import restore_values

        if meta.source_format is None:  # say why when a text was skipped as too large
            skipped = [note for note in meta.notes if "limit" in note]
            text = f"'{path.name}': {' '.join(skipped)}" if skipped else ""
            self.message.emit(text or f"'{path.name}' carries no generation settings.", "warning")
            return
        target = self._generator_for(meta)
        values, notes = restore_values(meta, target.params, title=target.title)
        values, checked = target.restore(values, self.models_dir, carried=meta.params)
        notes += checked
        self.panel.set_values(target.id, values)
        found = f"Restored {len(values)} setting(s) for {target.title} from {meta.source_format}"
        missed = meta.notes + notes
        text = f"{found} metadata in '{path.name}'." + (
            "\nNot restored: " + "; ".join(missed) if missed else ""
        )
        self.message.emit(text, "warning" if missed else "info")

    def _generator_for(self, meta: Any) -> Any:
        # The image's own generator, else one that takes a prompt, else the one on screen.
        if meta.generator in self.registry:
            return self.registry.get(meta.generator)
        if "prompt" in meta.params:
            for generator in self.registry.generators():
                if any(p.name == "prompt" for p in generator.params):
                    return generator
        current = self.panel.generators.get(self.panel.current_id)
        return current or self.registry.generators()[0]
