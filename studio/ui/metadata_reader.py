"""Reads an image's generation settings off the main thread: a slow disk or a hostile file
never freezes the window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Relay(QObject):
    read = Signal(object, object)  # path, ImageMetadata
    failed = Signal(object, str)  # path, message


class _Task(QRunnable):
    def __init__(self, path: Path, relay: _Relay) -> None:
        super().__init__()
        self._path, self._relay = path, relay

    def run(self) -> None:
        from studio.core.images import ImageLoadError
        from studio.core.metadata_read import read_metadata

        try:
            meta = read_metadata(self._path)
        except ImageLoadError as exc:
            self._relay.failed.emit(self._path, str(exc))
        except Exception as exc:  # noqa: BLE001 - a reader bug must not kill the pool thread
            self._relay.failed.emit(
                self._path, f"Could not read the settings of '{self._path.name}': {exc}"
            )
        else:
            self._relay.read.emit(self._path, meta)


class MetadataReader(QObject):
    """Reads files' settings one at a time, in order; results arrive as main-thread signals."""

    metadata_read = Signal(object, object)  # path, ImageMetadata
    read_failed = Signal(object, str)  # path, message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # in drop order: the last file dropped fills the form
        self._relay = _Relay(self)
        self._relay.read.connect(self._finish_read)
        self._relay.failed.connect(self._finish_failed)
        self.pending = 0

    def read(self, path: Path | str) -> None:
        """Start reading `path`; `metadata_read` or `read_failed` follows."""
        self.pending += 1
        self._pool.start(_Task(Path(path), self._relay))

    def wait(self, msecs: int = 30_000) -> bool:
        return self._pool.waitForDone(msecs)

    def _finish_read(self, path: Any, meta: Any) -> None:
        self.pending -= 1
        self.metadata_read.emit(path, meta)

    def _finish_failed(self, path: Any, message: str) -> None:
        self.pending -= 1
        self.read_failed.emit(path, message)
