"""Which project is open: opening, switching, recent files, and saving the canvas as it changes.

There is no "save": results are committed by the worker as they arrive, and the canvas is
written within a second of any change. Switching writes the canvas first; the project left
behind goes to `release` (the job controller's, which closes it once no job of its own still
runs; by default it is closed at once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer, Signal

from studio.core.project import Layer, Project, ProjectError, ProjectLockedError

log = logging.getLogger(__name__)
RECENT_KEY = "projects/recent"
RECENT_MAX = 8
LAYOUT_DELAY_MS = 400


class ProjectSession(QObject):
    """Holds the open Project; emits `changed` when another one is opened."""

    changed = Signal(object)  # the new Project
    message = Signal(str, str)  # text, level: for the banner

    def __init__(
        self,
        settings: QSettings | None,
        layers: Callable[[], list[Layer]],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.project: Project | None = None
        # A project still open for a job of its own, when the user goes back to it.
        self.reusable: Callable[[Path], Project | None] = lambda _path: None
        self.release: Callable[[Project], None] = Project.close
        self._layers = layers
        self._layout_timer = QTimer(self)
        self._layout_timer.setSingleShot(True)
        self._layout_timer.setInterval(LAYOUT_DELAY_MS)
        self._layout_timer.timeout.connect(self.save_layout)

    # -- opening

    def open(self, path: Path, create: bool = False) -> bool:
        """Open `path` (read-only if another Studio has it); False, with a message, if it
        cannot be opened: the current project then stays open."""
        kept = self.reusable(path)
        if kept is not None:
            self._switch(kept)
            return True
        try:
            project = Project.open(path, create=create)
        except ProjectLockedError as exc:
            try:
                project = Project.open(path, read_only=True)
            except ProjectError as again:
                self.message.emit(str(again), "error")
                return False
            self.message.emit(
                f"{exc} It is open read-only here: use File → Save As to work on a copy.",
                "warning",
            )
        except ProjectError as exc:
            self.message.emit(str(exc), "error")
            return False
        self._switch(project)
        return True

    def open_startup(self, default: Path) -> None:
        """The last project, or `default` (created if needed) when there is none."""
        last = self.recent()[0] if self.recent() else None
        if last is not None and last.exists() and self.open(last):
            return
        default.parent.mkdir(parents=True, exist_ok=True)
        if not self.open(default, create=True):
            fallback = default.with_name(f"{default.stem}-recovered{default.suffix}")
            self.open(fallback, create=True)

    def adopt(self, project: Project) -> None:
        """Make an already opened project the current one."""
        self._switch(project)

    def save_as(self, target: Path) -> bool:
        if self.project is None:
            return False
        self.save_layout()
        try:
            copy = self.project.save_as(target)
        except ProjectError as exc:
            self.message.emit(str(exc), "error")
            return False
        return self.open(copy)

    def close(self) -> None:
        self.save_layout()
        if self.project is not None:
            self.project.close()
            self.project = None

    def _switch(self, project: Project) -> None:
        self.save_layout()
        previous, self.project = self.project, project
        self._remember(project.path)
        self.changed.emit(project)  # the views leave the previous project first
        if previous is not None and previous is not project:
            self.release(previous)

    # -- the canvas

    def layout_changed(self) -> None:
        """Call on every canvas change; the write happens once things settle."""
        self._layout_timer.start()

    def save_layout(self) -> None:
        self._layout_timer.stop()
        if self.project is None or self.project.read_only:
            return
        try:
            self.project.save_layout(self._layers())
        except Exception as exc:  # noqa: BLE001 - sqlite errors (disk full, I/O) included
            log.exception("could not save the canvas")
            self.message.emit(f"The canvas could not be saved: {exc}", "error")

    # -- recent files

    def recent(self) -> list[Path]:
        if self.settings is None:
            return []
        value = self.settings.value(RECENT_KEY) or []
        return [Path(p) for p in ([value] if isinstance(value, str) else value)]

    def _remember(self, path: Path) -> None:
        if self.settings is None:
            return
        paths = [str(path)] + [str(p) for p in self.recent() if p != path]
        self.settings.setValue(RECENT_KEY, paths[:RECENT_MAX])
