"""Jobs and the job queue: plain Python, thread-safe, shared by the window and the CLI."""

from __future__ import annotations

import enum
import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from studio.core.generator import Cancelled, Context, Generator, GeneratorError, Request, Result

if TYPE_CHECKING:
    from PIL.Image import Image

    from studio.core.devices import Device

log = logging.getLogger(__name__)


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


class CancelToken:
    """Set by the UI thread, read by the worker at step boundaries."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """One request on its way through the queue, with its progress and outcome."""

    request: Request
    title: str = ""
    id: int = field(default_factory=lambda: next(_ids))
    state: JobState = JobState.QUEUED
    step: int = 0
    total: int = 0
    error: str = ""
    results: list[Result] = field(default_factory=list)
    token: CancelToken = field(default_factory=CancelToken)
    created: float = field(default_factory=time.time)
    started: float = 0.0
    finished: float = 0.0
    device: str = ""
    keep: int | None = None  # keep only this result (a re-run of one image of a batch)
    parent: int | None = None  # the project item a re-run re-renders
    item_ids: list[int] = field(default_factory=list)  # project items, once committed
    metrics: list[dict] = field(default_factory=list)  # figures the generator reported
    # Runs where the job ran, after its results were kept (e.g. writes them to a folder);
    # what it raises is recorded in `warning`, the results stay.
    after: Callable[[Job], None] | None = None
    warning: str = ""


class JobQueue:
    """Jobs waiting to run, in order. Safe to use from the UI thread and the worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: list[Job] = []

    def submit(self, job: Job) -> Job:
        with self._lock:
            self._waiting.append(job)
        return job

    def take(self) -> Job | None:
        """Remove and return the next job, marked running; None when the queue is empty."""
        with self._lock:
            if not self._waiting:
                return None
            job = self._waiting.pop(0)
            job.state = JobState.RUNNING
            return job

    def remove(self, job_id: int) -> Job | None:
        """Take a waiting job off the queue (marked cancelled); None if it is not waiting."""
        with self._lock:
            for job in self._waiting:
                if job.id == job_id:
                    self._waiting.remove(job)
                    job.state = JobState.CANCELLED
                    job.token.cancel()
                    return job
        return None

    def move(self, job_id: int, index: int) -> bool:
        """Move a waiting job to position `index` among the waiting jobs."""
        with self._lock:
            for job in self._waiting:
                if job.id == job_id:
                    self._waiting.remove(job)
                    self._waiting.insert(max(0, min(index, len(self._waiting))), job)
                    return True
        return False

    def waiting(self) -> list[Job]:
        with self._lock:
            return list(self._waiting)

    def clear(self) -> list[Job]:
        """Remove every waiting job; returns them, marked cancelled."""
        with self._lock:
            jobs, self._waiting = self._waiting, []
        for job in jobs:
            job.state = JobState.CANCELLED
            job.token.cancel()
        return jobs

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)


ProgressCallback = Callable[[Job, "Image | None"], None]


class Executor:
    """Runs one job at a time on the calling thread: load (cached), run, record the outcome.

    The window's worker thread and the CLI both use this, so a job behaves the same in both.
    """

    def __init__(
        self,
        lookup: Callable[[str], Generator],
        device: Callable[[], Device],
        models_dir: Any,
        threads: int = 0,
    ) -> None:
        self.threads = threads  # Settings: CPU threads for plugins (0: their default)
        self._lookup = lookup
        self._device = device
        self._models_dir = models_dir
        self._loaded: set[tuple[str, str]] = set()
        self._device_cache: Device | None = None

    def device(self) -> Device:
        if self._device_cache is None:
            self._device_cache = self._device()
        return self._device_cache

    def execute(self, job: Job, on_progress: ProgressCallback | None = None) -> Job:
        """Run `job` to its end; never raises. The job's state says what happened."""
        job.state = JobState.RUNNING
        job.started = time.time()
        if job.token.cancelled:
            return self._finish(job, JobState.CANCELLED)

        def progress(
            step: int, total: int, preview: Image | None, metrics: dict | None = None
        ) -> None:
            job.step, job.total = step, total
            if metrics:
                job.metrics.append(dict(metrics))
            if on_progress is not None:
                on_progress(job, preview)

        try:
            generator = self._lookup(job.request.generator)
            ctx = Context(
                self.device(),
                self._models_dir,
                progress,
                lambda: job.token.cancelled,
                threads=self.threads,
            )
            job.device = str(ctx.device)
            key = (generator.id, ctx.device.kind)
            if key not in self._loaded:
                generator.load(ctx)
                self._loaded.add(key)
            ctx.check_cancelled()
            results = _checked(generator.run(job.request, ctx), generator.id)
            ctx.check_cancelled()
        except Cancelled:
            return self._finish(job, JobState.CANCELLED)
        except GeneratorError as exc:
            log.info("job %s failed: %s", job.id, exc)
            job.error = str(exc)
            return self._finish(job, JobState.FAILED)
        except Exception as exc:  # noqa: BLE001 - a plugin bug must fail its job, not the app
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            job.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return self._finish(job, JobState.FAILED)
        made = time.time()  # one moment for the batch, so lists keep its order among others
        for index, result in enumerate(results):
            result.device = result.device or job.device
            result.index = index
            result.created = made
        if job.keep is not None:
            results = results[job.keep : job.keep + 1]
        job.results = results
        return self._finish(job, JobState.DONE)

    @staticmethod
    def _finish(job: Job, state: JobState) -> Job:
        job.state = state
        job.finished = time.time()
        if state is not JobState.DONE:
            job.results = []
        return job


def _checked(results: object, generator_id: str) -> list[Result]:
    """The generator's output as a list of Results, or a clear error naming the plugin."""
    if not isinstance(results, list | tuple) or not all(isinstance(r, Result) for r in results):
        raise GeneratorError(
            f"Plugin '{generator_id}' returned {type(results).__name__}, not a list of Results"
        )
    return list(results)
