"""File dialogs open where the user last was, per kind of file, also after a restart."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QWidget

from studio.ui import file_dialogs


def test_each_purpose_remembers_its_own_last_folder(qtbot, tmp_path, monkeypatch):
    photos, projects = tmp_path / "photos", tmp_path / "projects"
    photos.mkdir()
    projects.mkdir()
    asked = []

    def pick(answer):
        def fake(parent, title, start, filters):
            asked.append(start)
            return [str(answer)], filters

        return fake

    parent = QWidget()
    qtbot.addWidget(parent)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", pick(photos / "a.png"))
    assert file_dialogs.open_files(parent, "images", "Import", "*") == [photos / "a.png"]
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", pick(projects / "p.studio"))
    file_dialogs.open_files(parent, "projects", "Open", "*")
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", pick(photos / "b.png"))
    file_dialogs.open_files(parent, "images", "Import", "*")
    assert asked[2] == str(photos)  # images again: where the last image came from
    assert file_dialogs.last_folder("projects") == projects  # read from the settings file


def test_a_folder_that_is_gone_falls_back_home(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    file_dialogs.remember("exports", gone / "x.png")
    gone.rmdir()
    assert file_dialogs.last_folder("exports", tmp_path) == tmp_path
