"""Batches on a Ray cluster: the same jobs, sent to workers that keep their generators loaded.

`ClusterExecutor` is the one way any batch of plain `Request`s runs on a cluster: the CLI's
commands (through `run_entries`) and the window's cluster runner both use it. It connects to
Ray (`local` starts one on this machine; anything else is a Ray address), starts a pool of
actors (`GeneratorWorker`, one `Executor` each: a model loads once per worker; one GPU per
worker when the device is a GPU, a fixed number of CPU threads otherwise), and `serve` sends
each job of a `JobQueue` to a free worker. Results stream back as they finish, and the
thread that serves commits each one with `settle(job)` at once, exactly as a local job, so a
client that dies leaves the rest of the batch in its project's stored queue. A worker that
dies is restarted by Ray and its job is retried (`max_task_retries`); the result of a job
arrives once, so it is committed once. Cancelling stops dispatching and stops running jobs at
their next step; nothing of a cancelled job is committed after the cancel.

Ray is an optional extra: nothing here imports it until a cluster is used. Where a batch
runs and how wide its pool is: `studio.core.cluster_plan`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from studio.core.cluster_inputs import InputCache
from studio.core.cluster_plan import (
    DEFAULT_REGISTRY,
    INSTALL_HINT,
    LOCAL,
    ClusterError,
    ClusterSpec,
    Plan,
    connect,
    disconnect,
    plan,
    ray_available,
)
from studio.core.generator import Generator
from studio.core.jobs import CancelReason, Job, JobQueue, JobState, settle

__all__ = [
    "DEFAULT_REGISTRY",
    "INSTALL_HINT",
    "LOCAL",
    "BatchListener",
    "ClusterError",
    "ClusterExecutor",
    "ClusterSpec",
    "Plan",
    "WorkerStatus",
    "plan",
    "ray_available",
]

log = logging.getLogger(__name__)

RETRIES = 3  # Ray runs a job again this many times when its worker dies
POLL_S = 0.1  # how often the serving loop looks at cancels and new jobs
PROGRESS_S = 0.5  # how often a busy worker is asked how far its job is
START_TIMEOUT_S = 120.0  # for the first worker to come up (imports, a cold node)
NICENESS = 5  # local workers run below the window, like its worker process
LOST_IN_A_ROW = 2  # a worker that loses this many jobs in a row is given up


@dataclass(frozen=True)
class WorkerStatus:
    """What one worker has done, for the progress display."""

    index: int
    host: str = ""
    device: str = ""
    done: int = 0
    failed: int = 0
    restarts: int = 0
    busy: bool = False
    ready: bool = False
    lost: bool = False

    def label(self) -> str:
        where = f" on {self.host}" if self.host else ""
        text = f"worker {self.index}{where}: {self.done} done"
        if self.failed:
            text += f", {self.failed} failed"
        if self.restarts:
            text += f", restarted {self.restarts}x"
        if self.lost:
            text += " (given up)"
        elif not self.ready:
            text += " (starting)"
        return text


class BatchListener:
    """What a cluster batch reports, on the thread that serves it; override what you need."""

    def started(self, job: Job) -> None:
        """`job` was sent to a worker."""

    def progressed(self, job: Job) -> None:
        """`job.step` of `job.total` are done."""

    def finished(self, job: Job) -> None:
        """`job` ended and was settled (its results committed and written, or not)."""

    def workers_changed(self, workers: tuple[WorkerStatus, ...]) -> None:
        """A worker came up, finished a job, was restarted or given up."""


class _Worker:
    def __init__(self, index: int, actor: Any) -> None:
        self.actor = actor
        self.status = WorkerStatus(index)
        self.pid: int | None = None
        self.job: Job | None = None
        self.lost_in_a_row = 0
        self.asked = 0.0

    def update(self, **changes: Any) -> None:
        self.status = replace(self.status, **changes)


class ClusterExecutor:
    """Runs a queue of jobs on a pool of Ray actors, one job per actor at a time, and commits
    each result on the serving thread as it arrives."""

    def __init__(self, spec: ClusterSpec, lookup: Callable[[str], Generator]) -> None:
        self.spec = spec
        self.plan: Plan | None = None
        self._lookup = lookup
        self._ray: Any = None
        self._workers: list[_Worker] = []
        self._running: dict[Any, _Worker] = {}  # result reference -> its worker
        self._pings: dict[Any, _Worker] = {}
        self._lock = threading.RLock()  # a cancel and a commit never interleave
        self._stop_reason: CancelReason | None = None
        self._inputs = InputCache()
        self._connected = False
        self._why = ""  # why the last worker could not start

    # -- lifetime

    def connect(self) -> None:
        """Reach the cluster (start a local Ray); raises ClusterError, within seconds when
        nothing answers at the address."""
        if not self._connected:
            self._ray = connect(self.spec)
            self._connected = True

    def planned(self, jobs: int = 0) -> Plan:
        """The workers `start` would start for `jobs` jobs (connects first)."""
        self.connect()
        return plan(self.spec, self._ray.cluster_resources(), jobs)

    def start(self, jobs: int = 0) -> Plan:
        """Connect, then start the workers for `jobs` jobs (0: unknown) and wait until one is
        up. Raises ClusterError when none can start."""
        self.connect()
        if self._workers:
            return self.plan
        ray = self._ray
        self.plan = self.planned(jobs)
        remote = ray.remote(
            concurrency_groups={"control": 1}, max_restarts=-1, max_task_retries=RETRIES
        )(_worker_class())
        args = (self.spec.registry, self.spec.device, self.plan.threads, _worker_env(self.spec),
                NICENESS if self.spec.local else 0)  # fmt: skip
        for index in range(1, self.plan.workers + 1):
            worker = _Worker(index, remote.options(**self.plan.resources()).remote(*args))
            self._workers.append(worker)
            self._ping(worker, warm_up=True)
        self._await_first_worker()
        return self.plan

    def _await_first_worker(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not any(w.status.ready for w in self._workers):
            if self._stop_reason is not None:
                return
            if all(w.status.lost for w in self._workers):
                raise ClusterError(f"No worker could start on {self.spec.where()}: {self._why}")
            if time.monotonic() > deadline:
                free = self._ray.available_resources()
                raise ClusterError(
                    f"No worker started within {START_TIMEOUT_S:.0f} s on {self.spec.where()}: "
                    f"each asks for {self.plan.resources()}, and the cluster has "
                    f"{free.get('CPU', 0):g} CPU(s) and {free.get('GPU', 0):g} GPU(s) free"
                )
            self._wait(POLL_S)

    def close(self) -> None:
        """End the workers (a local Ray stays up for the next batch)."""
        with self._lock:
            workers, self._workers = self._workers, []
            self._running.clear()
            self._pings.clear()
        for worker in workers:
            with contextlib.suppress(Exception):
                self._ray.kill(worker.actor, no_restart=True)
        if self._connected:
            disconnect()
            self._connected = False

    @property
    def workers(self) -> tuple[WorkerStatus, ...]:
        return tuple(w.status for w in self._workers)

    # -- steering (any thread)

    def cancel(self, job_id: int, reason: CancelReason = CancelReason.USER) -> bool:
        """Stop a running job at its next step; nothing of it is committed after this returns.
        False if no worker runs it."""
        with self._lock:
            for worker in self._running.values():
                if worker.job is not None and worker.job.id == job_id:
                    self._cancel(worker, reason)
                    return True
        return False

    def stop(self, reason: CancelReason = CancelReason.SHUTDOWN) -> None:
        """Stop the batch: dispatch nothing more and cancel the running jobs. Only sets a flag,
        so a signal handler may call it; `serve` carries it out and returns."""
        self._stop_reason = reason

    def cancel_all(self, reason: CancelReason = CancelReason.USER) -> None:
        """`stop`, and cancel the running jobs now: nothing more is committed after this
        returns (the jobs still queued stay there)."""
        with self._lock:
            self._stop_reason = reason
            for worker in self._running.values():
                self._cancel(worker, reason)

    def running_jobs(self) -> list[Job]:
        with self._lock:
            return [w.job for w in self._running.values() if w.job is not None]

    # -- serving

    def serve(self, queue: JobQueue, listener: BatchListener | None = None,
              until_empty: bool = False) -> None:  # fmt: skip
        """Send the queue's jobs to free workers and settle each as it finishes, until the
        queue is closed (or, with `until_empty`, has nothing left) and no job runs, or until
        `stop`. Call `start` first."""
        listener = listener or BatchListener()
        stopping = False
        while True:
            if self._stop_reason is not None and not stopping:
                stopping = True
                with self._lock:
                    for worker in self._running.values():
                        self._cancel(worker, self._stop_reason)
            if not stopping:
                self._dispatch(queue, listener)
            if not self._running:
                if stopping or queue.closed or (until_empty and len(queue) == 0):
                    return
                if not self._live():
                    self._fail_waiting(queue, listener)
                    return
            self._ask_progress()
            before = self.workers
            self._wait(POLL_S, listener)
            if self.workers != before:
                listener.workers_changed(self.workers)

    def _dispatch(self, queue: JobQueue, listener: BatchListener) -> None:
        for worker in self._idle():
            job = queue.take(0)
            if job is None:
                return
            if job.token.cancelled:
                job.state, job.finished = JobState.CANCELLED, time.time()
                settle(job)
                listener.finished(job)
                continue
            job.started = time.time()
            try:
                inputs = self._inputs.of(job.request, self._lookup, self._ray)
            except OSError as exc:
                job.state, job.error, job.finished = JobState.FAILED, str(exc), time.time()
                settle(job)
                listener.finished(job)
                continue
            reference = worker.actor.run.remote(job.id, job.request.to_json(), job.keep, inputs)
            with self._lock:
                worker.job = job
                self._running[reference] = worker
            worker.update(busy=True)
            listener.started(job)

    def _idle(self) -> list[_Worker]:
        return [w for w in self._workers if w.status.ready and not w.status.lost and w.job is None]

    def _live(self) -> bool:
        return any(not w.status.lost for w in self._workers)

    def _ping(self, worker: _Worker, warm_up: bool = False) -> None:
        """Ask a worker how it is (the first time: get ready, importing what it needs)."""
        worker.asked = time.monotonic()
        # No retries: a question to a worker that dies is simply asked again later.
        if warm_up:
            reference = worker.actor.warm_up.options(max_task_retries=0).remote()
        else:
            reference = worker.actor.state.options(
                concurrency_group="control", max_task_retries=0
            ).remote()
        self._pings[reference] = worker

    def _ask_progress(self) -> None:
        now = time.monotonic()
        asked = set(self._pings.values())
        for worker in list(self._running.values()):
            if worker not in asked and now - worker.asked >= PROGRESS_S:
                self._ping(worker)

    def _wait(self, timeout: float, listener: BatchListener | None = None) -> None:
        """Take in whatever finished within `timeout`: results are settled, answers to pings
        noted."""
        listener = listener or BatchListener()
        waiting = [*self._running, *self._pings]
        if not waiting:
            time.sleep(timeout)
            return
        ready, _ = self._ray.wait(waiting, num_returns=1, timeout=timeout)
        if ready:
            rest = [r for r in waiting if r not in ready]
            if rest:
                more, _ = self._ray.wait(rest, num_returns=len(rest), timeout=0)
                ready += more
        for reference in ready:
            if reference in self._pings:
                self._pinged(self._pings.pop(reference), reference, listener)
            elif reference in self._running:
                self._finish(self._running[reference], reference, listener)

    def _pinged(self, worker: _Worker, reference: Any, listener: BatchListener) -> None:
        try:
            pid, host, job_id, step, total, device = self._ray.get(reference)
        except Exception as exc:  # noqa: BLE001 - a worker that cannot start says why here
            if not worker.status.ready:
                self._why = _short(exc)
                log.warning("cluster worker %d could not start: %s", worker.status.index, exc)
                worker.update(lost=True)
            return
        restarts = worker.status.restarts + (worker.pid is not None and pid != worker.pid)
        worker.pid = pid
        worker.update(ready=True, host=host, device=device or worker.status.device,
                      restarts=restarts)  # fmt: skip
        job = worker.job
        moved = (step, total) != (job.step, job.total) if job is not None else False
        if job is not None and job_id == job.id and total and moved:
            job.step, job.total = step, total
            listener.progressed(job)

    def _finish(self, worker: _Worker, reference: Any, listener: BatchListener) -> None:
        job = worker.job
        try:
            state, error, details, results, device = self._ray.get(reference)
            worker.lost_in_a_row = 0
        except Exception as exc:  # noqa: BLE001 - the worker died on every retry, or Ray failed
            state, error, details, results, device = self._lost(worker, exc)
        with self._lock:
            del self._running[reference]
            worker.job = None
            job.finished = time.time()
            if self._stop_reason is not None and not job.token.cancelled:
                job.token.cancel(self._stop_reason)  # Ctrl+C came while results arrived
            if job.token.cancelled:  # asked before the result was taken: commit none of it
                state, results = JobState.CANCELLED.value, []
            job.state, job.error, job.details = JobState(state), error, details
            job.results = list(results) if job.state is JobState.DONE else []
            job.device = f"{device}, cluster worker {worker.status.index}" if device else ""
            if job.details:
                log.error("job %s (%s) failed on a cluster worker:\n%s", job.id, job.title,
                          job.details)  # fmt: skip
            settle(job)
        ok = job.state is JobState.DONE
        worker.update(busy=False, done=worker.status.done + ok,
                      failed=worker.status.failed + (job.state is JobState.FAILED),
                      device=device or worker.status.device)  # fmt: skip
        listener.finished(job)

    def _lost(self, worker: _Worker, exc: BaseException) -> tuple:
        ray = self._ray
        if isinstance(exc, ray.exceptions.TaskCancelledError):
            return JobState.CANCELLED.value, "", "", [], ""
        worker.lost_in_a_row += 1
        log.error("cluster worker %d lost its job: %r", worker.status.index, exc)
        if worker.lost_in_a_row >= LOST_IN_A_ROW:
            worker.update(lost=True)
            with contextlib.suppress(Exception):
                ray.kill(worker.actor, no_restart=True)
        error = (
            f"The cluster worker running it stopped ({RETRIES + 1} tries): {_short(exc)}. "
            "Details are in the log."
        )
        return JobState.FAILED.value, error, "", [], ""

    def _cancel(self, worker: _Worker, reason: CancelReason) -> None:
        job = worker.job
        if job is None or job.token.cancelled:
            return
        job.token.cancel(reason)
        worker.actor.cancel.options(concurrency_group="control").remote(job.id)

    def _fail_waiting(self, queue: JobQueue, listener: BatchListener) -> None:
        """Every worker was given up: the jobs waiting now fail, saying so."""
        while (job := queue.take(0)) is not None:
            job.state, job.finished = JobState.FAILED, time.time()
            job.error = f"No cluster worker is left on {self.spec.where()}; see the log"
            settle(job)
            listener.finished(job)


def _worker_class() -> type:
    from studio.core.cluster_worker import GeneratorWorker

    return GeneratorWorker


def _worker_env(spec: ClusterSpec) -> dict[str, str]:
    """What a worker takes from this process: a local worker finds the same models, plugins
    and settings; a remote one keeps its own machine's."""
    env = {"HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    if spec.local:
        env.update({k: v for k, v in os.environ.items() if k.startswith("STUDIO_")})
    return env


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
