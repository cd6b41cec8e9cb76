"""The main window: canvas in the centre, prompt panel, gallery and queue in docks.

It lays out the panels and menus and wires them: jobs go through the `JobController`, the
open project's events reach the gallery and canvas through `ProjectEvents`, and each helper
(files, item actions, image inputs, settings restore, model docks) talks back in signals.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QCloseEvent, QUndoStack
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QVBoxLayout, QWidget

from studio.core.generator import Kind, Request
from studio.core.jobs import JobState
from studio.core.project import ItemsAdded, Project
from studio.core.registry import Registry
from studio.ui.banner import MessageBanner
from studio.ui.batch_dialog import BatchDialogs
from studio.ui.canvas import CanvasView
from studio.ui.dialogs import show_plugins
from studio.ui.files import FileDrops
from studio.ui.gallery import GalleryPanel
from studio.ui.grid_dialog import GridDialogs
from studio.ui.image_inputs import ImageInputs
from studio.ui.item_actions import ItemActions
from studio.ui.job_controller import JobController, JobStatus
from studio.ui.job_runner import JobRunner
from studio.ui.mask_tool import MaskTool
from studio.ui.menus import build_menus
from studio.ui.model_docks import ModelDocks
from studio.ui.outpainting import Outpainting
from studio.ui.project_events import ProjectEvents
from studio.ui.project_session import ProjectSession
from studio.ui.prompt_panel import PromptPanel
from studio.ui.queue_panel import QueuePanel
from studio.ui.settings_restore import SettingsRestorer

log = logging.getLogger(__name__)
LEFT, RIGHT = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea


class MainWindow(QMainWindow):
    """Lays out and wires the panels; holds no model code and no job logic."""

    def __init__(
        self,
        registry: Registry,
        executor: Any,
        models_dir: Path,
        settings: QSettings | None = None,
        project: Project | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("Studio")
        self.setObjectName("main_window")
        self.registry, self.executor, self.models_dir = registry, executor, models_dir
        self.settings = settings
        self.undo_stack = QUndoStack(self)
        self.canvas = CanvasView(self.undo_stack)
        self.canvas.setObjectName("canvas")
        self.banner = MessageBanner()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.banner)
        layout.addWidget(self.canvas, 1)
        self.setCentralWidget(central)

        unavailable = registry.unavailable_reasons(models_dir)
        generators = [g for g in registry.generators() if g.kind == Kind.GENERATE]
        self.prompt_panel = PromptPanel(generators, unavailable, models_dir=models_dir,
                                        settings=settings)  # fmt: skip
        self.prompt_panel.restore_current()
        self.gallery = GalleryPanel()
        self.queue_panel = QueuePanel()
        self.runner = JobRunner(executor, self)
        self.jobs = JobController(self.runner, self)
        self.events = ProjectEvents(self)
        self.session = ProjectSession(settings, self.canvas.layers, self)
        self.session.release, self.session.reusable = self.jobs.release, self.jobs.reusable
        self.files = FileDrops(self.session, self, registry.generators())
        self.items = ItemActions(
            self.session, self.jobs, registry, self.canvas, self.undo_stack, self
        )
        self.inputs = ImageInputs(self.session, self.prompt_panel, self.jobs, self)
        self.outpainting = Outpainting(self.inputs, self)
        self.restorer = SettingsRestorer(registry, self.prompt_panel, self, models_dir)
        self.mask_tool = MaskTool(self.canvas)  # a floating bar over the canvas
        self.canvas.mask_tool = self.mask_tool
        self.mask_tool.undo_stack = self.undo_stack
        self.docks = ModelDocks(registry.generators(), unavailable, models_dir, self.jobs, self)
        self.train_panel, self.latent_map = self.docks.train_panel, self.docks.latent_map
        self._dock(self.prompt_panel, "Generate", LEFT, 380)
        gallery_dock = self._dock(self.gallery, "Gallery", RIGHT, 280)
        self._dock(self.queue_panel, "Queue", Qt.DockWidgetArea.BottomDockWidgetArea, 130)
        self.directions = self.docks.directions
        self.docks.form_values = self.prompt_panel.form_values
        for panel, title, shown in self.docks.panels():
            dock = self._dock(panel, title, RIGHT, 280)
            self.tabifyDockWidget(gallery_dock, dock)
            dock.visibilityChanged.connect(shown)
        gallery_dock.raise_()
        self.batches = BatchDialogs(self.jobs, self.prompt_panel, self)
        self.batches.message.connect(self.banner.show_message)
        self.grids = GridDialogs(self.jobs, self.prompt_panel, models_dir, self)
        self.grids.message.connect(self.banner.show_message)

        self.status_label = QLabel("Ready")
        self.zoom_label = QLabel("100%")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.zoom_label)
        build_menus(self)
        self._connect()
        self._restore()
        if project is not None:
            self.session.adopt(project)

    def _dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea, size: int) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        vertical = area in (LEFT, RIGHT)
        orientation = Qt.Orientation.Horizontal if vertical else Qt.Orientation.Vertical
        self.resizeDocks([dock], [size], orientation)
        return dock

    def _connect(self) -> None:
        for source in (self.jobs, self.session, self.items, self.inputs, self.files, self.restorer,
                       self.outpainting):  # fmt: skip
            source.message.connect(self.banner.show_message)
        for source in (self.items, self.inputs, self.files, self.docks, self.mask_tool,
                       self.outpainting):  # fmt: skip
            source.status.connect(self.status_label.setText)
        for source in (self.items, self.docks):
            source.values_requested.connect(self.prompt_panel.set_values)
        self.prompt_panel.generate_requested.connect(self.submit)
        self.prompt_panel.image_dropped.connect(self.restorer.restore)
        self.prompt_panel.grid_requested.connect(self.grids.open)
        self.jobs.job_added.connect(self.queue_panel.add_job)
        self.jobs.job_changed.connect(self._on_job_changed)
        self.jobs.job_finished.connect(self._on_job_finished)
        self.jobs.stored_found.connect(self._offer_resume)
        self.queue_panel.connect_jobs(self.jobs)
        self.items.connect_gallery(self.gallery)
        self.session.changed.connect(self._on_project_changed)
        self.undo_stack.indexChanged.connect(self.session.layout_changed)
        self.events.items_added.connect(self._on_items_added)
        self.events.items_changed.connect(self.gallery.on_items_changed)
        self.events.items_removed.connect(self.gallery.on_items_removed)
        self.events.items_removed.connect(self.canvas.take_removed)
        self.events.items_restored.connect(self.gallery.on_items_restored)
        self.events.items_restored.connect(self.canvas.bring_back)
        self.canvas.files_dropped.connect(self.files.drop)
        self.canvas.item_dropped_on.connect(self.inputs.restyle)
        self.canvas.hint.connect(self.status_label.setText)
        self.canvas.item_menu_requested.connect(
            lambda item, menu: self.inputs.fill_menu(
                item, menu, self.canvas.delete_action, self.outpainting.fill_menu
            )
        )
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.inputs.mask_requested.connect(self.mask_tool.start)
        self.mask_tool.finished.connect(self.inputs.use_mask)
        self.files.models_dropped.connect(self.add_models)
        self.restorer.models_dropped.connect(self.add_models)
        self.files.folders_dropped.connect(self.batches.open)
        self.files.images_in.connect(self._on_images_in)
        self.files.unkept.connect(
            lambda path, image, _at: self.canvas.add_images([(image, None, path.name)])
        )
        self.docks.models_changed.connect(self.prompt_panel.refresh_model_choices)
        self.docks.choices_changed.connect(self.prompt_panel.refresh_choices_of)

    # -- jobs

    def submit(self, request: Request, title: str = "") -> JobStatus | None:
        """Queue a request from the panel; made from a canvas item, it lands beside it."""
        generator = self.prompt_panel.generators.get(request.generator)
        parent = self.inputs.source_key(generator, request.params) if generator else None
        return self.jobs.submit(request, title, parent=parent if isinstance(parent, int) else None)

    def cancel_running(self) -> None:
        if not self.jobs.cancel_running():
            self.status_label.setText("Nothing is running")

    def _on_job_changed(self, status: JobStatus, preview: Any) -> None:
        self.queue_panel.update_job(status, preview)
        if preview is not None:
            self.canvas.show_preview(
                preview, f"{status.title}: step {status.step} of {status.total}"
            )
        self.status_label.setText(status.describe())

    def _on_job_finished(self, status: JobStatus) -> None:
        self.queue_panel.update_job(status)
        self.canvas.show_preview(None)
        self.status_label.setText(status.describe(self.session.project))
        if status.state is JobState.FAILED:
            self.banner.show_message(f"{status.title} failed: {status.error}")

    def _on_items_added(self, added: ItemsAdded) -> None:
        self.gallery.on_items_added(added)
        if added.group is not None:  # part of a whole (a drop, a grid): placed as that whole
            return
        items = self.canvas.place(added, self.items.entries)
        if items and added.at is None and self.follow_action.isChecked():
            self.canvas.fit_items(items)

    def _on_images_in(self, project: Project, ids: list[int], at: Any) -> None:
        if project is not self.session.project:  # kept in the project the user has left
            return
        items = self.canvas.place(ItemsAdded(tuple(project.rows(ids)), at=at), self.items.entries)
        if items and at is None:
            self.canvas.fit_items(items)

    def _offer_resume(self, project: Project, count: int) -> None:
        self.banner.show_message(
            f"{count} job(s) were left unfinished in '{project.name}'. They wait in the queue "
            "(paused) until you resume it.",
            "info",
            timeout_ms=0,
            action=("Resume", self.jobs.resume),
        )

    # -- models and preferences

    def show_preferences(self) -> None:
        from studio.ui.preferences import PreferencesDialog

        dialog = PreferencesDialog(self.settings, self.executor, self, self.registry.generators())
        dialog.models_changed.connect(self.prompt_panel.refresh_model_choices)
        dialog.exec()

    def add_models(self, paths: list[Path]) -> None:
        self.files.add_models(paths)
        self.prompt_panel.refresh_model_choices()
        user = self.files.model_user(paths[0]) if paths else None
        if user is not None:  # show the form that offers them
            self.prompt_panel.select(user.id)

    # -- projects

    def _on_project_changed(self, project: Project) -> None:
        self.mask_tool.cancel()  # its picture belonged to the project that was open
        self.events.watch(project)
        self.jobs.set_project(project)
        self.gallery.set_project(project)
        self.canvas.restore(project.layout(), self.items.picture)
        self.undo_stack.clear()
        suffix = " (read-only)" if project.read_only else ""
        self.setWindowTitle(f"{project.name}{suffix} — Studio")
        self.status_label.setText(f"Opened {project.path}")
        if self.canvas.image_items():
            self.canvas.fit_all()

    # -- dialogs

    def show_plugins(self) -> None:
        show_plugins(self, self.registry, self.prompt_panel.unavailable)

    # -- lifetime

    def _restore(self) -> None:
        value = self.settings.value if self.settings is not None else lambda _key: None
        geometry, state = value("window/geometry"), value("window/state")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 900)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.settings is not None:
            self.settings.setValue("window/geometry", self.saveGeometry())
            self.settings.setValue("window/state", self.saveState())
            self.prompt_panel.save_values()
        self.jobs.shutdown()  # unfinished jobs stay in their projects' stored queues
        self.files.wait()
        self.docks.shutdown()
        self.events.watch(None)
        self.session.close()
        # Commands hold canvas items; drop them while the scene that may own them exists.
        self.undo_stack.clear()
        super().closeEvent(event)
