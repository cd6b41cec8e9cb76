"""Docks that only some plugins need: the Train panel, and a latent map to explore."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from studio.core.generator import Generator, Kind
from studio.core.paths import data_dir
from studio.ui.latent_map import LatentMapPanel
from studio.ui.train_panel import TrainPanel

if TYPE_CHECKING:
    from studio.ui.job_controller import JobController, JobStatus


class ModelDocks(QObject):
    """Builds the panels the registry's generators ask for and runs their requests."""

    values_requested = Signal(str, dict)  # generator id, form values
    models_changed = Signal()  # a trainer saved a new model version
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
        self._space_owner: Generator | None = None
        trainers = [g for g in generators if g.kind == Kind.TRAIN]
        if trainers:
            self.train_panel = TrainPanel(trainers)
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

    def map_shown(self, visible: bool) -> None:
        """Loading the model imports torch: only once the user looks at the map."""
        if visible and self.latent_map is not None and not self.latent_map.ready:
            self.latent_map.load()

    def shutdown(self) -> None:
        if self.latent_map is not None:
            self.latent_map.shutdown()

    def _train(self, request: Any, title: str) -> None:
        status = self.jobs.submit(request, title)
        if status is not None:
            self.train_panel.watch(status)

    def _on_trained(self, _status: JobStatus) -> None:
        # A new model version: offer it in the forms, and re-draw the map with it.
        self.models_changed.emit()
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
