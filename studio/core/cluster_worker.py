"""One cluster worker: the state a Ray actor keeps, a loaded generator and what it is doing.

`studio.core.cluster` makes this class a Ray actor (`ray.remote(GeneratorWorker)`); nothing
here imports Ray at import time, so the class also runs and is tested as plain Python. A
worker owns an `Executor`, which loads each generator once and keeps it, exactly as the
window's worker process does; plugins run unchanged. `run` takes one job at a time; `cancel`
and `state` run beside it (on the actor's "control" thread), so a cancel reaches a step that
is running and the client can read its progress.

Input images travel with the job (`studio.core.cluster_inputs`): the worker runs the request
with its own copies' paths, and the results get the client's paths back, so what is
committed names the user's own files.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping
from typing import Any

from studio.core.cluster_inputs import InputFiles

log = logging.getLogger(__name__)


class GeneratorWorker:
    """A loaded generator on one cluster worker, running one job at a time."""

    def __init__(
        self, registry: str, device: str, threads: int, env: Mapping[str, str], nice: int = 0
    ) -> None:
        os.environ.update(env)  # where this worker finds models and plugins
        if nice and hasattr(os, "nice"):
            os.nice(nice)
        self._registry_name, self._preference, self._threads = registry, device, threads
        self._executor: Any = None
        self._lock = threading.Lock()  # guards what `state` and `cancel` read
        self._job_id: int | None = None
        self._step = self._total = 0
        self._cancelled: int | None = None
        self._device = ""
        self._inputs = InputFiles()

    # -- control (runs beside `run`)

    def state(self) -> tuple[int, str, int | None, int, int, str]:
        """(process id, host name, running job id or None, step, total, device)."""
        with self._lock:
            return (os.getpid(), socket.gethostname(), self._job_id, self._step, self._total,
                    self._device)  # fmt: skip

    def cancel(self, job_id: int) -> None:
        """Stop job `job_id` at its next step boundary (now if it has not started)."""
        with self._lock:
            self._cancelled = job_id

    # -- work

    def warm_up(self) -> tuple[int, str, int | None, int, int, str]:
        """Build the registry and resolve the device (importing its framework) before the
        first job; answers as `state` does. A failure here is left for the first job to
        report properly."""
        try:
            executor = self._ensure_executor()
            device = str(executor.device())
            with self._lock:
                self._device = device
        except Exception:  # noqa: BLE001 - the first job says what is wrong, with its message
            log.warning("cluster worker warm-up failed", exc_info=True)
        return self.state()

    def run(
        self, job_id: int, request: str, keep: int | None, inputs: Mapping[str, tuple]
    ) -> tuple[str, str, str, list, str]:
        """Run one job to its end: (state, error, traceback, results, device). Never raises
        for a plugin's failure; the state says what happened."""
        from studio.core.generator import Request
        from studio.core.jobs import Job

        with self._lock:
            self._job_id, self._step, self._total = job_id, 0, 0
        try:
            original = Request.from_json(request)
            paths = self._inputs.place(inputs)
            job = Job(_with_params(original, paths), id=job_id, keep=keep)
            job.token = _Token(self, job_id)
            self._ensure_executor().execute(job, self._on_progress)
            for result in job.results:
                for name, path in paths.items():
                    if result.params.get(name) == path:
                        result.params[name] = original.params[name]
            with self._lock:
                self._device = job.device or self._device
            return job.state.value, job.error, job.details, job.results, job.device
        finally:
            with self._lock:
                self._job_id = None

    def _ensure_executor(self) -> Any:
        if self._executor is None:
            import importlib

            from studio.core import devices
            from studio.core.jobs import Executor
            from studio.core.models import models_dir

            module, _, name = self._registry_name.partition(":")
            registry = getattr(importlib.import_module(module), name)()
            preference = self._preference
            self._executor = Executor(
                registry.get, lambda: devices.resolve(preference), models_dir(), self._threads
            )
        return self._executor

    def _on_progress(self, job: Any, _preview: Any, _metrics: Any) -> None:
        with self._lock:
            self._step, self._total = job.step, job.total

    def cancelled(self, job_id: int) -> bool:
        with self._lock:
            return self._cancelled == job_id


class _Token:
    """A job's cancel token on the worker: set by the client through `cancel`."""

    def __init__(self, worker: GeneratorWorker, job_id: int) -> None:
        self._worker, self._job_id = worker, job_id

    @property
    def cancelled(self) -> bool:
        return self._worker.cancelled(self._job_id)

    def cancel(self, *_: Any) -> None:
        self._worker.cancel(self._job_id)


def _with_params(request: Any, paths: Mapping[str, str]) -> Any:
    if not paths:
        return request
    from studio.core.generator import Request

    return Request(request.generator, {**request.params, **paths}, request.seed)
