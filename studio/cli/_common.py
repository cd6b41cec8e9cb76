"""What the headless commands share: errors and exit codes, --set parsing, Ctrl+C, progress
bars, and running jobs (directly, or through a project's stored queue)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
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
        self.keep_queued = False

    def __call__(self, *_: Any) -> None:
        from studio.core.jobs import CancelReason

        self.requested = True
        if self.job is not None:
            self.job.token.cancel(CancelReason.SHUTDOWN if self.keep_queued else CancelReason.USER)

    def __enter__(self) -> Interrupt:
        self._previous = signal.signal(signal.SIGINT, self)
        return self

    def __exit__(self, *_: Any) -> None:
        signal.signal(signal.SIGINT, self._previous)


def generator_of(registry: Any, name: str) -> Any:
    from studio.core.paths import models_dir

    try:
        generator = registry.get(name)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
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
                args: Any) -> tuple[int, list]:  # fmt: skip
    """Run jobs in order with one progress bar: (stored queue id or None, QueueEntry) each.
    Each result is committed into `project` (if any, taking its stored row off) and written
    to its output as it arrives; Ctrl+C stops the running job and leaves it and the rest in
    the project's queue. Returns (how many finished, the failures as text)."""
    from studio.core.jobs import Job, JobState, settle

    interrupt, done, failures = args.interrupt, 0, []
    interrupt.keep_queued = project is not None
    with progress_bar(args.quiet, "Queue", "job") as bar:
        bar.total = len(entries)
        for queue_id, e in entries:
            if interrupt.requested:
                break
            job = Job(e.request, title=e.title, project=project, queue_id=queue_id,
                      parent=e.parent, keep=e.keep, output=e.output, batch=e.batch)  # fmt: skip
            interrupt.job = job
            executor.execute(job)
            settle(job)
            if job.state is JobState.FAILED:
                failures.append(f"{e.title}: {job.error}")
                bar.write(f"studio: {e.title} failed: {job.error}")
            elif job.warning:
                failures.append(f"{e.title}: kept, but not written: {job.warning}")
            if job.state is JobState.DONE:
                done += 1
            bar.update(1)
    return done, failures


def _figures(metrics: dict) -> str:
    return "  ".join(
        f"{key} {value:.2f}" if isinstance(value, float) else f"{key} {value}"
        for key, value in metrics.items()
    )
