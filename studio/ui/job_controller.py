"""Submit → run → commit → announce, for every job the window starts (Qt side, no widgets).

A job's target project and lineage are fixed when it is submitted: it is stored in that
project's queue at once and commits into that project whatever is open when it finishes.
Switching projects lets the running job finish into its own project (which closes after it)
and leaves the old project's waiting jobs in its stored queue; opening a project with stored
jobs offers them, paused, to resume. Views read `JobStatus` objects, which only this
controller changes, from the runner's messages, on the main thread.

Jobs go to the window's runner (one at a time, on this computer), or a batch goes to a runner
of its own (`submit_many(..., runner=)`, e.g. a `ClusterRunner`): every runner reports the
same messages, and the controller steers each job through the runner that has it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from studio.core.generator import Request
from studio.core.jobs import Job, JobFinished, JobProgressed, JobStarted, JobState
from studio.core.project import Project, ProjectError
from studio.core.project_queue import QueueEntry

log = logging.getLogger(__name__)
KEEP_FINISHED = 200  # finished jobs remembered (the queue panel shows fewer)
SUBMIT_CHUNK = 8  # jobs queued per turn of the event loop
MAX_DIFFERENCES = 3  # settings named in a title to tell two jobs apart


@dataclass(eq=False)
class JobStatus:
    """What the window knows of one job: read by views, changed only by the controller."""

    id: int
    title: str
    request: Request
    project: Project
    parent: int | None = None
    batch: str | None = None
    state: JobState = JobState.QUEUED
    step: int = 0
    total: int = 0
    error: str = ""
    warning: str = ""
    device: str = ""
    seconds: float = 0.0
    note: str = ""
    stopped: bool = False  # left in its project's stored queue, to resume
    cancelling: bool = False  # asked to stop; the worker has not stopped yet
    item_ids: tuple[int, ...] = ()
    metrics: list[dict] = field(default_factory=list)

    @property
    def generator(self) -> str:
        return self.request.generator

    def describe(self, current: Project | None = None) -> str:
        """One line for the status bar; `current` is the project on screen."""
        if self.cancelling:
            return f"Cancelling {self.title}…"
        if self.state is JobState.DONE:
            where = f" on {self.device}" if self.device else ""
            into = "" if self.project is current else f" into '{self.project.name}'"
            return f"{len(self.item_ids)} image(s){into} in {self.seconds:.2f} s{where}"
        if self.state is JobState.FAILED:
            return f"{self.title} failed"
        if self.stopped:
            return f"{self.title} stays queued in '{self.project.name}'"
        if self.state is JobState.CANCELLED:
            return f"{self.title} cancelled"
        progress = f" {self.step}/{self.total}" if self.total else ""
        return f"Running {self.title}…{progress}" if self.state is JobState.RUNNING else "Queued"


class JobController(QObject):
    """Owns the job path between the panels, the runner and the projects."""

    job_added = Signal(object)  # JobStatus
    job_changed = Signal(object, object)  # JobStatus, preview QImage or None
    job_finished = Signal(object)  # JobStatus
    paused_changed = Signal(bool)
    stored_found = Signal(object, int)  # project, how many stored jobs wait to resume
    message = Signal(str, str)  # text, level (for the banner)

    def __init__(self, runner: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.project: Project | None = None
        self.statuses: dict[int, JobStatus] = {}
        self._lingering: dict[Path, Project] = {}  # closed once their running jobs are done
        self._pending: deque[tuple[Project, QueueEntry, int, Any]] = deque()
        self.runners: list[Any] = []  # the window's runner first, then batches' own
        self._runner_of: dict[int, Any] = {}  # job id -> the runner that has it
        self._attach(runner)

    def _attach(self, runner: Any) -> None:
        if runner in self.runners:
            return
        self.runners.append(runner)
        runner.job_started.connect(self._on_started)
        runner.progress_changed.connect(self._on_progress)
        runner.job_finished.connect(self._on_finished)

    def retire(self, runner: Any) -> None:
        """A batch's own runner is done: stop it (its unfinished jobs stay stored) and let go."""
        if runner is self.runner or runner not in self.runners:
            return
        runner.shutdown()
        self.runners.remove(runner)
        for signal, slot in ((runner.job_started, self._on_started),
                             (runner.progress_changed, self._on_progress),
                             (runner.job_finished, self._on_finished)):  # fmt: skip
            signal.disconnect(slot)

    # -- submitting

    def submit(
        self,
        request: Request,
        title: str = "",
        *,
        parent: int | None = None,
        keep: int | None = None,
        output: Any = None,
    ) -> JobStatus | None:
        """Store the request in the open project's queue and queue it; None (with a message)
        when there is no project to keep the results in."""
        entry = QueueEntry(request, title or request.generator, parent, keep, output)
        stored = self._store([entry])
        return self._queue(self.project, entry, stored[0]) if stored else None

    def submit_many(self, entries: Sequence[QueueEntry], runner: Any = None) -> list[JobStatus]:
        """Queue several jobs: all stored in one transaction at once; the first few queued now
        and the rest a few per turn of the event loop (hundreds of queue rows appear without
        freezing the window). `runner`: one of the batch's own instead of the window's.
        Returns the statuses of those queued now."""
        ids = self._store(entries)
        if not ids:
            return []
        project = self.project
        if runner is not None:
            self._attach(runner)
        self._pending.extend(
            (project, entry, queue_id, runner) for entry, queue_id in zip(entries, ids, strict=True)
        )
        return self._queue_some()

    def _store(self, entries: Sequence[QueueEntry]) -> list[int]:
        project = self.project
        if project is None or project.read_only:
            name = f"'{project.name}' is open read-only, so" if project else "No project is open:"
            self.message.emit(
                f"{name} results could not be kept. Use File → Save As to work on a copy.",
                "warning",
            )
            return []
        try:
            return project.queue.add(entries)
        except ProjectError as exc:
            self.message.emit(str(exc), "error")
            return []

    def _queue_some(self) -> list[JobStatus]:
        made = []
        for _ in range(SUBMIT_CHUNK):
            if not self._pending:
                break
            project, entry, queue_id, runner = self._pending.popleft()
            made.append(self._queue(project, entry, queue_id, runner))
        if self._pending:
            QTimer.singleShot(0, self._queue_some)
        return made

    def cancel_batch(self, batch: str) -> None:
        """Stop a batch: its jobs not yet queued are dropped (and unstored), the others
        cancelled."""
        dropped = [p for p in self._pending if p[1].batch == batch]
        self._pending = deque(p for p in self._pending if p[1].batch != batch)
        by_project: dict[int, tuple[Project, list[int]]] = {}
        for project, _entry, queue_id, _runner in dropped:
            by_project.setdefault(id(project), (project, []))[1].append(queue_id)
        for project, ids in by_project.values():
            project.queue.remove(ids)
        for status in list(self.statuses.values()):
            if status.batch == batch and not status.state.finished:
                self.cancel(status.id)

    def pending(self, batch: str) -> int:
        """Jobs of `batch` stored but not queued yet."""
        return sum(1 for p in self._pending if p[1].batch == batch)

    def _queue(
        self, project: Project, entry: QueueEntry, queue_id: int | None, runner: Any = None
    ) -> JobStatus:
        job = Job(
            entry.request,
            title=entry.title or entry.request.generator,
            project=project,
            queue_id=queue_id,
            parent=entry.parent,
            keep=entry.keep,
            output=entry.output,
            batch=entry.batch,
            group=entry.group,
        )
        status = JobStatus(job.id, job.title, job.request, project, job.parent, job.batch)
        if job.batch is None:
            self._distinguish(status)
        self.statuses[job.id] = status
        runner = runner or self.runner
        self._runner_of[job.id] = runner
        self.job_added.emit(status)
        runner.submit(job)
        return status

    def _distinguish(self, status: JobStatus) -> None:
        """Two jobs with the same title but other settings get what differs in their titles,
        so their queue rows can be told apart."""
        for other in reversed(list(self.statuses.values())[-KEEP_FINISHED:]):
            if other.title != status.title or other.generator != status.generator:
                continue
            new, old = status.request.params, other.request.params
            keys = [k for k in sorted(set(new) | set(old)) if new.get(k) != old.get(k)]
            keys = [k for k in keys if k != "seed" or "seed" not in status.title]
            if not keys:
                return
            shown = keys[:MAX_DIFFERENCES]
            status.title += " · " + ", ".join(f"{k} {new.get(k)}" for k in shown)
            other.title += " · " + ", ".join(f"{k} {old.get(k)}" for k in shown)
            self.job_changed.emit(other, None)
            return

    # -- steering

    def cancel(self, job_id: int) -> None:
        """Remove a waiting job, or stop the running one (shown as cancelling at once)."""
        status = self.statuses.get(job_id)
        if status is None or status.state.finished:
            return
        if status.state is JobState.RUNNING:
            status.cancelling = True
            self.job_changed.emit(status, None)
        self._runner_of.get(job_id, self.runner).cancel(job_id)

    def cancel_running(self) -> bool:
        running = self.runner.running
        if running is None:
            return False
        self.cancel(running.id)
        return True

    def remove(self, job_ids: Sequence[int]) -> None:
        for job_id in job_ids:
            self.cancel(job_id)

    def move(self, job_id: int, index: int) -> None:
        """Move a waiting job to `index` among the waiting jobs, here and in its stored queue."""
        runner = self._runner_of.get(job_id, self.runner)
        before = 0  # the waiting jobs of the runners listed before this one
        for other in self.runners:
            if other is runner:
                break
            before += len(other.queue)
        if not runner.move(job_id, max(0, index - before)):
            return
        waiting = runner.queue.waiting()
        by_project: dict[int, tuple[Project, list[int]]] = {}
        for job in waiting:
            if job.project is not None and job.queue_id is not None:
                by_project.setdefault(id(job.project), (job.project, []))[1].append(job.queue_id)
        for project, ids in by_project.values():
            try:
                project.queue.reorder(ids)
            except ProjectError:
                log.warning("could not store the new order", exc_info=True)

    def waiting_ids(self) -> list[int]:
        return [job.id for runner in self.runners for job in runner.queue.waiting()]

    @property
    def paused(self) -> bool:
        return self.runner.paused

    def pause(self) -> None:
        for runner in self.runners:
            runner.pause()
        self.paused_changed.emit(True)

    def resume(self) -> None:
        for runner in self.runners:
            runner.resume()
        self.paused_changed.emit(False)

    # -- projects

    def set_project(self, project: Project) -> None:
        """Make `project` the target of new jobs; jobs stored in it are queued, paused, for
        the user to resume."""
        self.project = project
        self._lingering.pop(project.path, None)
        if not project.read_only:
            self._offer_stored(project)

    def release(self, project: Project) -> None:
        """The user left `project`: its waiting jobs stay in its stored queue, and it closes
        once its running job (if any) has committed."""
        left = [j for r in self.runners for j in r.withdraw(lambda job: job.project is project)]
        left += [p for p in self._pending if p[0] is project]
        self._pending = deque(p for p in self._pending if p[0] is not project)
        if left:
            self.message.emit(
                f"{len(left)} waiting job(s) stay in '{project.name}'; open it again to "
                "resume them.",
                "info",
            )
        if self._running_in(project):
            self._lingering[project.path] = project
        else:
            project.close()

    def _running(self) -> list[Job]:
        jobs = []
        for runner in self.runners:
            several = getattr(runner, "running_jobs", None)
            jobs += several() if several is not None else [j for j in [runner.running] if j]
        return jobs

    def _running_in(self, project: Project) -> bool:
        return any(job.project is project for job in self._running())

    def reusable(self, path: Path) -> Project | None:
        """A project still open for a job of its own (the user went back to it)."""
        project = self._lingering.get(Path(path).expanduser().absolute())
        return project if project is not None and not project.closed else None

    def _offer_stored(self, project: Project) -> None:
        try:
            stored = project.queue.entries()
        except ProjectError:
            return
        queued = {
            job.queue_id
            for job in [*(j for r in self.runners for j in r.queue.waiting()), *self._running()]
            if job.project is project
        }
        fresh = [s for s in stored if s.id not in queued]
        if not fresh:
            return
        self.pause()
        for entry in fresh:
            self._queue(project, entry.entry, entry.id)
        self.stored_found.emit(project, len(fresh))

    def shutdown(self) -> None:
        """Stop the runners (unfinished jobs stay stored) and close projects kept for them."""
        for runner in list(self.runners):
            runner.shutdown()
        for project in self._lingering.values():
            project.close()
        self._lingering.clear()

    # -- messages from the runner (main thread)

    def _on_started(self, message: JobStarted) -> None:
        status = self.statuses.get(message.job_id)
        if status is not None:
            status.state = JobState.RUNNING
            self.job_changed.emit(status, None)

    def _on_progress(self, message: JobProgressed) -> None:
        status = self.statuses.get(message.job_id)
        if status is None:
            return
        status.state = JobState.RUNNING
        status.step, status.total = message.step, message.total
        if message.metrics:
            status.metrics.append(message.metrics)
        self.job_changed.emit(status, message.preview)

    def _on_finished(self, message: JobFinished) -> None:
        status = self.statuses.get(message.job_id)
        if status is None:
            return
        status.state, status.item_ids = message.state, message.item_ids
        status.error, status.warning, status.note = message.error, message.warning, message.note
        status.device, status.seconds = message.device, message.seconds
        status.stopped, status.cancelling = message.stopped, False
        self._runner_of.pop(message.job_id, None)
        self.job_finished.emit(status)
        project = status.project
        if self._lingering.get(project.path) is project and not self._running_in(project):
            self._lingering.pop(project.path).close()  # its last job has committed
        self._trim()

    def _trim(self) -> None:
        finished = [i for i, s in self.statuses.items() if s.state.finished]
        for job_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self.statuses[job_id]
