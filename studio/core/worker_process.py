"""Runs generators in a process of their own, behind the same `execute` as `Executor`.

Importing torch or diffusers holds the interpreter lock for up to a second at a time, which a
worker thread cannot hide from the window (its heartbeat stalled up to 1 s); a child process
has a lock of its own. The child also contains a plugin that crashes (the job fails, the next
one gets a fresh child), and ending it frees every model it loaded.

The child is a fresh interpreter (`python -m studio.core.worker_process`, never a fork of a
process running Qt threads, and never a re-run of the parent's main script as
multiprocessing's "spawn" would do) that builds its own registry from a "module:function"
name. The two talk over a socket pair with `multiprocessing.connection`'s framing: pickled
tuples between our own two processes. Results come back as `Result` objects whose images
pickle as raw pixels. The child reads its socket on a thread of its own, so a cancel reaches
it while a step runs.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from studio.core.jobs import Executor, Job, JobState, ProgressCallback, device_of

log = logging.getLogger(__name__)

DEFAULT_REGISTRY = "studio.core.registry:default_registry"
PROGRESS_INTERVAL_S = 0.05  # previews cost a pickle each: at most 20 a second cross over
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
        self._models_dir = str(models_dir) if models_dir is not None else ""
        self._registry = registry
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._device = ""
        self.restarts = 0

    # -- lifetime

    def start(self) -> None:
        """Start the child now (it imports the device's framework while nothing waits)."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._spawn()

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        command = [sys.executable, "-m", "studio.core.worker_process", str(theirs.fileno())]
        command += [self._registry, self._preference, self._models_dir]
        self._process = subprocess.Popen(command, pass_fds=[theirs.fileno()], env=env)
        theirs.close()
        self._conn = Connection(ours.detach())

    def close(self, timeout: float = STOP_WAIT_S) -> None:
        """Stop the child (killed if a step ignores the request for `timeout` seconds)."""
        with self._lock:
            process, conn = self._process, self._conn
            self._process = self._conn = None
        if process is None:
            return
        with contextlib.suppress(OSError, ValueError):
            conn.send(("stop",))
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the generator process did not stop within %.0f s; ending it", timeout)
            process.kill()
            process.wait(2)
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
            self._conn.send(("run", job.id, job.request.to_json(), job.keep, self.threads))
            return self._follow(job, on_progress)
        except (EOFError, OSError, AttributeError) as exc:
            return self._lost(job, exc)

    def _follow(self, job: Job, on_progress: ProgressCallback | None) -> Job:
        conn, process, asked = self._conn, self._process, False
        while True:
            if job.token.cancelled and not asked:
                conn.send(("cancel", job.id))
                asked = True
            if not conn.poll(POLL_S):
                if process.poll() is not None:
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
                job.device = device_of(results or [], job.device)
                return _end(job, JobState(state))

    def _lost(self, job: Job, exc: BaseException) -> Job:
        process, code = self._process, None
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = process.wait(2)  # its socket closed first: give it a moment to end
            if code is None:
                process.kill()
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


def serve(conn: Connection, registry: str, preference: str, models_dir: str) -> None:
    """The child's loop: run each job it is sent, report in messages, until told to stop."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.core import devices

    inbox: queue.Queue = queue.Queue()
    cancel = _Cancel()
    threading.Thread(target=_read, args=(conn, inbox, cancel), daemon=True).start()
    module, _, name = registry.partition(":")
    made = getattr(importlib.import_module(module), name)()
    executor = Executor(made.get, lambda: devices.resolve(preference), models_dir or None)
    try:
        executor.device()  # imports the framework now, while the window is idle
    except Exception:  # noqa: BLE001 - the first job reports the same problem properly
        log.warning("device warm-up failed", exc_info=True)
    while (message := inbox.get())[0] == "run":
        _, job_id, request, keep, threads = message
        _run_one(conn, cancel, executor, job_id, request, keep, threads)


def _read(conn: Connection, inbox: queue.Queue, cancel: _Cancel) -> None:
    # On its own thread: a cancel must arrive while the main thread is inside a step.
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            inbox.put(("stop",))
            return
        if message[0] == "cancel":
            cancel.job_id = message[1]
        else:
            inbox.put(message)


def _run_one(conn: Connection, cancel: _Cancel, executor: Executor, job_id: int,
             request: str, keep: int | None, threads: int) -> None:  # fmt: skip
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


class _Cancel:
    """The id of the job the parent asked to stop (written by the reading thread)."""

    job_id = 0


class _SharedToken:
    """A cancel token that reads what the parent asked for."""

    def __init__(self, cancel: _Cancel, job_id: int) -> None:
        self._cancel, self._job_id = cancel, job_id

    @property
    def cancelled(self) -> bool:
        return self._cancel.job_id == self._job_id


NICENESS = 5  # below the window's priority: with every core busy, the window still runs


def main(argv: list[str]) -> int:
    fd, registry, preference, models_dir = argv
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    conn = Connection(int(fd))
    try:
        serve(conn, registry, preference, models_dir)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
