"""Jobs, the job queue and the executor: plain Python, thread-safe, shared by the window and
the CLI. A job carries its target project and lineage from the moment it is submitted, and
reports what happens to it in small frozen messages (`JobStarted`, `JobProgressed`,
`JobFinished`), which are all that crosses from the worker to the window."""

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

    from studio.core.batch_run import Output
    from studio.core.devices import Device
    from studio.core.project import Project

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


class CancelReason(enum.Enum):
    USER = "user"  # the user cancelled or removed it: it is finished
    SHUTDOWN = "shutdown"  # Studio quit or the project closed: it stays queued, to resume


class CancelToken:
    """Set by the UI thread, read by the worker at step boundaries."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = CancelReason.USER

    def cancel(self, reason: CancelReason = CancelReason.USER) -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """One request on its way through the queue, with its target, progress and outcome.

    Lives on the thread that runs it; the window sees it only through messages.
    """

    request: Request
    title: str = ""
    id: int = field(default_factory=lambda: next(_ids))
    project: Project | None = None  # where its results are committed, fixed at submit
    queue_id: int | None = None  # its row in that project's stored queue
    parent: int | None = None  # the project item it re-renders or was made from
    keep: int | None = None  # keep only this result (a re-run of one image of a batch)
    output: Output | None = None  # also write the results here (a batch over files)
    batch: str | None = None  # jobs queued together share this id
    group: str | None = None  # its results are parts of one whole (a grid's cells): views
    # place that whole, not each of them (`ItemsAdded.group`)
    state: JobState = JobState.QUEUED
    step: int = 0
    total: int = 0
    error: str = ""
    details: str = ""  # the traceback of an unexpected failure, for the log
    warning: str = ""  # the results were kept, but something after them failed
    results: list[Result] = field(default_factory=list)
    token: CancelToken = field(default_factory=CancelToken)
    created: float = field(default_factory=time.time)
    started: float = 0.0
    finished: float = 0.0
    device: str = ""
    item_ids: list[int] = field(default_factory=list)  # project items, once committed
    metrics: list[dict] = field(default_factory=list)  # figures the generator reported


@dataclass(frozen=True)
class JobStarted:
    job_id: int


@dataclass(frozen=True)
class JobProgressed:
    """step of total done; preview: an image (PIL on the worker, QImage in the window)."""

    job_id: int
    step: int
    total: int
    preview: Any = None
    metrics: dict | None = None


@dataclass(frozen=True)
class JobFinished:
    """The outcome: state, the committed item ids, the error or warning, where and how long."""

    job_id: int
    state: JobState
    item_ids: tuple[int, ...] = ()
    error: str = ""
    warning: str = ""
    device: str = ""
    seconds: float = 0.0
    note: str = ""  # the first result's note (e.g. "Saved model vae-3")
    stopped: bool = False  # cancelled by a shutdown: still stored in its project's queue

    @classmethod
    def of(cls, job: Job) -> JobFinished:
        note = job.results[0].note if job.results and job.state is JobState.DONE else ""
        return cls(
            job.id,
            job.state,
            tuple(job.item_ids),
            job.error,
            job.warning,
            job.device,
            max(0.0, job.finished - job.started) if job.started else 0.0,
            note,
            job.state is JobState.CANCELLED and job.token.reason is CancelReason.SHUTDOWN,
        )


def settle(job: Job) -> None:
    """After a job ran: commit its results into its own project, taking its stored queue row
    off in the same transaction, then write its output files. A failed or user-cancelled job's
    row goes too; one stopped by a shutdown keeps it, to resume. Never raises: a commit that
    fails fails the job (nothing is half-written); a failed file write is a warning."""
    project = job.project
    if job.state is JobState.DONE:
        if project is not None:
            try:
                job.item_ids = project.add_results(
                    job.results, job.parent, queue_id=job.queue_id, group=job.group
                )
            except Exception as exc:  # noqa: BLE001 - a full disk fails the job, not the app
                log.exception("could not commit the results of job %s", job.id)
                job.state, job.results = JobState.FAILED, []
                job.error = f"The results could not be saved to the project: {exc}"
        if job.output is not None and job.state is JobState.DONE:
            try:
                job.output.write(job.results)
            except Exception as exc:  # noqa: BLE001 - the results are kept; say what failed
                log.warning("job %s: writing its file failed: %s", job.id, exc)
                job.warning = str(exc)
    stopped = job.state is JobState.CANCELLED and job.token.reason is CancelReason.SHUTDOWN
    if job.state is not JobState.DONE and not stopped:
        forget(job)


def forget(job: Job) -> None:
    """Take a finished job's row off its project's stored queue (if it is still open)."""
    project = job.project
    if project is None or job.queue_id is None or project.closed or project.read_only:
        return
    try:
        project.queue.remove([job.queue_id])
    except Exception:  # noqa: BLE001 - a stale row only means it is offered again on resume
        log.warning("could not take job %s off the stored queue", job.id, exc_info=True)


class JobQueue:
    """Jobs waiting to run, in order; can be paused. Safe to use from any thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: list[Job] = []
        self._paused = False
        self._closed = False

    def submit(self, job: Job) -> Job:
        with self._cond:
            self._waiting.append(job)
            self._cond.notify_all()
        return job

    def take(self, timeout: float | None = 0) -> Job | None:
        """Remove and return the next job, marked running. Waits up to `timeout` seconds
        (None: until there is one) while the queue is empty or paused; None if none came or
        the queue was closed."""
        with self._cond:
            ready = lambda: self._closed or (self._waiting and not self._paused)  # noqa: E731
            if timeout != 0 and not self._cond.wait_for(ready, timeout):
                return None
            if self._closed or self._paused or not self._waiting:
                return None
            job = self._waiting.pop(0)
            job.state = JobState.RUNNING
            return job

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def closed(self) -> bool:
        return self._closed

    def pause(self) -> None:
        """Let the running job finish, start no other until `resume`."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def close(self) -> None:
        """Wake every waiting `take` with None, for good."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def remove(self, job_id: int) -> Job | None:
        """Take a waiting job off the queue (cancelled by the user); None if it is not waiting."""
        with self._cond:
            for job in self._waiting:
                if job.id == job_id:
                    self._waiting.remove(job)
                    job.state = JobState.CANCELLED
                    job.token.cancel()
                    return job
        return None

    def withdraw(self, which: Callable[[Job], bool]) -> list[Job]:
        """Take off every waiting job `which` picks; returns them, marked cancelled by a
        shutdown (their stored rows stay, to resume)."""
        with self._cond:
            gone = [job for job in self._waiting if which(job)]
            self._waiting = [job for job in self._waiting if not which(job)]
        for job in gone:
            job.state = JobState.CANCELLED
            job.token.cancel(CancelReason.SHUTDOWN)
        return gone

    def move(self, job_id: int, index: int) -> bool:
        """Move a waiting job to position `index` among the waiting jobs."""
        with self._cond:
            for job in self._waiting:
                if job.id == job_id:
                    self._waiting.remove(job)
                    self._waiting.insert(max(0, min(index, len(self._waiting))), job)
                    return True
        return False

    def waiting(self) -> list[Job]:
        with self._cond:
            return list(self._waiting)

    def clear(self, reason: CancelReason = CancelReason.USER) -> list[Job]:
        """Remove every waiting job; returns them, marked cancelled for `reason`."""
        with self._cond:
            jobs, self._waiting = self._waiting, []
        for job in jobs:
            job.state = JobState.CANCELLED
            job.token.cancel(reason)
        return jobs

    def __len__(self) -> int:
        with self._cond:
            return len(self._waiting)


# (job, preview or None, the figures reported with this step or None)
ProgressCallback = Callable[[Job, "Image | None", "dict | None"], None]


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
                on_progress(job, preview, dict(metrics) if metrics else None)

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
            job.details = traceback.format_exc()
            log.error("job %s failed:\n%s", job.id, job.details)
            job.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return self._finish(job, JobState.FAILED)
        made = time.time()  # one moment for the batch, so lists keep its order among others
        job.device = device_of(results, job.device)
        for index, result in enumerate(results):
            result.device = result.device or job.device
            result.index = index
            result.created = made
            result.caption = result.caption or generator.caption(result)
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


def device_of(results: list[Result], fallback: str) -> str:
    """What the job row says it ran on: the device line a generator put in its results (the
    device with its precision and settings, e.g. "CPU · float32 · channels-last"), else the
    executor's device."""
    return next((r.device for r in results if r.device), fallback)
