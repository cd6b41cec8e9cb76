"""The main window's menu bar: File, Edit, View, Run and Help, with their shortcuts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget

from studio.ui.dialogs import ProjectDialogs, show_about

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow


def _action(
    window: MainWindow, menu: Any, text: str, slot: Any, *keys: Any, canvas: bool = False
) -> QAction:
    """A menu entry; with `canvas`, its keys work on the canvas only (in a text field,
    F is a letter and Ctrl+C copies text)."""
    action = QAction(text, window)
    if keys:
        action.setShortcuts([QKeySequence(k) for k in keys])
    action.triggered.connect(slot)
    menu.addAction(action)
    if canvas:
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        window.canvas.addAction(action)
    return action


def build_menus(window: MainWindow) -> None:
    """The menu bar; the entries the window keeps (recent projects, follow new results,
    generate, cancel) become its attributes."""
    bar, std = window.menuBar(), QKeySequence.StandardKey
    file = bar.addMenu("&File")
    ask = ProjectDialogs(window.session, window)
    _action(window, file, "&New project…", ask.new_project, std.New)
    _action(window, file, "&Open project…", ask.open_project, std.Open)
    window.recent_menu = file.addMenu("Open &recent")
    window.recent_menu.aboutToShow.connect(lambda: ask.fill_recent(window.recent_menu))
    _action(window, file, "Save project &as…", ask.save_project_as, "Ctrl+Shift+S")
    file.addSeparator()
    _action(window, file, "&Import images…", window.files.open_images, "Ctrl+I")
    export = lambda: window.items.export(window.gallery.selected_ids())  # noqa: E731
    _action(window, file, "&Export images…", export, "Ctrl+E")
    file.addSeparator()
    _action(window, file, "&Quit", window.close, std.Quit)

    edit = bar.addMenu("&Edit")
    undo = window.undo_stack.createUndoAction(window, "&Undo")
    undo.setShortcut(std.Undo)
    redo = window.undo_stack.createRedoAction(window, "&Redo")
    redo.setShortcuts([QKeySequence(std.Redo), QKeySequence("Ctrl+Y")])
    edit.addActions([undo, redo])
    edit.addSeparator()
    edit.addAction(window.canvas.delete_action)
    _action(window, edit, "&Copy image", window.canvas.copy_selected, std.Copy, canvas=True)
    paste = lambda: window.files.paste(window.canvas.paste_point())  # noqa: E731
    _action(window, edit, "&Paste image", paste, std.Paste, canvas=True)
    _action(window, edit, "Select &all", window.canvas.select_all, std.SelectAll)
    edit.addSeparator()
    _action(window, edit, "&Preferences…", window.show_preferences, "Ctrl+,")

    view = bar.addMenu("&View")
    _action(window, view, "&Fit to view", window.canvas.fit_all, "F", canvas=True)
    _action(window, view, "Zoom &in", lambda: window.canvas.zoom_by(1.25), std.ZoomIn)
    _action(window, view, "Zoom &out", lambda: window.canvas.zoom_by(0.8), std.ZoomOut)
    _action(window, view, "&Actual size", window.canvas.reset_zoom, "Ctrl+0")
    window.follow_action = _action(window, view, "Show &new results", lambda: None)
    window.follow_action.setCheckable(True)
    window.follow_action.setChecked(True)
    view.addSeparator()
    for dock in window.findChildren(QDockWidget):
        view.addAction(dock.toggleViewAction())

    run = bar.addMenu("&Run")
    generate = window.prompt_panel.request_generate
    keys = ("Ctrl+Return", "Ctrl+Enter")
    window.generate_action = _action(window, run, "&Generate", generate, *keys)
    window.cancel_action = _action(window, run, "&Cancel running job", window.cancel_running, "Esc")
    _action(window, run, "&Batch over files…", lambda: window.batches.open(), "Ctrl+B")
    _action(window, run, "Comparison &grid…", lambda: window.grids.open(), "Ctrl+Shift+G")
    for action in (window.generate_action, window.cancel_action):
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)

    help_menu = bar.addMenu("&Help")
    _action(window, help_menu, "&Plugins…", window.show_plugins)
    _action(window, help_menu, "&About Studio", lambda: show_about(window))
