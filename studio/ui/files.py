"""Files brought to the window: images opened or dropped, folders (a batch), model files."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPointF, Signal
from PySide6.QtWidgets import QWidget

from studio.core.generator import Generator
from studio.core.project import SUFFIX
from studio.ui.drop_loader import DropLoader

if TYPE_CHECKING:
    from studio.ui.project_session import ProjectSession

PROJECT_FILTER = f"Studio projects (*{SUFFIX})"


def with_suffix(path: str) -> Path:
    target = Path(path)
    return target if target.suffix == SUFFIX else target.with_name(target.name + SUFFIX)


@dataclass
class _Drop:
    """Files brought in together: placed together once every one is decoded (or failed)."""

    id: str
    at: tuple[float, float] | None
    left: int
    project: Any = None  # where they are kept
    ids: list[int] = field(default_factory=list)


class FileDrops(QObject):
    """Sorts what arrives: images are decoded off the main thread and kept in the project
    (the canvas places them from the project's event), folders become a batch, model files
    are added to the user's models."""

    models_dropped = Signal(list)  # paths
    folders_dropped = Signal(list)  # paths: a batch for the current generator
    images_in = Signal(object, list, object)  # project, item ids of one drop (all in), where
    message = Signal(str, str)
    status = Signal(str)
    unkept = Signal(object, object, object)  # path, image, where: no project to keep it

    def __init__(
        self, session: ProjectSession, parent: QWidget, generators: Sequence[Generator] = ()
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.generators = list(generators)  # asked whether a dropped path is one of its models
        self._parent = parent
        self.loader = DropLoader(self)
        self.loader.store = self._store
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self._drops: dict[str, _Drop] = {}

    def open_images(self) -> None:
        from studio.ui import file_dialogs

        paths = file_dialogs.open_files(
            self._parent, "images", "Import images", file_dialogs.IMAGE_FILTER
        )
        if paths:
            self.load(paths, None)

    def load(self, files: list[Path], at: tuple[float, float] | None) -> None:
        """Decode `files` (two at a time) and keep them; they land together, laid out like
        results, once every one of them is in."""
        drop = _Drop(uuid.uuid4().hex, at, len(files), self.session.project)
        self._drops[drop.id] = drop
        self.loader.load(files, drop.id)

    def paste(self, at: QPointF | None) -> bool:
        """What the clipboard holds: an image (kept as `pasted.png`) or copied files;
        False, with a word, when it holds neither."""
        from PySide6.QtCore import QBuffer, QIODevice
        from PySide6.QtWidgets import QApplication

        mime = QApplication.clipboard().mimeData()
        if mime.hasUrls() and any(u.isLocalFile() for u in mime.urls()):
            self.drop([Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()], at)
            return True
        if not mime.hasImage():
            self.status.emit("The clipboard holds no image to paste")
            return False
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        QApplication.clipboard().image().save(buffer, "BMP")  # raw pixels: quick here
        drop = _Drop(uuid.uuid4().hex, (at.x(), at.y()) if at else None, 1, self.session.project)
        self._drops[drop.id] = drop
        self.loader.load_bytes("pasted.png", bytes(buffer.data()), drop.id)
        return True

    def drop(self, paths: list[Path], at: QPointF | None) -> None:
        models = [p for p in paths if self.model_user(p) is not None]
        if models:
            self.models_dropped.emit(models)
        rest = [p for p in paths if p not in models]
        folders = [p for p in rest if p.is_dir()]
        if folders:
            self.folders_dropped.emit(folders)
        files = [p for p in rest if not p.is_dir()]
        if files:
            self.load(files, (at.x(), at.y()) if at is not None else None)

    def model_user(self, path: Path) -> Generator | None:
        """The first generator that takes `path` as a model (`Generator.accepts_model`)."""
        return next((g for g in self.generators if g.accepts_model(path)), None)

    def add_models(self, paths: list[Path]) -> list[Path]:
        """Remember model files and folders among the user's models; returns the new ones."""
        from studio.core import config

        added = [p for p in paths if config.add_model_path(p)]
        names = ", ".join(p.name for p in paths)
        self.status.emit(
            f"Added {names} to your models" if added else f"{names}: already among your models"
        )
        return added

    def wait(self) -> bool:
        return self.loader.wait()

    def _store(self, path: Path, image: Any, drop_id: str) -> int | None:
        # On a loader thread: the project keeps a copy, so the canvas never loses the image.
        project = self._drops[drop_id].project
        if project is None or project.read_only or project.closed:
            return None
        return project.add_image(image, path.name, str(path), group=drop_id)

    def _on_loaded(self, path: Path, image: Any, drop_id: str, item_id: Any) -> None:
        drop = self._drops[drop_id]
        if item_id is None:
            self.unkept.emit(path, image, drop.at)
        else:
            drop.ids.append(item_id)
        self.status.emit(f"Added {path.name} ({image.width}×{image.height})")
        from studio.core.images import TEXT_LEFT_OUT  # numpy and Pillow: not at start-up

        left_out = image.info.get(TEXT_LEFT_OUT)
        if left_out:
            self.message.emit(
                f"'{path.name}' carries {left_out / 1e6:.1f} MB of embedded text, more than "
                "Studio reads; the picture is complete and was added without that text.",
                "info",
            )
        self._one_done(drop)

    def _on_failed(self, _path: Path, text: str, drop_id: str) -> None:
        self.message.emit(text, "error")
        self._one_done(self._drops[drop_id])

    def _one_done(self, drop: _Drop) -> None:
        drop.left -= 1
        if drop.left == 0:
            del self._drops[drop.id]
            if drop.ids:
                self.images_in.emit(drop.project, sorted(drop.ids), drop.at)
