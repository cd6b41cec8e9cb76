"""Where a cluster batch runs and how wide: the address, the pool's size, the connection.

`ClusterSpec` is what the user asked for (an address or "local", workers, threads, device);
`plan` turns it into workers and what each asks Ray for, from the cluster's resources;
`connect` reaches Ray (starting one here for "local"), checking first that something answers
at an address, since Ray itself would wait for minutes. Ray is imported only here, when asked.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

INSTALL_HINT = (
    "Running on a cluster needs Ray, an optional extra: in Studio's folder run "
    '.venv/bin/pip install -e ".[cluster]" (Ray 2.60.0).'
)
LOCAL = "local"
DEFAULT_REGISTRY = "studio.core.registry:default_registry"
CPU_THREADS_PER_WORKER = 4  # CPU workers by default: one per 4 cores (memory: a model each)
CONNECT_TIMEOUT_S = 3.0


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
