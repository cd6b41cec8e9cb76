"""Runs jobs one at a time on a worker thread and reports them as main-thread signals.

The worker thread takes the next job, runs it with the executor it was given (in this
process, or in a `ProcessExecutor`'s child process), commits the results into the job's own
project and writes its files, then announces the outcome. All that reaches the window are
small frozen messages (`JobStarted`, `JobProgressed` with a QImage preview, `JobFinished`);
the mutable `Job` stays with the worker. `JobRunner` lives on the main thread, so widgets
connect to its signals and tests may wait on them.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.jobs import (
    CancelReason,
    Job,
    JobFinished,
    JobProgressed,
    JobQueue,
    JobStarted,
    JobState,
    forget,
    settle,
)
from studio.ui.qt_convert import to_qimage

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.05  # at most 20 progress signals a second reach the UI
_LIVE: weakref.WeakSet[JobRunner] = weakref.WeakSet()
_ABANDONED: list[threading.Thread] = []  # workers whose step ignored cancel at shutdown


def abandoned_workers() -> bool:
    return any(thread.is_alive() for thread in _ABANDONED)


def shutdown_all() -> None:
    """Stop every runner still running."""
    for runner in list(_LIVE):
        runner.shutdown()


atexit.register(shutdown_all)  # a script that never closed its window must not hang at exit


class QueueControls:
    """What a runner's waiting line offers the window: take jobs off, reorder, pause.

    Mixed into each runner (on this computer, on a cluster); it needs `queue` (a JobQueue)
    and the `job_finished` signal."""

    queue: JobQueue
    job_finished: Any

    def withdraw(self, which: Callable[[Job], bool]) -> list[Job]:
        """Take waiting jobs off without finishing them (they stay in their project's stored
        queue); each is announced as stopped."""
        jobs = self.queue.withdraw(which)
        for job in jobs:
            self.job_finished.emit(JobFinished.of(job))
        return jobs

    def move(self, job_id: int, index: int) -> bool:
        return self.queue.move(job_id, index)

    def pause(self) -> None:
        self.queue.pause()

    def resume(self) -> None:
        self.queue.resume()

    @property
    def paused(self) -> bool:
        return self.queue.paused


class JobRunner(QueueControls, QObject):
    """The main thread's handle on the worker: submit, cancel, reorder, pause, shut down."""

    job_started = Signal(object)  # JobStarted
    progress_changed = Signal(object)  # JobProgressed; its preview is a QImage or None
    job_finished = Signal(object)  # JobFinished (done, failed, cancelled, removed or stopped)

    def __init__(self, executor: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.executor = executor
        self.queue = JobQueue()
        self._current: Job | None = None
        self._last_emit = 0.0
        self._stopping = False
        self._thread = threading.Thread(target=self._drain, name="studio-worker", daemon=True)
        self._thread.start()
        _LIVE.add(self)

    # -- submitting and steering

    def submit(self, job: Job) -> Job:
        """Queue a job; it must already carry everything it needs (project, lineage)."""
        self.queue.submit(job)
        return job

    def cancel(self, job_id: int) -> bool:
        """Remove a waiting job, or stop the running one at its next step boundary."""
        job = self.queue.remove(job_id)
        if job is not None:
            job.finished = time.time()
            forget(job)
            self.job_finished.emit(JobFinished.of(job))
            return True
        running = self._current
        if running is not None and running.id == job_id:
            running.token.cancel()
            return True
        return False

    def cancel_running(self) -> bool:
        job = self._current
        if job is None:
            return False
        job.token.cancel()
        return True

    @property
    def running(self) -> Job | None:
        """The job on the worker now (read its id and project only)."""
        return self._current

    @property
    def busy(self) -> bool:
        return self._current is not None or len(self.queue) > 0

    def warm_up(self) -> None:
        """Prepare the executor while nothing else happens: start its process, or resolve the
        device (which imports the framework) on a thread of its own."""
        start = getattr(self.executor, "start", None)
        target = start if start is not None else self.executor.device
        threading.Thread(target=_quietly(target), name="studio-warm-up", daemon=True).start()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop: waiting jobs stay in their projects' stored queues, the running job is
        cancelled (and stays stored too), and the worker (and its process) ends."""
        if self._stopping:
            return
        self._stopping = True
        _LIVE.discard(self)
        for job in self.queue.clear(CancelReason.SHUTDOWN):
            self.job_finished.emit(JobFinished.of(job))
        self.queue.close()
        running = self._current
        if running is not None:
            running.token.cancel(CancelReason.SHUTDOWN)
        close = getattr(self.executor, "close", None)
        self._thread.join(timeout_ms / 1000 if close is None else min(timeout_ms / 1000, 5.0))
        if close is not None:
            close()  # ends a child whose step ignores cancel
            self._thread.join(timeout_ms / 1000)
        if self._thread.is_alive():
            log.warning("worker thread did not stop within %d ms", timeout_ms)
            _ABANDONED.append(self._thread)

    @property
    def stopped(self) -> bool:
        return not self._thread.is_alive()

    # -- on the worker thread

    def _drain(self) -> None:
        while (job := self.queue.take(timeout=None)) is not None:
            self._current = job
            if self._stopping:
                job.token.cancel(CancelReason.SHUTDOWN)
            self._last_emit = 0.0
            self.job_started.emit(JobStarted(job.id))
            try:
                self.executor.execute(job, self._on_progress)
                if job.details:
                    log.error("job %s (%s) failed:\n%s", job.id, job.title, job.details)
                settle(job)
            except BaseException as exc:  # noqa: BLE001 - execute never raises; a guard
                log.exception("job %s broke the executor", job.id)
                job.state, job.error, job.results = JobState.FAILED, f"Internal error: {exc}", []
                forget(job)
            finally:
                self._current = None
            if job.state is JobState.FAILED:
                log.warning("job %s (%s) failed: %s", job.id, job.title, job.error)
            self.job_finished.emit(JobFinished.of(job))

    def _on_progress(self, job: Job, preview: Any, metrics: dict | None) -> None:
        now = time.monotonic()
        if now - self._last_emit < PROGRESS_INTERVAL_S and job.step < job.total and not metrics:
            return
        self._last_emit = now
        image = to_qimage(preview) if preview is not None else None
        self.progress_changed.emit(JobProgressed(job.id, job.step, job.total, image, metrics))


def _quietly(target: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        try:
            target()
        except Exception:  # noqa: BLE001 - the first job reports the same problem properly
            log.warning("warm-up failed", exc_info=True)

    return run
