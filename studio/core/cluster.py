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

Ray is an optional extra: nothing here imports it until a cluster is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from studio.core.generator import Generator, ImageParam, Request
from studio.core.jobs import CancelReason, Job, JobQueue, JobState, settle

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "Running on a cluster needs Ray, an optional extra: in Studio's folder run "
    '.venv/bin/pip install -e ".[cluster]" (Ray 2.60.0).'
)
LOCAL = "local"
DEFAULT_REGISTRY = "studio.core.registry:default_registry"
RETRIES = 3  # Ray runs a job again this many times when its worker dies
CPU_THREADS_PER_WORKER = 4  # CPU workers by default: one per 4 cores (memory: a model each)
POLL_S = 0.1  # how often the serving loop looks at cancels and new jobs
PROGRESS_S = 0.5  # how often a busy worker is asked how far its job is
START_TIMEOUT_S = 120.0  # for the first worker to come up (imports, a cold node)
CONNECT_TIMEOUT_S = 3.0
MAX_INPUT_BYTES = 1 << 30
NICENESS = 5  # local workers run below the window, like its worker process
LOST_IN_A_ROW = 2  # a worker that loses this many jobs in a row is given up


class ClusterError(RuntimeError):
    """The cluster cannot be used (Ray missing, nothing at the address, no room for a
    worker); the message says what to do."""


def ray_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterError(INSTALL_HINT) from None
    return ray


@dataclass(frozen=True)
class ClusterSpec:
    """Where a batch runs and how wide: `address` is "local" or a Ray address; `workers`
    0 means as many as the cluster holds; `threads` are CPU threads per worker (0: the
    cluster's CPUs shared among the workers); `device` is the usual preference."""

    address: str = LOCAL
    workers: int = 0
    threads: int = 0
    device: str = "auto"
    registry: str = DEFAULT_REGISTRY

    @property
    def local(self) -> bool:
        return self.address == LOCAL

    def where(self) -> str:
        return "Ray on this computer" if self.local else f"the Ray cluster at {self.address}"


@dataclass(frozen=True)
class Plan:
    """How many workers to start and what each asks Ray for."""

    workers: int
    threads: int  # CPU threads per worker (0: the plugin's own default)
    gpu: bool

    def resources(self) -> dict[str, float]:
        if self.gpu:
            return {"num_gpus": 1, "num_cpus": 1}
        return {"num_cpus": max(1, self.threads)}

    def describe(self) -> str:
        each = "1 GPU" if self.gpu else f"{self.threads} CPU thread(s)"
        return f"{self.workers} worker(s), {each} each"


def plan(spec: ClusterSpec, resources: Mapping[str, float], jobs: int = 0) -> Plan:
    """The workers for `spec` on a cluster with `resources` (Ray's totals), for `jobs` jobs
    (0: unknown). A GPU device gets one worker per GPU; the CPU gets one per `threads`
    cores."""
    cpus, gpus = max(1, int(resources.get("CPU", 1))), int(resources.get("GPU", 0))
    if spec.device == "cuda" and gpus == 0:
        raise ClusterError(f"The device is cuda, but {spec.where()} has no GPU; use --device cpu")
    if gpus and spec.device in ("auto", "cuda"):
        workers, threads, gpu = spec.workers or gpus, spec.threads, True
    else:
        threads = spec.threads or (
            max(1, cpus // spec.workers) if spec.workers else min(CPU_THREADS_PER_WORKER, cpus)
        )
        workers, gpu = spec.workers or max(1, cpus // threads), False
    if jobs:
        workers = min(workers, jobs)
    return Plan(max(1, workers), threads, gpu)


_connection_lock = threading.Lock()
_connected: dict[str, Any] = {"address": None, "users": 0, "ours": False}


def connect(spec: ClusterSpec) -> Any:
    """Ray, connected as `spec` asks (started here for "local"). A Ray this process already
    has is reused: one started here for the same address, or one started by someone else.
    Fails within seconds when nothing answers at the address."""
    ray = _ray()
    if not spec.local:
        _check_reachable(spec.address)  # Ray itself would wait for minutes
    with _connection_lock:
        if ray.is_initialized():
            if not _connected["ours"] or _connected["address"] == spec.address:
                _connected["users"] += 1
                return ray
            if _connected["users"]:
                raise ClusterError(
                    f"Studio is using {ClusterSpec(_connected['address']).where()} for another "
                    "batch; let that one finish first"
                )
            ray.shutdown()
        options = {"include_dashboard": False, "log_to_driver": False,
                   "logging_level": logging.ERROR}  # fmt: skip
        try:
            if spec.local:
                ray.init(**options)
            else:
                ray.init(address=spec.address, **options)
        except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; say which and where
            raise ClusterError(f"Could not connect to {spec.where()}: {exc}") from exc
        _connected.update(address=spec.address, users=1, ours=True)
        return ray


def disconnect() -> None:
    """One user of the connection is done (the connection stays for the next batch)."""
    with _connection_lock:
        _connected["users"] = max(0, _connected["users"] - 1)


def _check_reachable(address: str) -> None:
    """Ray waits for minutes on an address where nothing listens: look first (one TCP
    connect)."""
    if address == "auto":
        return
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise ClusterError(
            f"'{address}' is not a Ray address; give HOST:PORT (the head's GCS port, 6379 by "
            "default), ray://HOST:10001, or local"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ClusterError(
            f"Nothing answers at {address} ({exc.strerror or exc}). Start the cluster with "
            "`ray start --head` on its head machine, or use --cluster local"
        ) from None


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
        self._inputs = _InputCache()
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


class _InputCache:
    """Input images sent to the cluster once each: the bytes go into Ray's object store and
    the same reference serves every job that uses the same file (a batch's painting)."""

    KEPT = 32

    def __init__(self) -> None:
        self._refs: OrderedDict[tuple, tuple[str, Any]] = OrderedDict()

    def of(self, request: Request, lookup: Callable[[str], Generator], ray: Any) -> dict:
        """{param: (file name, sha256, reference)} for the request's image files."""
        from studio.core.metadata_inputs import file_name

        shipped = {}
        for spec in _image_params(request, lookup):
            value = request.params.get(spec.name)
            if not isinstance(value, str) or not value or not os.path.isfile(value):
                continue  # the generator says what is wrong with it, as it would here
            stat = os.stat(value)
            if stat.st_size > MAX_INPUT_BYTES:
                raise OSError(f"'{file_name(value)}' is over 1 GB; too large to send")
            key = (value, stat.st_size, stat.st_mtime_ns)
            if key not in self._refs:
                with open(value, "rb") as handle:
                    data = handle.read()
                self._refs[key] = (hashlib.sha256(data).hexdigest(), ray.put(data))
                while len(self._refs) > self.KEPT:
                    self._refs.popitem(last=False)
            self._refs.move_to_end(key)
            digest, reference = self._refs[key]
            shipped[spec.name] = (file_name(value), digest, reference)
        return shipped


def _image_params(request: Request, lookup: Callable[[str], Generator]) -> Sequence[ImageParam]:
    try:
        generator = lookup(request.generator)
    except KeyError:
        return ()
    return [p for p in generator.params if isinstance(p, ImageParam)]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
