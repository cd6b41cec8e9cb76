"""The window's small dialogs: project files (new, open, save as, recent), plugins, about."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from studio.core.paths import projects_dir
from studio.core.project import SUFFIX
from studio.core.registry import Registry
from studio.ui import file_dialogs
from studio.ui.files import PROJECT_FILTER, with_suffix
from studio.ui.project_session import ProjectSession


class ProjectDialogs:
    """Asks for a project file and hands it to the session."""

    def __init__(self, session: ProjectSession, parent: QWidget) -> None:
        self.session, self.parent = session, parent

    def new_project(self) -> None:
        path, _ = file_dialogs.save_file(
            self.parent, "projects", "New project", f"Untitled{SUFFIX}", PROJECT_FILTER,
            projects_dir(),
        )  # fmt: skip
        if path:
            self.session.open(with_suffix(str(path)), create=True)

    def open_project(self) -> None:
        path = file_dialogs.open_file(
            self.parent, "projects", "Open project", PROJECT_FILTER, start=None
        )
        if path:
            self.session.open(path)

    def save_project_as(self) -> None:
        name = self.session.project.path.name if self.session.project else f"Untitled{SUFFIX}"
        path, _ = file_dialogs.save_file(
            self.parent, "projects", "Save project as", name, PROJECT_FILTER, projects_dir()
        )
        if path:
            self.session.save_as(with_suffix(str(path)))

    def fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        for path in self.session.recent():
            menu.addAction(str(path), lambda p=path: self.session.open(p))
        menu.setEnabled(bool(self.session.recent()))


def show_plugins(parent: QWidget, registry: Registry, unavailable: dict[str, str]) -> None:
    lines = []
    for generator in registry.generators():
        reason = unavailable.get(generator.id)
        state = f"unavailable: {reason}" if reason else "available"
        lines.append(f"<b>{generator.title}</b> ({generator.id}): {state}")
    for failed in registry.unavailable:
        source = f"<br><small>{failed.source}</small>"
        lines.append(f"<b>{failed.name}</b>: unavailable: {failed.reason}{source}")
    _note(parent, "Plugins", "<br>".join(lines))


def show_about(parent: QWidget) -> None:
    text = "Studio: an offline AI creative studio.<br>Models run on this machine; nothing is "
    text += "uploaded."
    _note(parent, "About Studio", text)


def _note(parent: QWidget, title: str, text: str) -> None:
    box = QMessageBox(QMessageBox.Icon.Information, title, text, parent=parent)
    box.setModal(False)
    box.show()
