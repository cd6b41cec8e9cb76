"""Docks that only some plugins need: the Train panel, a latent map to explore, and the
Directions panel to walk a latent space along named directions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from studio.core.generator import Generator, Kind
from studio.core.jobs import JobState
from studio.core.paths import data_dir
from studio.ui.directions_panel import DirectionsPanel
from studio.ui.latent_map import LatentMapPanel
from studio.ui.train_panel import TrainPanel

if TYPE_CHECKING:
    from studio.ui.job_controller import JobController, JobStatus


class ModelDocks(QObject):
    """Builds the panels the registry's generators ask for and runs their requests."""

    values_requested = Signal(str, dict)  # generator id, form values
    models_changed = Signal()  # a trainer saved a new model version
    choices_changed = Signal(str)  # a job of this generator may have added choices to its form
    status = Signal(str)

    def __init__(
        self,
        generators: list[Generator],
        unavailable: dict[str, str],
        models_dir: Path,
        jobs: JobController,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.train_panel: TrainPanel | None = None
        self.latent_map: LatentMapPanel | None = None
        self.directions: DirectionsPanel | None = None
        self._space_owner: Generator | None = None
        self._walk_owner: Generator | None = None
        self.form_values: Any = None  # generator id -> its Generate form's values (the window)
        trainers = [g for g in generators if g.kind == Kind.TRAIN]
        if trainers:
            self.train_panel = TrainPanel(trainers, models_dir=models_dir)
            self.train_panel.train_requested.connect(self._train)
            self.train_panel.cancel_requested.connect(jobs.cancel)
            jobs.job_changed.connect(self.train_panel.on_progress)
            jobs.job_finished.connect(self.train_panel.on_finished)
            self.train_panel.trained.connect(self._on_trained)
        spaces = [g for g in generators if g.offers_latent_space and g.id not in unavailable]
        if spaces:
            owner = self._space_owner = spaces[0]
            self.latent_map = LatentMapPanel(lambda: owner.latent_space(models_dir))
            self.latent_map.use_drawing.connect(self._reconstruct_drawing)
        walks = [g for g in generators if g.offers_latent_walk and g.id not in unavailable]
        if walks:
            walker = self._walk_owner = walks[0]
            self.directions = DirectionsPanel(lambda: walker.latent_walk(models_dir))
            self.directions.values_requested.connect(self._use_walked)
            self.directions.start_requested.connect(self._walk_from_form)
            jobs.job_finished.connect(self._follow_result)

    def panels(self) -> list[tuple[Any, str, Any]]:
        """(panel, dock title, slot for the dock's visibility) of each panel built."""
        found = [
            (self.train_panel, "Train", self.train_shown),
            (self.latent_map, "Latent map", self.map_shown),
            (self.directions, "Directions", self.directions_shown),
        ]
        return [entry for entry in found if entry[0] is not None]

    def map_shown(self, visible: bool) -> None:
        """Loading the model imports torch: only once the user looks at the map."""
        if visible and self.latent_map is not None and not self.latent_map.ready:
            self.latent_map.load()

    def train_shown(self, visible: bool) -> None:
        """The charts import pyqtgraph (and numpy): only once the user looks at the panel."""
        if visible and self.train_panel is not None:
            self.train_panel.show_charts()

    def directions_shown(self, visible: bool) -> None:
        """Loading the model imports torch: only once the user looks at the panel."""
        if visible and self.directions is not None and not self.directions.ready:
            self._walk_from_form()

    def shutdown(self) -> None:
        if self.latent_map is not None:
            self.latent_map.shutdown()
        if self.directions is not None:
            self.directions.shutdown()

    def _walk_from_form(self) -> None:
        owner = self._walk_owner
        values = self.form_values(owner.id) if self.form_values is not None else {}
        self.directions.walk_from(values or {})

    def _use_walked(self, values: dict) -> None:
        self.values_requested.emit(self._walk_owner.id, values)
        self.status.emit("The walked face is in the Generate form; press Ctrl+Enter to make it")

    def _follow_result(self, status: JobStatus) -> None:
        """After a job of the walk's generator (a search for a picture's latent, say), the
        panel walks from the face it made."""
        panel = self.directions
        if status.state is not JobState.DONE or status.generator != self._walk_owner.id:
            return
        self.choices_changed.emit(status.generator)
        if panel.ready:
            panel.walk_from(dict(status.request.params))

    def _train(self, request: Any, title: str) -> None:
        status = self.jobs.submit(request, title)
        if status is not None:
            self.train_panel.watch(status)

    def _on_trained(self, _status: JobStatus) -> None:
        # A new model version (or a stopped run): offer it in the forms, and re-draw the map.
        self.models_changed.emit()
        for form in self.train_panel.forms.values():
            form.refresh_choices()
        if self.latent_map is not None and self.latent_map.ready:
            self.latent_map.load()

    def _reconstruct_drawing(self, image: Any) -> None:
        """Hand the drawn digit to the generator that owns the latent map, to reconstruct."""
        folder = data_dir() / "drawings"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"drawing-{time.strftime('%Y%m%d-%H%M%S')}.png"
        image.save(path)
        owner = self._space_owner
        self.values_requested.emit(owner.id, {"mode": "reconstruct", "image": str(path)})
        self.status.emit(f"Drawing saved as {path.name}; press Ctrl+Enter to reconstruct")
