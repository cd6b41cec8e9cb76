"""Batches on a local Ray (2 CPUs, started once for the run): the pixels of a local run, models
loaded once per worker, a killed worker's job retried and committed once, nothing committed
after a cancel, and an interrupted batch that resumes with what is missing."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from contextlib import closing

import numpy as np
import pytest
from PIL import Image

from plugins.style_transfer import samples
from studio.cli import EXIT_INTERRUPTED, main
from studio.core.cluster import BatchListener, ClusterExecutor, ClusterSpec
from studio.core.devices import CPU
from studio.core.jobs import CancelReason, Executor, Job, JobQueue, JobState
from studio.core.project import Project
from studio.core.project_queue import QueueEntry
from studio.core.registry import default_registry
from tests import fakes

pytestmark = pytest.mark.slow

FAKES = ClusterSpec(workers=2, device="cpu", registry="tests.fakes:registry")


class Seen(BatchListener):
    def __init__(self) -> None:
        self.finished_jobs: list[Job] = []
        self.progressed_ids: set[int] = set()

    def progressed(self, job):
        self.progressed_ids.add(job.id)

    def finished(self, job):
        self.finished_jobs.append(job)


def stored_jobs(project, requests):
    """The requests stored in the project's queue, as jobs that commit into it."""
    ids = project.queue.add([QueueEntry(r, f"job {n}") for n, r in enumerate(requests)])
    return [Job(r, title=f"job {n}", project=project, queue_id=i)
            for n, (r, i) in enumerate(zip(requests, ids, strict=True))]  # fmt: skip


def queue_of(jobs):
    queue = JobQueue()
    for job in jobs:
        queue.submit(job)
    return queue


def serve_in_background(executor, queue, listener):
    thread = threading.Thread(
        target=executor.serve, args=(queue, listener), kwargs={"until_empty": True}, daemon=True
    )
    thread.start()
    return thread


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_style_batch_pixels_are_a_local_runs(local_ray, models_dir, tmp_path):
    registry = default_registry()
    style = registry.get("style_transfer")
    photos = []
    for n, size in enumerate([(96, 64), (80, 80), (72, 48)]):
        photos.append(tmp_path / f"photo{n}.png")
        samples.photo(*size, seed=n).save(photos[-1])
    painting = tmp_path / "painting.png"
    samples.painting(96).save(painting)
    requests = [style.make_request({"model": "builtin", "styles": "7", "image": str(p)})
                for p in photos[:2]]  # fmt: skip
    requests.append(
        style.make_request(
            {"model": "arbitrary", "style_image": str(painting), "image": str(photos[2])}
        )  # fmt: skip
    )
    here = Executor(registry.get, lambda: CPU, models_dir, threads=1)
    local = [here.execute(Job(r)) for r in requests]
    with closing(Project.open(tmp_path / "p.studio", create=True)) as project:
        jobs = stored_jobs(project, requests)
        cluster = ClusterExecutor(ClusterSpec(workers=2, device="cpu"), registry.get)
        try:
            assert cluster.start(len(jobs)).workers == 2
            cluster.serve(queue_of(jobs), Seen(), until_empty=True)
        finally:
            cluster.close()
        assert [job.state for job in jobs] == [JobState.DONE] * 3, [j.error for j in jobs]
        assert project.count() == 3 and len(project.queue) == 0
        for mine, theirs in zip(local, jobs, strict=True):
            (a,), (b,) = mine.results, theirs.results
            assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
            assert b.params == a.params  # the client's own paths, not the worker's copies
            assert b.device == "CPU" and "cluster worker" in theirs.device
        record = project.record(jobs[2].item_ids[0])
        assert record["params"]["style_image"] == str(painting)


def test_generate_on_the_cluster_writes_what_a_local_run_writes(local_ray, models_dir, tmp_path):
    here, there, project = tmp_path / "here", tmp_path / "there", tmp_path / "p.studio"
    common = ["generate", "gan_faces", "--count", "6", "--seed", "11", "--device", "cpu", "-q"]
    assert main([*common, "--out", str(here)]) == 0
    assert main([*common, "--out", str(there), "--cluster", "local", "--workers", "2",
                 "--project", str(project)]) == 0  # fmt: skip
    names = sorted(p.name for p in here.iterdir())
    assert names == sorted(p.name for p in there.iterdir()) and len(names) == 6
    for name in names:
        with Image.open(here / name) as a, Image.open(there / name) as b:
            assert np.array_equal(np.asarray(a), np.asarray(b)), name
    with closing(Project.open(project)) as opened:
        assert opened.count() == 6 and len(opened.queue) == 0
        assert sorted(row.seed for row in opened.items()) == list(range(11, 17))


def test_models_load_once_per_worker_with_its_own_threads(local_ray, tmp_path):
    gen = fakes.CountsLoads()
    jobs = [Job(gen.make_request({"count": 1, "seed": n})) for n in range(8)]
    cluster = ClusterExecutor(FAKES, fakes.registry().get)
    try:
        cluster.start(len(jobs))
        cluster.serve(queue_of(jobs), Seen(), until_empty=True)
        counts = cluster.workers
    finally:
        cluster.close()
    notes = Counter(job.results[0].note for job in jobs)
    assert sum(notes.values()) == 8 and sum(w.done for w in counts) == 8
    # one note per worker process that ran jobs: each loaded the generator once (a worker
    # that came up late may have had nothing left to do), with the thread count it was given
    assert len(notes) == sum(1 for w in counts if w.done) <= 2
    assert all(note.startswith("loads=1 threads=1 pid=") for note in notes)


def test_local_workers_run_below_the_client_and_remote_ones_as_they_are(local_ray, monkeypatch):
    from studio.core import cluster as cluster_module

    monkeypatch.setattr(cluster_module, "NICENESS", 5)  # the fixture sets 0 for the run
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    one = dataclasses.replace(FAKES, workers=1)
    for spec, lower in (
        (one, 5),
        (dataclasses.replace(one, address=local_ray.get_runtime_context().gcs_address), 0),
    ):
        cluster = ClusterExecutor(spec, fakes.registry().get)
        try:
            cluster.start(1)  # returns once the worker is up
            pids = [w.pid for w in cluster._workers if w.pid]
            assert pids and {os.getpriority(os.PRIO_PROCESS, pid) - mine for pid in pids} == {lower}
        finally:
            cluster.close()


def test_a_killed_workers_job_is_retried_and_committed_once(local_ray, tmp_path):
    slow = fakes.Slow()
    requests = [slow.make_request({"steps": 120, "seed": n}) for n in range(4)]
    seen = Seen()
    with closing(Project.open(tmp_path / "p.studio", create=True)) as project:
        jobs = stored_jobs(project, requests)
        cluster = ClusterExecutor(FAKES, fakes.registry().get)
        try:
            cluster.start(len(jobs))
            thread = serve_in_background(cluster, queue_of(jobs), seen)
            wait_for(lambda: any(w.job is not None and w.job.id in seen.progressed_ids
                                 for w in cluster._workers))  # fmt: skip
            victim = next(w for w in cluster._workers if w.job is not None and w.pid)
            killed_job = victim.job
            os.kill(victim.pid, signal.SIGKILL)  # mid-job
            thread.join(90)
            assert not thread.is_alive()
            counts = {w.index: w for w in cluster.workers}
        finally:
            cluster.close()
        assert [job.state for job in jobs] == [JobState.DONE] * 4, [j.error for j in jobs]
        assert killed_job.state is JobState.DONE and len(killed_job.item_ids) == 1
        seeds = Counter(row.seed for row in project.items())
        assert seeds == Counter(range(4))  # every job once, the killed one too
        assert len(project.queue) == 0
        assert counts[victim.status.index].restarts >= 1


def test_a_cancelled_batch_commits_nothing_after_the_cancel(local_ray, tmp_path):
    slow = fakes.Slow()
    requests = [slow.make_request({"steps": n, "seed": n}) for n in (3, 3, 3000, 3000, 3000, 5)]
    seen = Seen()
    with closing(Project.open(tmp_path / "p.studio", create=True)) as project:
        jobs = stored_jobs(project, requests)
        cluster = ClusterExecutor(FAKES, fakes.registry().get)
        try:
            cluster.start(len(jobs))
            queue = queue_of(jobs)
            thread = serve_in_background(cluster, queue, seen)
            wait_for(lambda: {jobs[2].id, jobs[3].id} <= seen.progressed_ids)
            assert project.count() == 2  # the two short ones
            assert cluster.cancel(jobs[2].id)  # one running job alone
            wait_for(lambda: jobs[2].state.finished, 10)
            assert jobs[2].state is JobState.CANCELLED and jobs[3].state is JobState.RUNNING
            wait_for(lambda: jobs[4].id in seen.progressed_ids)  # its worker took the next one
            cancelled_at = time.monotonic()
            cluster.cancel_all(CancelReason.USER)  # the whole batch
            committed = project.count()
            thread.join(10)
            stopped_in = time.monotonic() - cancelled_at
            time.sleep(0.5)
            assert project.count() == committed == 2  # nothing after the cancel
        finally:
            cluster.close()
        assert not thread.is_alive() and stopped_in < 5  # the 30 s jobs stopped at a step
        for job in jobs[2:5]:
            assert job.state is JobState.CANCELLED and job.results == [] and not job.item_ids
        assert jobs[5].state is JobState.QUEUED and len(queue) == 1  # never sent
        stored = {s.id for s in project.queue.entries()}
        assert stored == {jobs[5].queue_id}  # the cancelled jobs' rows are gone


TICK_PLUGIN = """
import time
from PIL import Image
from studio.core.generator import Generator, IntParam, SeedParam

class Tick(Generator):
    id = "tick"
    title = "Tick"
    params = (IntParam(name="n", maximum=10_000), SeedParam(name="seed"))

    def run(self, request, ctx):
        for step in range(5):
            ctx.check_cancelled()
            time.sleep(0.04)
            ctx.progress(step + 1, 5)
        shade = request.params["n"] % 256
        return [self.result(request, Image.new("RGB", (8, 8), (shade, 0, 0)), request.seed)]

def generators():
    return [Tick()]
"""


def test_an_interrupted_cluster_batch_resumes_with_what_is_missing(
    local_ray, tmp_path, monkeypatch, capsys
):
    home = tmp_path / "home"
    (home / "plugins").mkdir(parents=True)
    (home / "plugins" / "tick.py").write_text(TICK_PLUGIN)  # a user plugin, found by workers
    monkeypatch.setenv("STUDIO_HOME", str(home))
    path = tmp_path / "p.studio"
    with closing(Project.open(path, create=True)) as project:
        tick = default_registry().get("tick")
        project.queue.add([QueueEntry(tick.make_request({"n": n, "seed": n}), f"tick {n}")
                           for n in range(12)])  # fmt: skip

    def committed() -> int:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute("SELECT count(*) FROM items").fetchone()[0]

    def interrupt_after_some() -> None:
        wait_for(lambda: committed() >= 2)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_after_some, daemon=True).start()
    run = ["queue", str(path), "--run", "--cluster", "local", "--workers", "2", "-q"]
    run += ["--device", "cpu"]
    assert main(run) == EXIT_INTERRUPTED
    assert "the rest stays queued" in capsys.readouterr().err
    with closing(Project.open(path)) as project:
        first = project.count()
        assert 2 <= first < 12 and len(project.queue) == 12 - first
    assert main(run) == 0
    with closing(Project.open(path)) as project:
        shades = Counter(project.record(row.id)["params"]["n"] for row in project.items())
        assert shades == Counter(range(12)) and len(project.queue) == 0
