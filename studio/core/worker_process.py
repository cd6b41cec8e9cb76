"""Runs generators in a process of their own, behind the same `execute` as `Executor`.

Importing torch or diffusers holds the interpreter lock for up to a second at a time, which a
worker thread cannot hide from the window (its heartbeat stalled up to 1 s); a child process
has a lock of its own. The child also contains a plugin that crashes (the job fails, the next
one gets a fresh child), and ending it frees every model it loaded.

The child is started with "spawn" (the parent runs Qt threads, which do not survive a fork)
and builds its own registry from a "module:function" name. Messages both ways are pickled
tuples over a pipe between our own two processes; results come back as `Result` objects whose
images pickle as raw pixels. Cancel is a shared number (the id of the job to stop), so it
reaches the child while it is busy.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import threading
import time
from typing import Any

from studio.core.jobs import Executor, Job, JobState, ProgressCallback

log = logging.getLogger(__name__)

DEFAULT_REGISTRY = "studio.core.registry:default_registry"
PROGRESS_INTERVAL_S = 0.05  # previews cost a pickle each: at most 20 a second cross the pipe
POLL_S = 0.05
STOP_WAIT_S = 5.0


class ProcessExecutor:
    """`Executor.execute` run in a child process; start it early (`start`) to warm it up."""

    def __init__(
        self,
        device_preference: str = "auto",
        models_dir: Any = None,
        threads: int = 0,
        registry: str = DEFAULT_REGISTRY,
    ) -> None:
        self.threads = threads
        self._preference = device_preference
        self._models_dir = str(models_dir) if models_dir is not None else None
        self._registry = registry
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Any = None
        self._cancel: Any = None
        self._device = ""
        self.restarts = 0

    # -- lifetime

    def start(self) -> None:
        """Start the child now (it imports the device's framework while nothing waits)."""
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._spawn()

    def _spawn(self) -> None:
        parent, child = self._context.Pipe()
        self._cancel = self._context.Value("q", 0, lock=False)
        self._process = self._context.Process(
            target=serve,
            args=(child, self._cancel, self._registry, self._preference, self._models_dir),
            name="studio-generator",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._conn = parent

    def close(self, timeout: float = STOP_WAIT_S) -> None:
        """Stop the child (killed if a step ignores the request for `timeout` seconds)."""
        with self._lock:
            process, conn = self._process, self._conn
            self._process = self._conn = None
        if process is None:
            return
        with contextlib.suppress(OSError, ValueError):
            conn.send(("stop",))
        process.join(timeout)
        if process.is_alive():
            log.warning("the generator process did not stop within %.0f s; ending it", timeout)
            process.kill()
            process.join(2)
        conn.close()

    def device(self) -> str:
        return self._device

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None else None

    # -- running

    def execute(self, job: Job, on_progress: ProgressCallback | None = None) -> Job:
        """Run `job` in the child to its end; never raises. The job's state says what
        happened; a child that dies fails the job and is replaced for the next one."""
        job.state, job.started = JobState.RUNNING, time.time()
        if job.token.cancelled:
            return _end(job, JobState.CANCELLED)
        try:
            self.start()
            self._cancel.value = 0
            self._conn.send(("run", job.id, job.request.to_json(), job.keep, self.threads))
            return self._follow(job, on_progress)
        except (EOFError, OSError, BrokenPipeError) as exc:
            return self._lost(job, exc)

    def _follow(self, job: Job, on_progress: ProgressCallback | None) -> Job:
        conn = self._conn
        while True:
            if job.token.cancelled:
                self._cancel.value = job.id
            if not conn.poll(POLL_S):
                if not self._process.is_alive():
                    raise EOFError
                continue
            message = conn.recv()
            kind = message[0]
            if kind == "progress":
                _, _id, step, total, preview, metrics = message
                job.step, job.total = step, total
                if metrics:
                    job.metrics.append(metrics)
                if on_progress is not None:
                    on_progress(job, preview, metrics)
            elif kind == "started":
                job.device = self._device = message[2]
            elif kind == "ended":
                _, _id, state, error, details, results = message
                job.error, job.details, job.results = error, details, results
                return _end(job, JobState(state))

    def _lost(self, job: Job, exc: BaseException) -> Job:
        process = self._process
        code = process.exitcode if process is not None else None
        with self._lock:
            self._process = self._conn = None
        self.restarts += 1
        log.error("the generator process stopped during job %s (exit code %s): %r", job.id, code,
                  exc)  # fmt: skip
        if job.token.cancelled:
            return _end(job, JobState.CANCELLED)
        job.error = (
            f"The generator process stopped unexpectedly (exit code {code}); Studio starts a "
            "fresh one for the next job. Details are in the log."
        )
        return _end(job, JobState.FAILED)


def _end(job: Job, state: JobState) -> Job:
    job.state, job.finished = state, time.time()
    if state is not JobState.DONE:
        job.results = []
    return job


# ---------------------------------------------------------------- the child


def serve(conn: Any, cancel: Any, registry: str, preference: str, models_dir: str | None) -> None:
    """The child's loop: run each job it is sent, report in messages, until told to stop."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.core import devices

    module, _, name = registry.partition(":")
    made = getattr(importlib.import_module(module), name)()
    executor = Executor(made.get, lambda: devices.resolve(preference), models_dir)
    try:
        executor.device()  # imports the framework now, while the window is idle
    except Exception:  # noqa: BLE001 - the first job reports the same problem properly
        log.warning("device warm-up failed", exc_info=True)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        _, job_id, request, keep, threads = message
        _run_one(conn, cancel, executor, job_id, request, keep, threads)


def _run_one(conn: Any, cancel: Any, executor: Executor, job_id: int, request: str,
             keep: int | None, threads: int) -> None:  # fmt: skip
    from studio.core.generator import Request

    executor.threads = threads
    job = Job(Request.from_json(request), id=job_id, keep=keep)
    job.token = _SharedToken(cancel, job_id)
    last = 0.0
    announced = False

    def progress(job: Job, preview: Any, metrics: dict | None) -> None:
        nonlocal last, announced
        if not announced:
            conn.send(("started", job_id, job.device))
            announced = True
        now = time.monotonic()
        if now - last < PROGRESS_INTERVAL_S and job.step < job.total and not metrics:
            return
        last = now
        conn.send(("progress", job_id, job.step, job.total, preview, metrics))

    executor.execute(job, progress)
    conn.send(("started", job_id, job.device))
    conn.send(("ended", job_id, job.state.value, job.error, job.details, job.results))


class _SharedToken:
    """A cancel token read from the number the parent writes."""

    def __init__(self, cancel: Any, job_id: int) -> None:
        self._cancel, self._job_id = cancel, job_id

    @property
    def cancelled(self) -> bool:
        return self._cancel.value == self._job_id
