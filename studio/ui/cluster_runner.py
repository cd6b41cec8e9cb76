"""Runs a batch's jobs on a Ray cluster and reports them as `JobRunner` does.

Same signals, same frozen messages and the same steering calls as `JobRunner`, so the
controller, the queue panel and the batch dialog treat a cluster batch like any other; the
difference is that several jobs run at once, one per worker. A thread of its own connects
(starting Ray on this computer takes seconds), starts the workers and serves the runner's
queue with a `ClusterExecutor`, which commits each result as it arrives. Cancel removes a
waiting job, or stops a running one at its next step and commits nothing of it; shutting
down leaves the unfinished jobs in their projects' stored queues.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from studio.core.cluster import BatchListener, ClusterError, ClusterExecutor, ClusterSpec
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
from studio.ui.job_runner import QueueControls

log = logging.getLogger(__name__)


class ClusterRunner(QueueControls, QObject):
    """The main thread's handle on one cluster batch: submit, cancel, pause, shut down."""

    job_started = Signal(object)  # JobStarted
    progress_changed = Signal(object)  # JobProgressed (no previews from the cluster)
    job_finished = Signal(object)  # JobFinished
    workers_changed = Signal(object)  # tuple[WorkerStatus, ...]
    status_changed = Signal(str)  # "Starting Ray on this computer…", "2 worker(s) …"
    failed = Signal(str)  # the cluster could not be used; its jobs failed with this

    def __init__(self, spec: ClusterSpec, lookup: Callable[[str], Any], jobs: int = 0,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.spec = spec
        self.queue = JobQueue()
        self.executor = ClusterExecutor(spec, lookup)
        self._jobs_hint = jobs
        self._stopping = False
        # Started by the first job, so whoever made the runner has connected its signals.
        self._thread = threading.Thread(target=self._serve, name="studio-cluster", daemon=True)

    # -- submitting and steering (main thread)

    def submit(self, job: Job) -> Job:
        self.queue.submit(job)
        if self._thread.ident is None and not self._stopping:
            self._thread.start()
        return job

    def cancel(self, job_id: int) -> bool:
        job = self.queue.remove(job_id)
        if job is not None:
            job.finished = time.time()
            forget(job)
            self.job_finished.emit(JobFinished.of(job))
            return True
        return self.executor.cancel(job_id)

    def cancel_running(self) -> bool:
        return False  # Esc stops the job on this computer; a batch has its own Cancel

    @property
    def running(self) -> Job | None:
        jobs = self.executor.running_jobs()
        return jobs[0] if jobs else None

    def running_jobs(self) -> list[Job]:
        return self.executor.running_jobs()

    @property
    def busy(self) -> bool:
        return bool(self.executor.running_jobs()) or len(self.queue) > 0

    def warm_up(self) -> None:
        """The thread connects when the first job arrives."""

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop: waiting jobs stay in their projects' stored queues, running ones are
        cancelled (and stay stored too), and the workers end."""
        if self._stopping:
            return
        self._stopping = True
        for job in self.queue.clear(CancelReason.SHUTDOWN):
            self.job_finished.emit(JobFinished.of(job))
        self.queue.close()
        self.executor.cancel_all(CancelReason.SHUTDOWN)
        if self._thread.ident is None:  # never started: nothing ran
            return
        self._thread.join(timeout_ms / 1000)
        if self._thread.is_alive():
            log.warning("the cluster batch did not stop within %d ms", timeout_ms)

    @property
    def stopped(self) -> bool:
        return not self._thread.is_alive()

    # -- on the runner's thread

    def _serve(self) -> None:
        report = _Report(self)
        try:
            self.status_changed.emit(f"Starting {self.spec.where()}…")
            planned = self.executor.start(self._jobs_hint)
            self.status_changed.emit(f"{planned.describe()} on {self.spec.where()}")
            self.workers_changed.emit(self.executor.workers)
            self.executor.serve(self.queue, report)
        except ClusterError as exc:
            self.failed.emit(str(exc))
            self._fail_rest(str(exc))
        except Exception as exc:  # noqa: BLE001 - a Ray failure must fail the batch, not the app
            log.exception("the cluster batch failed")
            self.failed.emit(f"The cluster batch stopped: {exc}")
            self._fail_rest(f"The cluster batch stopped: {exc}")
        finally:
            self.executor.close()
        if not self.queue.closed:  # every worker was given up: fail what comes later too
            self._fail_rest(f"No cluster worker is left on {self.spec.where()}")

    def _fail_rest(self, reason: str) -> None:
        while (job := self.queue.take(timeout=None)) is not None:
            job.state, job.error, job.finished = JobState.FAILED, reason, time.time()
            settle(job)
            self.job_finished.emit(JobFinished.of(job))


class _Report(BatchListener):
    """The executor's reports, turned into the runner's signals."""

    def __init__(self, runner: ClusterRunner) -> None:
        self._runner = runner

    def started(self, job: Job) -> None:
        self._runner.job_started.emit(JobStarted(job.id))

    def progressed(self, job: Job) -> None:
        self._runner.progress_changed.emit(JobProgressed(job.id, job.step, job.total))

    def finished(self, job: Job) -> None:
        self._runner.job_finished.emit(JobFinished.of(job))

    def workers_changed(self, workers: tuple) -> None:
        self._runner.workers_changed.emit(workers)
