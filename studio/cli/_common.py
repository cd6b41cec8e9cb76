"""What the headless commands share: errors and exit codes, --set parsing, Ctrl+C, progress
bars, and running jobs (directly, or through a project's stored queue, here or on a Ray
cluster)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad command-line input; printed without a traceback, exit status 2."""


class Unavailable(Exception):
    """The generator exists but cannot run here; exit status 1 with its reason."""


def parse_settings(pairs: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects KEY=VALUE, got '{pair}'")
        values[key.strip()] = value
    return values


def build_request(generator: Any, args: argparse.Namespace) -> Any:
    """The request for `--set` pairs and the --count/--seed flags, validated by the specs."""
    from studio.core.generator import ParamError

    raw: dict[str, Any] = parse_settings(args.set)
    for flag in ("count", "seed"):
        value = getattr(args, flag, None)
        if value is None:
            continue
        if flag not in {p.name for p in generator.params}:
            raise UsageError(f"{generator.title} has no --{flag}")
        raw[flag] = value
    known = [p.name for p in generator.params]
    for name in raw:
        if name not in known:
            listing = ", ".join(known)
            raise UsageError(f"{generator.title} has no parameter '{name}'; it has: {listing}")
    try:
        values = {name: generator.param(name).parse(str(text)) for name, text in raw.items()}
        return generator.make_request(values)
    except ParamError as exc:
        raise UsageError(str(exc)) from None


class Interrupt:
    """Turns Ctrl+C into a cancel: of the running job, or of the writing that follows it.

    With `keep_queued`, a cancelled job stays in its project's stored queue, to resume."""

    def __init__(self) -> None:
        self.requested = False
        self.job: Any = None
        self.cluster: Any = None  # a ClusterExecutor serving a batch: stop it all
        self.keep_queued = False

    def __call__(self, *_: Any) -> None:
        from studio.core.jobs import CancelReason

        self.requested = True
        reason = CancelReason.SHUTDOWN if self.keep_queued else CancelReason.USER
        if self.cluster is not None:
            self.cluster.stop(reason)  # sets a flag only: safe inside a signal handler
        elif self.job is not None:
            self.job.token.cancel(reason)

    def __enter__(self) -> Interrupt:
        self._previous = signal.signal(signal.SIGINT, self)
        return self

    def __exit__(self, *_: Any) -> None:
        signal.signal(signal.SIGINT, self._previous)


def generator_of(registry: Any, name: str, args: argparse.Namespace | None = None) -> Any:
    """The generator `name`, if it can run: its models are here (on a remote cluster, its
    workers' machines are the ones that need them, and their jobs say so)."""
    from studio.core.paths import models_dir

    try:
        generator = registry.get(name)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    if remote_cluster(args):
        return generator
    reason = generator.unavailable_reason(models_dir())
    if reason:
        raise Unavailable(f"{generator.title} is unavailable: {reason}")
    return generator


def device_of(preference: str) -> Any:
    from studio.core import devices

    try:
        return devices.resolve(preference)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def open_project(path: Path, create: bool = False) -> Any:
    from studio.core.project import Project, ProjectError

    try:
        return Project.open(path, create=create)
    except ProjectError as exc:
        raise UsageError(str(exc)) from None


def progress_bar(quiet: bool, title: str, unit: str = "img") -> Any:
    from tqdm import tqdm

    return tqdm(total=0, desc=title, unit=unit, disable=quiet, file=sys.stderr, leave=False)


def executor_for(registry: Any, device: Any, threads: int = 0) -> Any:
    from studio.core.jobs import Executor
    from studio.core.paths import models_dir

    return Executor(registry.get, lambda: device, models_dir(), threads)


def remote_cluster(args: argparse.Namespace | None) -> bool:
    cluster = getattr(args, "cluster", None)
    return bool(cluster) and cluster.strip() != "local"


def add_cluster_arguments(parser: Any) -> None:
    """--cluster and --workers, for a command whose jobs may run on a Ray cluster."""
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the jobs on a Ray cluster: 'local' starts Ray on this computer, anything "
        "else is a Ray address (HOST:6379, ray://HOST:10001); needs the cluster extra",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="cluster workers (default: one per GPU, or one per 4 CPU cores)",
    )


def check_no_workers(args: argparse.Namespace) -> None:
    if getattr(args, "workers", 0):
        raise UsageError("--workers is for a cluster: add --cluster local (or an address)")


def batch_executor(registry: Any, args: argparse.Namespace) -> Any:
    """What runs a command's jobs: an `Executor` here, or with --cluster a `ClusterExecutor`,
    connected (a bad address fails now, before anything is stored)."""
    if not getattr(args, "cluster", None):
        check_no_workers(args)
        return executor_for(registry, device_of(args.device), args.threads)
    from studio.core.cluster import ClusterError, ClusterExecutor, ClusterSpec
    from studio.core.devices import DEVICE_CHOICES

    if args.device not in DEVICE_CHOICES:
        choices = ", ".join(DEVICE_CHOICES)
        raise UsageError(f"Unknown device '{args.device}'; choose one of {choices}")
    if args.workers < 0 or args.threads < 0:
        raise UsageError("--workers and --threads take 0 (automatic) or more")
    spec = ClusterSpec(args.cluster.strip(), args.workers, args.threads, args.device)
    executor = ClusterExecutor(spec, registry.get)
    if not args.quiet:
        print(f"studio: connecting to {spec.where()}…", file=sys.stderr)
    try:
        executor.connect()
    except ClusterError as exc:
        raise Unavailable(str(exc)) from None
    return executor


def run_job(job: Any, executor: Any, args: Any, unit: str) -> Any:
    """Run one job here with a progress bar (and a line per reported set of figures);
    Ctrl+C cancels it at the next step. Returns the finished job."""
    interrupt = args.interrupt
    interrupt.job = job
    if interrupt.requested:
        job.token.cancel()
    reported = 0
    with progress_bar(args.quiet, job.title.split(" · ")[0], unit) as bar:

        def on_progress(job: Any, _preview: Any, _metrics: Any) -> None:
            nonlocal reported
            bar.total, bar.n = job.total, job.step
            for figures in job.metrics[reported:]:
                bar.write(_figures(figures))
            reported = len(job.metrics)
            bar.refresh()

        executor.execute(job, on_progress)
    return job


def outcome(job: Any, title: str, cancelled: str) -> int | None:
    """The exit status of a job that did not finish, after saying why; None if it did."""
    from studio.core.jobs import JobState

    if job.state is JobState.CANCELLED:
        print(f"studio: {cancelled}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if job.state is JobState.FAILED:
        print(f"studio: {title} failed: {job.error}", file=sys.stderr)
        return EXIT_FAILED
    return None


def run_entries(project: Any, entries: Sequence[tuple[int | None, Any]], executor: Any,
                args: Any, on_done: Callable[[Any], None] | None = None
                ) -> tuple[int, list]:  # fmt: skip
    """Run jobs with one progress bar: (stored queue id or None, QueueEntry) each, in order
    here, or all at once on a cluster (`executor` from `batch_executor`). Each result is
    committed into `project` (if any, taking its stored row off) and written to its output
    as it arrives; `on_done(job)` then sees each finished job. Ctrl+C stops the running
    job(s) and leaves them and the rest in the project's queue. Returns (how many finished,
    the failures as text)."""
    from studio.core.jobs import Job, JobState, settle

    interrupt, counts = args.interrupt, {"done": 0}
    failures: list[str] = []
    interrupt.keep_queued = project is not None
    jobs = [
        Job(e.request, title=e.title, project=project, queue_id=queue_id, parent=e.parent,
            keep=e.keep, output=e.output, batch=e.batch)
        for queue_id, e in entries
    ]  # fmt: skip
    with progress_bar(args.quiet, "Queue", "job") as bar:
        bar.total = len(jobs)

        def finished(job: Any) -> None:
            if job.state is JobState.FAILED:
                failures.append(f"{job.title}: {job.error}")
                bar.write(f"studio: {job.title} failed: {job.error}")
            elif job.warning:
                failures.append(f"{job.title}: kept, but not written: {job.warning}")
            counts["done"] += job.state is JobState.DONE
            if on_done is not None:
                on_done(job)
            bar.update(1)

        if hasattr(executor, "serve"):
            _serve(jobs, executor, args, bar, finished)
        else:
            for job in jobs:
                if interrupt.requested:
                    break
                interrupt.job = job
                executor.execute(job)
                settle(job)
                finished(job)
    return counts["done"], failures


def _serve(jobs: list, cluster: Any, args: Any, bar: Any, finished: Callable) -> None:
    """Run `jobs` on a cluster, committing each as it arrives; per-worker counts on the bar."""
    from studio.core.cluster import BatchListener, ClusterError
    from studio.core.jobs import CancelReason, JobQueue

    class Report(BatchListener):
        def finished(self, job: Any) -> None:
            finished(job)

        def workers_changed(self, workers: tuple) -> None:
            bar.set_postfix_str(" ".join(f"w{w.index}:{w.done}" for w in workers), refresh=True)

    queue = JobQueue()
    for job in jobs:
        queue.submit(job)
    args.interrupt.cluster = cluster
    if args.interrupt.requested:  # Ctrl+C while connecting
        cluster.stop(CancelReason.SHUTDOWN if args.interrupt.keep_queued else CancelReason.USER)
    try:
        planned = cluster.start(len(jobs))
        if not args.quiet:
            bar.write(f"studio: {planned.describe()} on {cluster.spec.where()}")
        cluster.serve(queue, Report(), until_empty=True)
    except ClusterError as exc:
        raise Unavailable(str(exc)) from None
    finally:
        cluster.close()


def _figures(metrics: dict) -> str:
    return "  ".join(
        f"{key} {value:.2f}" if isinstance(value, float) else f"{key} {value}"
        for key, value in metrics.items()
    )
