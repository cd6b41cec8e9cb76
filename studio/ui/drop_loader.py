"""Decodes dropped files off the main thread, so a huge or slow file never freezes the window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Relay(QObject):
    loaded = Signal(object, object, object, object)  # path, PIL image, context, stored id
    failed = Signal(object, str, object)  # path, message, context


class _Task(QRunnable):
    def __init__(
        self, path: Path, context: Any, relay: _Relay, store: Any, data: bytes | None = None
    ) -> None:
        super().__init__()
        self._path, self._context, self._relay, self._store = path, context, relay, store
        self._data = data  # the encoded image itself (a paste), `path` only names it

    def run(self) -> None:
        from studio.core.images import ImageLoadError, load_image  # numpy: not at start-up

        try:
            source = self._data if self._data is not None else self._path
            image = load_image(source, name=self._path.name)
            store = self._store
            stored = store(self._path, image, self._context) if store is not None else None
        except ImageLoadError as exc:
            self._relay.failed.emit(self._path, str(exc), self._context)
        except Exception as exc:  # noqa: BLE001 - a decoder bug must not kill the pool thread
            self._relay.failed.emit(
                self._path, f"Could not open '{self._path.name}': {exc}", self._context
            )
        else:
            self._relay.loaded.emit(self._path, image, self._context, stored)


class DropLoader(QObject):
    """Loads files with the one safe loader; results arrive as main-thread signals."""

    loaded = Signal(object, object, object, object)  # path, image, context, stored id
    failed = Signal(object, str, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._relay = _Relay(self)
        self._relay.loaded.connect(self.loaded)
        self._relay.failed.connect(self.failed)
        self.pending = 0
        self.store: Any = None  # (path, image, context) -> id, called on the loading thread
        self.loaded.connect(self._done)
        self.failed.connect(self._done)

    def load(self, paths: list[Path], context: Any = None) -> None:
        for path in paths:
            self.pending += 1
            self._pool.start(_Task(Path(path), context, self._relay, self.store))

    def load_bytes(self, name: str, data: bytes, context: Any = None) -> None:
        """An image that is no file (a paste), decoded the same way."""
        self.pending += 1
        self._pool.start(_Task(Path(name), context, self._relay, self.store, data))

    def _done(self, *_: Any) -> None:
        self.pending -= 1

    def wait(self, msecs: int = 30_000) -> bool:
        return self._pool.waitForDone(msecs)
