"""Dropping an image on the Generate panel: fill the form from the settings it carries."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from studio.core.registry import Registry
from studio.ui.files import is_model

if TYPE_CHECKING:
    from studio.ui.prompt_panel import PromptPanel


class SettingsRestorer(QObject):
    """Reads ours, A1111's, ComfyUI's or InvokeAI's metadata into the right generator's form."""

    message = Signal(str, str)  # text, level
    models_dropped = Signal(list)  # a model file dropped on the panel: add it, as anywhere

    def __init__(self, registry: Registry, panel: PromptPanel, parent: Any = None) -> None:
        super().__init__(parent)
        self.registry, self.panel = registry, panel

    def restore(self, path: Path) -> None:
        from studio.core.images import ImageLoadError
        from studio.core.metadata import read_metadata, restore_values

        if is_model(path):
            self.models_dropped.emit([path])
            return
        try:
            meta = read_metadata(path)
        except ImageLoadError as exc:
            self.message.emit(str(exc), "error")
            return
        if meta.source_format is None:
            self.message.emit(f"'{path.name}' carries no generation settings.", "warning")
            return
        target = self._generator_for(meta)
        values, notes = restore_values(meta, target.params, title=target.title)
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
