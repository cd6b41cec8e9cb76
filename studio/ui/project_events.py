"""The open project's events as main-thread Qt signals.

A project announces its commits on the thread that wrote (the worker, a file loader, the main
thread). Views subscribe here instead: each event is relayed to the main thread, and one that
arrives after the user switched projects is dropped, so a view never mixes two projects.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.project import Project

_NAMES = (
    "items_added",
    "items_changed",
    "items_removed",
    "items_restored",
    "layout_changed",
    "queue_changed",
)


class ProjectEvents(QObject):
    """Relays the watched project's events; `watch` switches projects."""

    items_added = Signal(object)  # ItemsAdded
    items_changed = Signal(list)
    items_removed = Signal(list)
    items_restored = Signal(list)
    layout_changed = Signal()
    queue_changed = Signal()
    _relay = Signal(object, str, tuple)  # project, event name, arguments

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self._callbacks: list[tuple[Any, Any]] = []
        self._relay.connect(self._deliver)

    def watch(self, project: Project | None) -> None:
        for signal, callback in self._callbacks:
            signal.disconnect(callback)
        self._callbacks = []
        self.project = project
        if project is None:
            return
        for name in _NAMES:
            signal = getattr(project.events, name)
            callback = _forward(self._relay, project, name)
            signal.connect(callback)
            self._callbacks.append((signal, callback))

    def _deliver(self, project: Project, name: str, args: tuple) -> None:
        if project is self.project:  # an event of a project the user has left is dropped
            getattr(self, name).emit(*args)


def _forward(relay: Any, project: Project, name: str) -> Any:
    def forward(*args: Any) -> None:
        relay.emit(project, name, args)  # queued when emitted off the main thread

    return forward
