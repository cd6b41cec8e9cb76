"""File dialogs that start where the user last was, for each kind of file.

Each call names its purpose ("images", "projects", "models", ...); the folder of the last
file chosen for that purpose is kept in Studio's settings and is where the next dialog for it
opens, also after a restart.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

from studio.core.paths import data_dir

KEY = "folders/{}"
# what Studio opens (Pillow reads more; these are the kinds artists bring) and what it saves
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.gif *.bmp *.tif *.tiff);;All files (*)"
SAVE_IMAGE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp)"


def _settings() -> QSettings:
    return QSettings(str(data_dir() / "settings.ini"), QSettings.Format.IniFormat)


def last_folder(purpose: str, default: Path | None = None) -> Path:
    """Where the dialog for `purpose` opens: the last folder used for it, if it still exists."""
    stored = _settings().value(KEY.format(purpose))
    if isinstance(stored, str) and Path(stored).is_dir():
        return Path(stored)
    return default if default is not None else Path.home()


def remember(purpose: str, path: str | Path) -> None:
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    settings = _settings()
    settings.setValue(KEY.format(purpose), str(folder))
    settings.sync()


def open_files(parent: QWidget, purpose: str, title: str, filters: str) -> list[Path]:
    paths, _ = QFileDialog.getOpenFileNames(parent, title, str(last_folder(purpose)), filters)
    if paths:
        remember(purpose, paths[0])
    return [Path(p) for p in paths]


def open_file(
    parent: QWidget, purpose: str, title: str, filters: str, start: Path | None = None
) -> Path | None:
    where = start if start is not None and start.exists() else last_folder(purpose)
    path, _ = QFileDialog.getOpenFileName(parent, title, str(where), filters)
    if path:
        remember(purpose, path)
    return Path(path) if path else None


def save_file(
    parent: QWidget, purpose: str, title: str, name: str, filters: str, default: Path | None = None
) -> tuple[Path | None, str]:
    """A file name to save under (and the filter the user picked)."""
    start = last_folder(purpose, default) / name
    path, chosen = QFileDialog.getSaveFileName(parent, title, str(start), filters)
    if path:
        remember(purpose, path)
    return (Path(path) if path else None), chosen


def folder(parent: QWidget, purpose: str, title: str, start: Path | None = None) -> Path | None:
    where = start if start is not None and start.is_dir() else last_folder(purpose)
    chosen = QFileDialog.getExistingDirectory(parent, title, str(where))
    if chosen:
        remember(purpose, chosen)
    return Path(chosen) if chosen else None
