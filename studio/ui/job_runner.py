"""Runs jobs on one worker QThread and reports them as main-thread signals.

Widgets connect only to `JobRunner`'s signals, which live on the main thread: waiting on
signals of an object that lives in the worker thread is unsafe (Qt timers cannot be stopped
from another thread). The worker never touches a widget; it sends plain jobs and QImages.
"""

from __future__ import annotations

import atexit
import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from studio.core.generator import Request
from studio.core.jobs import Executor, Job, JobQueue, JobState
from studio.ui.qt_convert import to_qimage

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.05  # at most 20 progress signals a second reach the UI
# worker threads (and their workers) that outlived shutdown; see JobRunner.shutdown
_ABANDONED: list[tuple[QThread, QObject]] = []


_LIVE: weakref.WeakSet[JobRunner] = weakref.WeakSet()


def abandoned_workers() -> bool:
    return any(thread.isRunning() for thread, _worker in _ABANDONED)


def shutdown_all() -> None:
    """Stop every runner still running (a Qt thread destroyed while running aborts)."""
    for runner in list(_LIVE):
        runner.shutdown()


atexit.register(shutdown_all)  # a script that never closed its window must not abort at exit


class _Worker(QObject):
    """Lives on the worker thread: drains the queue, one job at a time."""

    started = Signal(object)
    progressed = Signal(object, object)
    ended = Signal(object)

    def __init__(self, queue: JobQueue, executor: Executor) -> None:
        super().__init__()
        self._queue = queue
        self._executor = executor
        self._last_emit = 0.0
        self.current: Job | None = None  # written here, read by the main thread to cancel
        self.stopping = False
        self.commit: Callable[[Job], list[int]] | None = None

    @Slot()
    def warm_up(self) -> None:
        """Resolve the device now (imports torch): its first import holds the interpreter
        lock for ~0.3 s, which is better spent while the user looks at a fresh window than
        after the first click on Generate."""
        try:
            self._executor.device()
        except Exception:  # noqa: BLE001 - the first job reports the same problem properly
            log.warning("device warm-up failed", exc_info=True)

    @Slot()
    def drain(self) -> None:
        while (job := self._queue.take()) is not None:
            self.current = job
            if self.stopping:  # shutdown may have looked before `current` was set
                job.token.cancel()
            self.started.emit(job)
            self._last_emit = 0.0
            try:
                self._executor.execute(job, self._on_progress)
                self._commit(job)
            except BaseException as exc:  # noqa: BLE001 - execute never raises; this is a guard
                log.exception("job %s broke the executor", job.id)
                job.state, job.error, job.results = JobState.FAILED, f"Internal error: {exc}", []
            finally:
                self.current = None
                self.ended.emit(job)

    def _commit(self, job: Job) -> None:
        # Here, on the worker: encoding and writing results must not hold up the window.
        if job.state is not JobState.DONE:
            return
        if self.commit is not None:
            try:
                job.item_ids = self.commit(job)
            except Exception as exc:  # noqa: BLE001 - a full disk fails the job, not the app
                log.exception("could not commit the results of job %s", job.id)
                job.state, job.results = JobState.FAILED, []
                job.error = f"The results could not be saved to the project: {exc}"
                return
        if job.after is not None:
            try:
                job.after(job)
            except Exception as exc:  # noqa: BLE001 - the results are kept; say what failed
                log.warning("after-job step of job %s failed: %s", job.id, exc)
                job.warning = str(exc)

    def _on_progress(self, job: Job, preview: Any) -> None:
        now = time.monotonic()
        if now - self._last_emit < PROGRESS_INTERVAL_S and job.step < job.total:
            return
        self._last_emit = now
        image = to_qimage(preview) if preview is not None else None
        self.progressed.emit(job, image)


class JobRunner(QObject):
    """The main thread's handle on the worker: submit, cancel, remove, shut down."""

    job_added = Signal(object)
    job_started = Signal(object)
    progress_changed = Signal(object, object)  # job, preview QImage or None
    job_finished = Signal(object)  # done, failed or cancelled (including removed while queued)
    _wake = Signal()
    _warm = Signal()

    def __init__(self, executor: Executor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue = JobQueue()
        self._thread = QThread()
        self._thread.setObjectName("studio-worker")
        self._worker = _Worker(self.queue, executor)
        self._worker.moveToThread(self._thread)
        self._wake.connect(self._worker.drain)
        self._warm.connect(self._worker.warm_up)
        self._worker.started.connect(self.job_started)
        self._worker.progressed.connect(self.progress_changed)
        self._worker.ended.connect(self._on_ended)
        self._thread.start()
        _LIVE.add(self)

    def set_commit(self, commit: Callable[[Job], list[int]] | None) -> None:
        """Where finished results go (the open project); called on the worker thread."""
        self._worker.commit = commit

    def warm_up(self) -> None:
        """Ask the worker to prepare the device while nothing else is happening."""
        self._warm.emit()

    def submit(self, request: Request, title: str = "", **job_fields: Any) -> Job:
        """Queue a request; `job_fields` (keep, parent) are set before the worker can see it."""
        job = self.queue.submit(Job(request, title=title or request.generator, **job_fields))
        self.job_added.emit(job)
        self._wake.emit()
        return job

    def cancel(self, job: Job) -> None:
        """Remove a queued job, or stop the running one at its next step boundary."""
        if self.queue.remove(job.id) is not None:
            job.finished = time.time()
            self.job_finished.emit(job)
        elif not job.state.finished:
            job.token.cancel()

    @property
    def running(self) -> Job | None:
        """The job on the worker now (it may not have announced itself yet)."""
        return self._worker.current

    def cancel_running(self) -> bool:
        job = self.running
        if job is None:
            return False
        job.token.cancel()
        return True

    def move(self, job: Job, index: int) -> bool:
        return self.queue.move(job.id, index)

    @property
    def busy(self) -> bool:
        return self.running is not None or len(self.queue) > 0

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel everything and stop the thread; call before the window goes away."""
        _LIVE.discard(self)
        for job in self.queue.clear():
            self.job_finished.emit(job)
        self._worker.stopping = True
        self.cancel_running()
        self._thread.quit()
        if not self._thread.wait(timeout_ms):
            # A step that never checks for cancel: destroying a running QThread aborts the
            # process, so keep it referenced; the app then leaves with os._exit (see app.run).
            log.warning("worker thread did not stop within %d ms", timeout_ms)
            _ABANDONED.append((self._thread, self._worker))
            self._thread.setParent(None)

    @property
    def stopped(self) -> bool:
        return self._thread.isFinished() or not self._thread.isRunning()

    @Slot(object)
    def _on_ended(self, job: Job) -> None:
        if job.state is JobState.FAILED:
            log.warning("job %s (%s) failed: %s", job.id, job.title, job.error)
        self.job_finished.emit(job)
