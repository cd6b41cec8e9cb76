"""What can be done to a project item from the gallery: show, re-run, save, favour, delete."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QWidget

from studio.core.export import ExportError, save_animation, save_image_as
from studio.core.item_text import item_label
from studio.core.jobs import JobState
from studio.core.project import Project
from studio.core.registry import Registry
from studio.ui import file_dialogs
from studio.ui.canvas import CanvasView, Picture

if TYPE_CHECKING:
    from studio.ui.gallery import GalleryPanel
    from studio.ui.job_controller import JobController
    from studio.ui.project_session import ProjectSession


class _DeleteItems(QUndoCommand):
    """Deleting from the gallery hides the items in the project; the gallery and canvas follow
    the project's events. Undo brings them back."""

    def __init__(self, project: Project, ids: list[int]) -> None:
        super().__init__(f"Delete {len(ids)} item(s)")
        self._project, self._ids = project, ids

    def redo(self) -> None:
        self._project.delete(self._ids)

    def undo(self) -> None:
        self._project.restore(self._ids)


class ItemActions(QObject):
    """Carries out the gallery's requests against the open project."""

    message = Signal(str, str)  # text, level: for the banner
    status = Signal(str)  # for the status bar
    values_requested = Signal(str, dict)  # generator id, values for its form

    def __init__(
        self,
        session: ProjectSession,
        jobs: JobController,
        registry: Registry,
        canvas: CanvasView,
        undo_stack: QUndoStack,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.session, self.jobs, self.registry = session, jobs, registry
        self.canvas, self.undo_stack, self._parent = canvas, undo_stack, parent
        self._reruns: dict[int, tuple[int, str]] = {}  # job id -> (item, the device it was made on)
        jobs.job_finished.connect(self._rerun_finished)

    def connect_gallery(self, gallery: GalleryPanel) -> None:
        gallery.activated.connect(self.show_on_canvas)
        gallery.rerun_requested.connect(self.rerun)
        gallery.save_requested.connect(self.save_as)
        gallery.reuse_seed_requested.connect(self.reuse_seed)
        gallery.export_animation_requested.connect(self.export_animation)
        gallery.favourite_requested.connect(self.set_favourite)
        gallery.delete_requested.connect(self.delete)

    @property
    def project(self) -> Project | None:
        return self.session.project

    def picture(self, item_id: int) -> Picture:
        """A canvas picture that reads its pixels from the project when first painted."""
        return self.entry(item_id)[0]

    def entry(self, item_id: int) -> tuple[Picture, str]:
        """The canvas picture of an item and its label (what made it, its size, its note)."""
        return self.entries([item_id])[0]

    def entries(self, ids: list[int]) -> list[tuple[Picture, str]]:
        project = self.project
        return [
            (Picture(r["width"], r["height"], lambda i=i: project.image(i)), item_label(r))
            for i, r in zip(ids, project.records(ids), strict=True)
        ]

    def show_on_canvas(self, item_id: int) -> None:
        canvas = self.canvas
        item = canvas.item_for_key(item_id)
        if item is None and self.project is not None:
            (item,) = canvas.add_images([(self.picture(item_id), item_id, f"#{item_id}")])
        if item is not None:
            canvas.centre_on(item)

    def rerun(self, item_id: int) -> None:
        """Render the item again from its stored request; same device, same pixels."""
        record = self.project.record(item_id)
        if record.get("grid"):
            text = f"Item {item_id} is a comparison grid: make it again with Run → Comparison grid…"
            self.message.emit(f"{text} (its cells can each be re-run)", "info")
            return
        try:
            generator = self.registry.get(record["generator"])
            request, index = generator.rerun(
                record["params"], record["seed"], record.get("index", 0)
            )
        except (KeyError, ValueError) as exc:
            self.message.emit(f"Cannot re-run item {item_id}: {exc}", "error")
            return
        title = f"Re-run of #{item_id} · {generator.title} · seed {record['seed']}"
        status = self.jobs.submit(request, title, keep=index, parent=item_id)
        if status is not None and record.get("device"):
            self._reruns[status.id] = (item_id, str(record["device"]))

    def _rerun_finished(self, status: Any) -> None:
        """A re-run on another device line than the original's says why its pixels may
        differ (same device, precision and threads give the same pixels)."""
        item_id, made_on = self._reruns.pop(status.id, (None, ""))
        if item_id is None or status.state is not JobState.DONE or status.device == made_on:
            return
        self.message.emit(
            f"The re-run of #{item_id} ran on {status.device}; #{item_id} was made on {made_on}. "
            "Another device, precision or thread count rounds differently, so the pixels may "
            "differ slightly.",
            "info",
        )

    def reuse_seed(self, item_id: int) -> None:
        record = self.project.record(item_id)
        self.values_requested.emit(record["generator"], {"seed": record["seed"]})

    def set_favourite(self, ids: list[int], favourite: bool) -> None:
        self.project.set_favourite(ids, favourite)

    def delete(self, ids: list[int]) -> None:
        if self.project is not None and not self.project.read_only:
            self.undo_stack.push(_DeleteItems(self.project, list(ids)))
            self.status.emit(f"Deleted {len(ids)} item(s); Ctrl+Z brings them back")

    def save_as(self, item_id: int) -> None:
        record = self.project.record(item_id)
        name = f"{record['generator']}-{record['seed']}.png"
        path, _ = file_dialogs.save_file(self._parent, "saved images", "Save image", name,
                                         file_dialogs.SAVE_IMAGE_FILTER)  # fmt: skip
        if path:
            image = self.project.image(item_id)
            self._write(lambda: save_image_as(image, record, path))

    def export_animation(self, item_id: int) -> None:
        frames = self._sequence_of(item_id)
        if len(frames) < 2:
            self.message.emit("Only strips (e.g. interpolations) can be animated.", "warning")
            return
        first = self.project.record(frames[0])
        name = f"{first['generator']}-{first['seed']}.gif"
        kinds = "Animated GIF (*.gif);;Animated WebP (*.webp)"
        path, chosen = file_dialogs.save_file(
            self._parent, "saved images", "Export animation", name, kinds
        )
        if path is None:
            return
        target = path
        if target.suffix.lower() not in (".gif", ".webp"):
            target = target.with_suffix(".webp" if "webp" in chosen.lower() else ".gif")
        images = [self.project.image(i) for i in frames]
        self._write(lambda: save_animation(images, target, overwrite=True))

    def _sequence_of(self, item_id: int) -> list[int]:
        sequence = self.project.record(item_id).get("sequence")
        if not sequence:
            return []
        frames = []
        for row in self.project.items(generator=self.project.record(item_id)["generator"]):
            other = self.project.record(row.id).get("sequence")
            if other and other["group"] == sequence["group"]:
                frames.append((other["index"], row.id))
        return [item for _index, item in sorted(frames)]

    def export(self, selected: list[int]) -> None:
        """The batch export dialog over the open project (non-modal: work can go on);
        `selected` is what "the selected items" means."""
        from studio.core.batch_export import ExportItem
        from studio.ui.export_dialog import ExportDialog

        project = self.project
        if project is None:
            return

        def ids_for(scope: str) -> list[int]:
            if scope == "selected":
                return selected
            rows = project.items(favourites=scope == "favourites")
            return [row.id for row in sorted(rows, key=lambda r: (r.created, r.id))]

        def items_for(scope: str) -> list[ExportItem]:
            return [
                ExportItem(i, project.record(i), lambda i=i: project.image(i))
                for i in ids_for(scope)
            ]

        counts = {scope: len(ids_for(scope)) for scope in ("all", "selected", "favourites")}
        folder = Path.home() / "Pictures" / project.name
        dialog = ExportDialog(self._parent, counts, items_for, folder, self.session.settings)
        dialog.export_finished.connect(lambda report: self.status.emit(report.summary()))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.export_dialog = dialog

    def _write(self, write: Any) -> None:
        try:
            path = write()
        except ExportError as exc:
            self.message.emit(str(exc), "error")
        else:
            self.status.emit(f"Saved {path}")
