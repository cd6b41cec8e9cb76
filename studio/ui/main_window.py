"""The main window: canvas in the centre, prompt panel, gallery and queue in docks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.generator import Generator, Request
from studio.core.jobs import Executor, Job, JobState
from studio.core.models import projects_dir
from studio.core.project import SUFFIX, Project
from studio.core.registry import Registry
from studio.ui.banner import MessageBanner
from studio.ui.canvas import GAP, CanvasView, Picture
from studio.ui.drop_loader import DropLoader
from studio.ui.gallery import GalleryPanel
from studio.ui.image_inputs import ImageInputs
from studio.ui.item_actions import ItemActions
from studio.ui.job_runner import JobRunner
from studio.ui.latent_map import LatentMapPanel
from studio.ui.mask_tool import MaskTool
from studio.ui.project_session import ProjectSession
from studio.ui.prompt_panel import PromptPanel
from studio.ui.queue_panel import QueuePanel
from studio.ui.train_panel import TrainPanel

log = logging.getLogger(__name__)
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.gif *.bmp *.tif *.tiff);;All files (*)"
PROJECT_FILTER = f"Studio projects (*{SUFFIX})"


class MainWindow(QMainWindow):
    """Wires the panels to the job runner; holds no model code."""

    _unexpected = Signal(str)

    def __init__(
        self,
        registry: Registry,
        executor: Executor,
        models_dir: Path,
        settings: QSettings | None = None,
        project: Project | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("Studio")
        self.setObjectName("main_window")
        self.registry = registry
        self.executor = executor
        self.models_dir = models_dir
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

        unavailable = {u.name: u.reason for u in registry.unavailable}
        for generator in registry.generators():
            reason = generator.unavailable_reason(models_dir)
            if reason:
                unavailable[generator.id] = reason
        generators = [g for g in registry.generators() if g.kind != "train"]
        self.prompt_panel = PromptPanel(generators, unavailable, models_dir=models_dir)
        self.gallery = GalleryPanel()
        self.queue_panel = QueuePanel()
        self.runner = JobRunner(executor, self)
        self.loader = DropLoader(self)
        self.session = ProjectSession(settings, self.canvas.layers, self)
        self.items = ItemActions(self)
        self.inputs = ImageInputs(self)
        self.mask_tool = MaskTool(self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.mask_tool)
        self.canvas.mask_tool = self.mask_tool
        self.mask_tool.undo_stack = self.undo_stack
        self._dock(self.prompt_panel, "Generate", Qt.DockWidgetArea.LeftDockWidgetArea, 340)
        self._dock(self.gallery, "Gallery", Qt.DockWidgetArea.RightDockWidgetArea, 280)
        self._dock(self.queue_panel, "Queue", Qt.DockWidgetArea.BottomDockWidgetArea, 130)
        self.train_panel, self.latent_map = None, None
        self._batch_dialogs: dict[str, Any] = {}
        self._add_model_panels(registry, models_dir, unavailable)

        self.status_label = QLabel("Ready")
        self.zoom_label = QLabel("100%")
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.zoom_label)
        self._build_actions()
        self._connect()
        self._restore()
        if project is not None:
            self.session.adopt(project)

    # -- construction

    def _dock(self, widget: QWidget, title: str, area: Qt.DockWidgetArea, size: int) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        vertical = area in (
            Qt.DockWidgetArea.LeftDockWidgetArea,
            Qt.DockWidgetArea.RightDockWidgetArea,
        )
        orientation = Qt.Orientation.Horizontal if vertical else Qt.Orientation.Vertical
        self.resizeDocks([dock], [size], orientation)
        return dock

    def _add_model_panels(self, registry: Registry, models_dir: Path, unavailable: dict) -> None:
        """Docks that only some plugins need: training, and a latent map to explore."""
        gallery_dock = self.findChild(QDockWidget, "dock_gallery")
        trainers = [g for g in registry.generators() if g.kind == "train"]
        if trainers:
            self.train_panel = TrainPanel(trainers)
            dock = self._dock(self.train_panel, "Train", Qt.DockWidgetArea.RightDockWidgetArea, 280)
            self.tabifyDockWidget(gallery_dock, dock)
        spaces = [
            g
            for g in registry.generators()
            if type(g).latent_space is not Generator.latent_space and g.id not in unavailable
        ]
        if spaces:
            owner = spaces[0]
            self.latent_map = LatentMapPanel(lambda: owner.latent_space(models_dir))
            dock = self._dock(
                self.latent_map, "Latent map", Qt.DockWidgetArea.RightDockWidgetArea, 280
            )
            self.tabifyDockWidget(gallery_dock, dock)
            # Loading the model imports torch: only once the user looks at the map.
            dock.visibilityChanged.connect(
                lambda visible: visible and not self.latent_map.ready and self.latent_map.load()
            )
        if gallery_dock is not None:
            gallery_dock.raise_()

    def _action(self, menu: Any, text: str, slot: Any, *keys: Any) -> QAction:
        action = QAction(text, self)
        if keys:
            action.setShortcuts([QKeySequence(k) for k in keys])
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&New project…", self.new_project, QKeySequence.StandardKey.New)
        self._action(file, "&Open project…", self.open_project, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(file, "Save project &as…", self.save_project_as, "Ctrl+Shift+S")
        file.addSeparator()
        self._action(file, "&Import images…", self.open_images, "Ctrl+I")
        self._action(file, "&Export images…", self.items.export, "Ctrl+E")
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence(QKeySequence.StandardKey.Redo), QKeySequence("Ctrl+Y")])
        edit.addActions([undo, redo])
        edit.addSeparator()
        edit.addAction(self.canvas.delete_action)
        self._action(edit, "Select &all", self._select_all, QKeySequence.StandardKey.SelectAll)
        edit.addSeparator()
        self._action(edit, "&Preferences…", self.show_preferences, "Ctrl+,")

        view = bar.addMenu("&View")
        self._action(view, "&Fit to view", self.canvas.fit_all, "F")
        self._action(
            view, "Zoom &in", lambda: self.canvas.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn
        )
        self._action(
            view, "Zoom &out", lambda: self.canvas.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut
        )
        self._action(view, "&Actual size", self.canvas.reset_zoom, "Ctrl+0")
        self.follow_action = self._action(view, "Show &new results", lambda: None)
        self.follow_action.setCheckable(True)
        self.follow_action.setChecked(True)
        view.addSeparator()
        for dock in self.findChildren(QDockWidget):
            view.addAction(dock.toggleViewAction())

        run = bar.addMenu("&Run")
        self.generate_action = self._action(
            run, "&Generate", self.prompt_panel.request_generate, "Ctrl+Return", "Ctrl+Enter"
        )
        self.cancel_action = self._action(run, "&Cancel running job", self.cancel_running, "Esc")
        self._action(run, "&Batch over files…", lambda: self.open_batch(), "Ctrl+B")
        for action in (self.generate_action, self.cancel_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Plugins…", self.show_plugins)
        self._action(help_menu, "&About Studio", self.show_about)

    def _connect(self) -> None:
        self._unexpected.connect(self.banner.show_message)
        self.prompt_panel.generate_requested.connect(self.submit)
        self.prompt_panel.image_dropped.connect(self.restore_settings)
        self.runner.job_added.connect(self.queue_panel.add_job)
        self.runner.job_started.connect(self._on_job_started)
        self.runner.progress_changed.connect(self._on_progress)
        self.runner.job_finished.connect(self._on_job_finished)
        self.queue_panel.cancel_requested.connect(self.runner.cancel)
        self.items.connect_gallery(self.gallery)
        self.session.changed.connect(self._on_project_changed)
        self.session.message.connect(self.banner.show_message)
        self.undo_stack.indexChanged.connect(self.session.layout_changed)
        if self.train_panel is not None:
            self.train_panel.train_requested.connect(self._train)
            self.train_panel.cancel_requested.connect(self.runner.cancel)
            self.runner.progress_changed.connect(self.train_panel.on_progress)
            self.runner.job_finished.connect(self.train_panel.on_finished)
            self.train_panel.trained.connect(self._on_trained)
        if self.latent_map is not None:
            self.latent_map.use_drawing.connect(self._reconstruct_drawing)
        self.canvas.files_dropped.connect(self._on_files_dropped)
        self.canvas.item_dropped_on.connect(self.inputs.restyle)
        self.canvas.item_menu_requested.connect(self.inputs.fill_menu)
        self.mask_tool.finished.connect(self.inputs.use_mask)
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.loader.loaded.connect(self._on_file_loaded)
        self.loader.failed.connect(lambda _path, message, _ctx: self.banner.show_message(message))
        self.loader.store = self._store_dropped

    # -- jobs

    def submit(self, request: Request, title: str = "", **job: Any) -> Job | None:
        project = self.session.project
        if project is not None and project.read_only:
            self.banner.show_message(
                f"'{project.name}' is open read-only, so results could not be kept. "
                "Use File → Save As to work on a copy.",
                "warning",
            )
            return None
        if "parent" not in job:  # made from a canvas item: show the result beside it
            generator = self.prompt_panel.generators.get(request.generator)
            key = self.inputs.source_key(generator, request.params) if generator else None
            if key is not None:
                job["parent"] = key
        return self.runner.submit(request, title, **job)

    def cancel_running(self) -> None:
        if not self.runner.cancel_running():
            self.status_label.setText("Nothing is running")

    def _on_job_started(self, job: Job) -> None:
        self.queue_panel.update_job(job)
        self.status_label.setText(f"Running {job.title}…")

    def _on_progress(self, job: Job, preview: Any) -> None:
        self.queue_panel.update_job(job, preview)
        if preview is not None and job.request.generator == self.prompt_panel.current_id:
            self.prompt_panel.show_preview(preview, f"step {job.step} of {job.total}")
        if job.total:
            self.status_label.setText(f"Running {job.title}… {job.step}/{job.total}")

    def _on_job_finished(self, job: Job) -> None:
        self.queue_panel.update_job(job)
        self.prompt_panel.show_preview(None)
        if job.state is JobState.DONE:
            self._show_results(job)
            took = job.finished - job.started
            where = f" on {job.device}" if job.device else ""
            self.status_label.setText(f"{len(job.results)} image(s) in {took:.2f} s{where}")
        elif job.state is JobState.FAILED:
            self.status_label.setText(f"{job.title} failed")
            self.banner.show_message(f"{job.title} failed: {job.error}")
        else:
            self.status_label.setText(f"{job.title} cancelled")

    def _show_results(self, job: Job) -> None:
        self.gallery.refresh()
        strip = bool(job.results and job.results[0].sequence)
        keys = job.item_ids or [None] * len(job.results)
        source = self.canvas.item_for_key(job.parent) if job.parent is not None else None
        at = None
        if source is not None and job.results:  # beside the item it was made from
            box = source.sceneBoundingRect()
            at = QPointF(box.right() + GAP, box.top())
            size = job.results[0].image.size
            others = [i.sceneBoundingRect() for i in self.canvas.image_items()]
            for _ in range(100):  # below earlier results made from the same item
                spot = QRectF(at.x(), at.y(), size[0], size[1])
                if not any(spot.intersects(o) for o in others):
                    break
                at = QPointF(at.x(), at.y() + size[1] + GAP)
        items = self.canvas.add_images(
            [
                (Picture.of(r.image), key, _label(r))
                for r, key in zip(job.results, keys, strict=True)
            ],
            at=at,
            columns=len(job.results) if strip else None,
            text=f"Add {len(job.results)} result(s)",
        )
        if items and self.follow_action.isChecked():
            rect = items[0].sceneBoundingRect()
            for item in items[1:]:
                rect = rect.united(item.sceneBoundingRect())
            self.canvas.fit_rect(rect)

    # -- files

    def open_images(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images", str(Path.home()), IMAGE_FILTER)
        if paths:
            self.loader.load([Path(p) for p in paths], None)

    def _on_files_dropped(self, paths: list[Path], at: QPointF) -> None:
        models = [p for p in paths if _is_model(p)]
        if models:
            self.add_models(models)
            paths = [p for p in paths if p not in models]
        folders = [p for p in paths if p.is_dir()]
        if folders:  # a folder is a batch for the current generator
            self.open_batch(folders)
        files = [p for p in paths if not p.is_dir()]
        if files:
            self.loader.load(files, at)

    def open_batch(self, paths: list[Path] | None = None) -> Any:
        """The batch dialog for the current generator (or Style transfer if that takes no
        input image), with `paths` added."""
        from studio.ui.batch_dialog import BatchDialog, content_param

        panel = self.prompt_panel
        generator = panel.generators.get(panel.current_id)
        if generator is None or content_param(generator) is None:
            generator = panel.generators.get("style_transfer")
            if generator is None:
                self.banner.show_message("No generator here takes an input image")
                return None
            panel.select(generator.id)
        dialog = self._batch_dialogs.get(generator.id)
        if dialog is None:
            dialog = self._batch_dialogs[generator.id] = BatchDialog(self, generator)
        if paths:
            dialog.add_paths(paths)
        dialog.show()
        dialog.raise_()
        return dialog

    def show_preferences(self) -> None:
        from studio.ui.preferences import PreferencesDialog

        dialog = PreferencesDialog(
            self.settings, self.executor, self, generators=self.registry.generators()
        )
        dialog.models_changed.connect(self.refresh_model_choices)
        dialog.exec()

    def refresh_model_choices(self) -> None:
        """Re-read the models every form offers (after model folders changed)."""
        for form in self.prompt_panel.built_forms():
            if form is not None:
                form.refresh_choices()

    def add_models(self, paths: list[Path]) -> None:
        """Model files and folders dropped on the window: remember them and offer them."""
        from studio.core import config

        added = [p for p in paths if config.add_model_path(p)]
        self.refresh_model_choices()
        names = ", ".join(p.name for p in paths)
        if added:
            self.status_label.setText(f"Added {names} to your models")
        else:
            self.status_label.setText(f"{names}: already among your models")
        self.prompt_panel.select("text_to_image")

    def _on_file_loaded(self, path: Path, image: Any, at: QPointF | None, item_id: Any) -> None:
        items = self.canvas.add_images(
            [(image, item_id, path.name)], at=at, text=f"Add {path.name}"
        )
        self.gallery.refresh()
        if at is None and items:
            self.canvas.centre_on(items[0])
        self.status_label.setText(f"Added {path.name} ({image.width}×{image.height})")

    def _store_dropped(self, path: Path, image: Any) -> int | None:
        # On a loader thread: the project keeps a copy, so the canvas never loses the image.
        project = self.session.project
        if project is None or project.read_only:
            return None
        return project.add_image(image, path.name, str(path))

    def _train(self, request: Request, title: str) -> None:
        job = self.submit(request, title)
        if job is not None:
            self.train_panel.watch(job)

    def _on_trained(self, _job: Job) -> None:
        # A new model version: offer it in the forms, and re-draw the map with it.
        for form in self.prompt_panel.built_forms():
            form.refresh_choices()
        if self.latent_map is not None and self.latent_map.ready:
            self.latent_map.load()

    def _reconstruct_drawing(self, image: Any) -> None:
        """Hand the drawn digit to the generator that owns the latent map, to reconstruct."""
        import time

        from studio.core.models import data_dir

        folder = data_dir() / "drawings"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"drawing-{time.strftime('%Y%m%d-%H%M%S')}.png"
        image.save(path)
        owner = next(
            g
            for g in self.registry.generators()
            if type(g).latent_space is not Generator.latent_space
        )
        self.prompt_panel.set_values(owner.id, {"mode": "reconstruct", "image": str(path)})
        self.status_label.setText(f"Drawing saved as {path.name}; press Ctrl+Enter to reconstruct")

    def restore_settings(self, path: Path) -> None:
        """Fill the form from the settings an image carries (ours, A1111, ComfyUI, InvokeAI)."""
        from studio.core.images import ImageLoadError
        from studio.core.metadata import read_metadata, restore_values

        if _is_model(path):  # a model dropped on the panel: add it, like anywhere else
            self.add_models([path])
            return
        try:
            meta = read_metadata(path)
        except ImageLoadError as exc:
            self.banner.show_message(str(exc))
            return
        if meta.source_format is None:
            self.banner.show_message(f"'{path.name}' carries no generation settings.", "warning")
            return
        target = self._generator_for(meta)
        values, notes = restore_values(meta, target.params, title=target.title)
        values, checked = target.restore(values, self.models_dir, carried=meta.params)
        notes += checked
        self.prompt_panel.set_values(target.id, values)
        found = f"Restored {len(values)} setting(s) for {target.title} from {meta.source_format}"
        missed = meta.notes + notes
        text = f"{found} metadata in '{path.name}'." + (
            "\nNot restored: " + "; ".join(missed) if missed else ""
        )
        self.banner.show_message(text, "warning" if missed else "info")

    def _generator_for(self, meta: Any) -> Any:
        # The image's own generator, else one that takes a prompt, else the one on screen.
        if meta.generator in self.registry:
            return self.registry.get(meta.generator)
        if "prompt" in meta.params:
            for generator in self.registry.generators():
                if any(p.name == "prompt" for p in generator.params):
                    return generator
        current = self.prompt_panel.generators.get(self.prompt_panel.current_id)
        return current or self.registry.generators()[0]

    # -- projects

    def new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "New project", str(projects_dir() / f"Untitled{SUFFIX}"), PROJECT_FILTER
        )
        if path:
            self.session.open(_with_suffix(path), create=True)

    def open_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", str(projects_dir()), PROJECT_FILTER
        )
        if path:
            self.session.open(Path(path))

    def save_project_as(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save project as", str(projects_dir()), PROJECT_FILTER
        )
        if path:
            self.session.save_as(_with_suffix(path))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.session.recent():
            self.recent_menu.addAction(str(path), lambda p=path: self.session.open(p))
        self.recent_menu.setEnabled(bool(self.session.recent()))

    def _commit(self, job: Job) -> list[int]:
        # On the worker. Results go to the project open when they arrive, even if the user
        # switched projects while the job ran.
        project = self.session.project
        if project is None:
            raise RuntimeError("no project is open")
        return project.add_results(job.results, job.parent)

    def _on_project_changed(self, project: Project) -> None:
        self.mask_tool.cancel()  # its picture belonged to the project that was open
        self.runner.set_commit(self._commit)
        self.gallery.set_project(project)
        self.canvas.restore(project.layout(), self.items.picture)
        self.undo_stack.clear()
        suffix = " (read-only)" if project.read_only else ""
        self.setWindowTitle(f"{project.name}{suffix} — Studio")
        self.status_label.setText(f"Opened {project.path}")
        if self.canvas.image_items():
            self.canvas.fit_all()

    def _select_all(self) -> None:
        for item in self.canvas.image_items():
            item.setSelected(True)

    # -- dialogs

    def show_plugins(self) -> None:
        lines = []
        for generator in self.registry.generators():
            reason = self.prompt_panel.unavailable.get(generator.id)
            state = f"unavailable: {reason}" if reason else "available"
            lines.append(f"<b>{generator.title}</b> ({generator.id}): {state}")
        for failed in self.registry.unavailable:
            source = f"<br><small>{failed.source}</small>"
            lines.append(f"<b>{failed.name}</b>: unavailable: {failed.reason}{source}")
        box = QMessageBox(QMessageBox.Icon.Information, "Plugins", "<br>".join(lines), parent=self)
        box.setModal(False)
        box.show()

    def show_about(self) -> None:
        text = (
            "Studio: an offline AI creative studio.<br>"
            "Models run on this machine; nothing is uploaded."
        )
        box = QMessageBox(QMessageBox.Icon.Information, "About Studio", text, parent=self)
        box.setModal(False)
        box.show()

    def report_unexpected(self, kind: type, value: BaseException, tb: Any) -> None:
        """Last resort for a bug in a slot: log the traceback, tell the user, keep running.

        May run on any thread (it is sys.excepthook), so the banner is reached by a signal.
        """
        log.error("unexpected error", exc_info=(kind, value, tb))
        self._unexpected.emit(
            f"Unexpected error: {kind.__name__}: {value}. Details are in the log."
        )

    # -- lifetime

    def _restore(self) -> None:
        if self.settings is None:
            self.resize(1400, 900)
            return
        geometry = self.settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1400, 900)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.settings is not None:
            self.settings.setValue("window/geometry", self.saveGeometry())
            self.settings.setValue("window/state", self.saveState())
        self.runner.shutdown()  # the running job commits first
        self.loader.wait()
        if self.latent_map is not None:
            self.latent_map.shutdown()
        self.session.close()
        # Commands hold canvas items; drop them while the scene that may own them exists.
        self.undo_stack.clear()
        super().closeEvent(event)


def _label(result: Any) -> str:
    lines = [f"{result.title or result.generator} · seed {result.seed}"]
    lines.append(f"{result.image.width}×{result.image.height}")
    if result.note:
        lines.append(result.note)
    return "\n".join(lines)


def _is_model(path: Path) -> bool:
    """A diffusers folder, or a checkpoint/LoRA file (not an image): goes to the model list."""
    if path.is_dir():
        return (path / "model_index.json").is_file()
    return path.suffix.lower() in (".safetensors", ".ckpt")


def _with_suffix(path: str) -> Path:
    target = Path(path)
    return target if target.suffix == SUFFIX else target.with_name(target.name + SUFFIX)
