"""Batches on a local Ray: a 100-image style batch against the in-process batch, Ray's
start-up cost, and how fast the client's commit loop goes.

Two rows:

cluster_batch - 100 PNG photos of 512x384, built-in style 7, each committed into a project and
  written to a folder, as `studio stylize --project` does (the entries stored first, then
  `run_entries`): in this process (one Executor, onnxruntime's default threads) against a
  local Ray with 2 workers of 1 CPU thread each (`--cluster local --workers 2`). Rounds
  alternate which path goes first; each round gets fresh projects and folders and the
  cluster path starts its workers again (their start is timed apart from the batch). Ray's
  own start (`ray.init`) is timed once. ratio = in-process seconds / cluster seconds.

cluster_commits - the client's commit loop: `settle(job)` of finished jobs (results committed
  in one transaction with the queue row taken off, then the PNG file written), for style
  results of 512x384 and 64 px faces, in commits per second; and the whole cluster path's
  rate with a fast generator (one 64 px GAN face per job, 2 workers), which is the
  dispatch-and-commit ceiling. ratio = cluster path rate / bare commit rate (64 px).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    Row,
    isolate_studio_home,
    median,
    parser,
    report,
    spread,
)
from bench.style import BATCH_SIZE, BUILTIN_STYLE, write_photos

COUNT = 100
INSTANT = "bench.cluster:instant_registry"  # workers import it from the repository root
WORKERS = 2
TARGET_RATIO = 0.9  # same 2 cores: a cluster's gain is more machines, not these two


def instant_registry() -> Any:
    """A registry with one generator that returns a blank 64 px image at once: what the
    cluster path costs with nothing to compute."""
    from PIL import Image

    from studio.core.generator import Generator, SeedParam
    from studio.core.registry import Registry

    class Blank(Generator):
        id = "blank"
        title = "Blank"
        params = (SeedParam(name="seed"),)

        def run(self, request: Any, ctx: Any) -> list:
            return [self.result(request, Image.new("RGB", (64, 64)), request.seed)]

    made = Registry()
    made.register(Blank())
    return made


def _args(quiet: bool = True) -> argparse.Namespace:
    from studio.cli._common import Interrupt

    return argparse.Namespace(quiet=quiet, interrupt=Interrupt())


def _batch(executor: Any, registry: Any, photos: list[Path], work: Path, name: str) -> dict:
    """One batch as `studio stylize --project` runs it; seconds and the first result's time."""
    from studio.cli._common import run_entries
    from studio.core.batch_run import DEFAULT_TEMPLATE, Output
    from studio.core.project import Project
    from studio.core.project_queue import QueueEntry

    style = registry.get("style_transfer")
    out = work / f"out-{name}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    when = time.time()
    entries = [
        QueueEntry(r := style.make_request({"model": "builtin", "styles": str(BUILTIN_STYLE),
                                             "image": str(p)}), style.summary(r),
                   output=Output(str(out), DEFAULT_TEMPLATE, n, when), batch=name,
                   batch_index=n)
        for n, p in enumerate(photos, start=1)
    ]  # fmt: skip
    project = Project.open(work / f"{name}-{time.monotonic_ns()}.studio", create=True)
    first: list[float] = []
    try:
        ids = project.queue.add(entries)
        started = time.perf_counter()
        done, failures = run_entries(
            project, list(zip(ids, entries, strict=True)), executor, _args(),
            lambda _job: first or first.append(time.perf_counter() - started),
        )  # fmt: skip
        seconds = time.perf_counter() - started
        if done != len(photos) or failures or project.count() != len(photos):
            raise RuntimeError(f"{name}: {done} of {len(photos)} done; {failures[:2]}")
    finally:
        project.close()
    return {"seconds": seconds, "first": first[0] if first else 0.0}


def batch_row(args: argparse.Namespace, registry: Any, work: Path) -> dict:
    from studio.cli._common import executor_for
    from studio.core.cluster import ClusterExecutor, ClusterSpec
    from studio.core.devices import CPU

    photos = write_photos(work / "photos", args.count)
    local = executor_for(registry, CPU, 0)
    spec = ClusterSpec("local", WORKERS, 0, "cpu")
    t = time.perf_counter()
    probe = ClusterExecutor(spec, registry.get)
    probe.connect()  # ray.init: once per process
    ray_start = time.perf_counter() - t
    _batch(local, registry, photos[:3], work, "warm")  # sessions, first-call costs
    took: dict[str, list[float]] = {"in_process": [], "cluster": []}
    pool, first = [], []
    for round_no in range(args.runs):
        order = ("in_process", "cluster") if round_no % 2 == 0 else ("cluster", "in_process")
        for name in order:
            if name == "in_process":
                took[name].append(_batch(local, registry, photos, work, name)["seconds"])
                continue
            cluster = ClusterExecutor(spec, registry.get)
            t = time.perf_counter()
            cluster.start(len(photos))  # workers up and warm (run_entries finds them started)
            pool.append(time.perf_counter() - t)
            measured = _batch(cluster, registry, photos, work, name)
            took[name].append(measured["seconds"])
            first.append(measured["first"])
    probe.close()
    rate = {name: args.count / median(seconds) for name, seconds in took.items()}
    ratio = median(took["in_process"]) / median(took["cluster"])
    notes = (
        f"{args.count} PNG photos {BATCH_SIZE[0]}x{BATCH_SIZE[1]}, built-in style "
        f"{BUILTIN_STYLE}, each committed into a project (stored first) and written as PNG, "
        f"through run_entries as `studio stylize --project` does; in-process: one Executor, "
        f"onnxruntime default threads; cluster: local Ray, {WORKERS} workers x 1 CPU thread, "
        f"device cpu; {args.runs} round(s), order alternating; {os.cpu_count()} cores; "
        f"seconds per batch: in-process {spread(took['in_process'])}, cluster "
        f"{spread(took['cluster'])}; Ray start-up: ray.init {ray_start:.1f} s (once), "
        f"workers up and warm {spread(pool)} s per batch, first result after "
        f"{spread(first)} s of the batch (the model loads in each worker)"
    )
    report(
        Row(
            benchmark="cluster_batch (style, local Ray)",
            result=f"cluster {rate['cluster']:.2f} img/s",
            baseline=f"in-process batch {rate['in_process']:.2f} img/s",
            ratio=ratio,
            target=f">= {TARGET_RATIO:g}x in-process (same 2 cores)",
            met=ratio >= TARGET_RATIO,
            notes=notes,
        ),
        args,
    )
    return {"rate": rate, "ray_start": ray_start, "pool": median(pool)}


def _commit_rate(project: Any, result: Any, out: Path | None, count: int) -> float:
    """Commits per second of `settle` for `count` finished jobs holding a copy of `result`."""
    import copy

    from studio.core.batch_run import Output
    from studio.core.jobs import Job, JobState, settle
    from studio.core.project_queue import QueueEntry

    request = result_request(result)
    ids = project.queue.add([QueueEntry(request, "bench")] * count)
    seconds = []
    for n, queue_id in enumerate(ids, start=1):
        job = Job(request, project=project, queue_id=queue_id)
        job.state, job.results = JobState.DONE, [copy.copy(result)]
        if out is not None:
            job.output = Output(str(out), "{index}", n, time.time())
        t = time.perf_counter()
        settle(job)
        seconds.append(time.perf_counter() - t)
        if job.state is not JobState.DONE or job.warning:
            raise RuntimeError(job.error or job.warning)
    return 1.0 / median(seconds[5:])


def _path_rate(args: argparse.Namespace, generator: Any, spec: Any, lookup: Any) -> float:
    """Jobs per second through a started cluster (after a warm-up batch loads the models),
    each job dispatched, run, sent back and committed into a project."""
    from bench.common import scratch_project
    from studio.core.cluster import ClusterExecutor

    cluster = ClusterExecutor(spec, lookup)
    cluster.start(WORKERS)
    project = scratch_project()
    try:
        cluster.serve(_stored(project, generator, range(4 * WORKERS)), until_empty=True)
        queue = _stored(project, generator, range(100, 100 + args.jobs))
        t = time.perf_counter()
        cluster.serve(queue, until_empty=True)
        rate = args.jobs / (time.perf_counter() - t)
        if project.count() != args.jobs + 4 * WORKERS or len(project.queue):
            raise RuntimeError("the cluster path lost or kept jobs")
    finally:
        cluster.close()
        project.close()
    return rate


def _stored(project: Any, generator: Any, seeds: range) -> Any:
    """A queue of one-image jobs, stored in `project` first as a batch is."""
    from studio.core.jobs import Job, JobQueue
    from studio.core.project_queue import QueueEntry

    one = {"count": 1, "size": 64} if generator.id != "blank" else {}
    requests = [generator.make_request({**one, "seed": n}) for n in seeds]
    ids = project.queue.add([QueueEntry(r, "face") for r in requests])
    queue = JobQueue()
    for request, queue_id in zip(requests, ids, strict=True):
        queue.submit(Job(request, project=project, queue_id=queue_id))
    return queue


def result_request(result: Any) -> Any:
    from studio.core.generator import Request

    return Request(result.generator, result.params, result.seed)


def commits_row(args: argparse.Namespace, registry: Any, work: Path, batch: dict) -> None:
    from bench.common import scratch_project
    from studio.core.cluster import ClusterSpec
    from studio.core.devices import CPU
    from studio.core.jobs import Executor, Job
    from studio.core.models import models_dir

    here = Executor(registry.get, lambda: CPU, models_dir())
    style = registry.get("style_transfer")
    photo = write_photos(work / "one", 1)[0]
    styled = here.execute(Job(style.make_request({"model": "builtin", "image": str(photo)})))
    gan = registry.get("gan_faces")
    face = here.execute(Job(gan.make_request({"count": 1, "seed": 1, "size": 64})))
    rates = {}
    for name, job in (("512x384", styled), ("64 px", face)):
        for write in (False, True):
            out = Path(tempfile.mkdtemp(dir=work)) if write else None
            project = scratch_project()
            try:
                rates[(name, write)] = _commit_rate(project, job.results[0], out, args.commits)
            finally:
                project.close()
    # the whole cluster path, with a fast generator and with one that does nothing
    loop_rate = _path_rate(args, gan, ClusterSpec("local", WORKERS, 0, "cpu"), registry.get)
    blank = instant_registry().get("blank")
    spec = ClusterSpec("local", WORKERS, 0, "cpu", registry=INSTANT)
    instant_rate = _path_rate(args, blank, spec, instant_registry().get)
    ratio = instant_rate / rates[("64 px", False)]
    style_rate = batch["rate"]["cluster"] / WORKERS
    limit = rates[("512x384", True)]
    notes = (
        f"settle(job) = add_results in one transaction (queue row off) [+ the PNG file "
        f"written]; median of {args.commits - 5} after 5 warm-up, one at a time; commits/s: "
        f"512x384 style result {rates[('512x384', False)]:.0f} "
        f"(+ file {rates[('512x384', True)]:.0f}), 64 px face {rates[('64 px', False)]:.0f} "
        f"(+ file {rates[('64 px', True)]:.0f}); cluster path with one 64 px face per job, "
        f"{args.jobs} jobs, {WORKERS} local workers, after a warm-up batch (models loaded): "
        f"{loop_rate:.0f} jobs/s (dispatch, run, result back, commit), with a generator that "
        f"does nothing {instant_rate:.0f} jobs/s (the loop's own ceiling); on paper: N workers "
        f"of r img/s each need N*r commits/s, so "
        f"the commit loop limits at N = {limit:.0f}/r for 512 px results written to a folder "
        f"(style on these CPUs: r = {style_rate:.1f} per worker, N = {limit / style_rate:.0f}; "
        f"SD 1.5 512 px at ~2 img/s per GPU: N = {limit / 2:.0f})"
    )
    report(
        Row(
            benchmark="cluster_commits",
            result=f"cluster path {instant_rate:.0f} jobs/s (no compute, {WORKERS} workers)",
            baseline=f"settle alone {rates[('64 px', False)]:.0f} commits/s (64 px)",
            ratio=ratio,
            target="record (where the commit loop limits N workers)",
            met=True,
            notes=notes,
        ),
        args,
    )


def main() -> None:
    options = parser(__doc__, runs=2)
    options.add_argument("--count", type=int, default=COUNT, help="photos in the batch")
    options.add_argument("--commits", type=int, default=60, help="commits timed per kind")
    options.add_argument("--jobs", type=int, default=300, help="jobs through the fast path")
    options.add_argument("--part", choices=("batch", "commits", "all"), default="all")
    args = options.parse_args()
    isolate_studio_home()
    from studio.core.registry import Registry

    registry = Registry().discover(use_entry_points=False)
    work = Path(tempfile.mkdtemp(prefix="studio-bench-cluster-"))
    try:
        batch = batch_row(args, registry, work) if args.part != "commits" else None
        if args.part != "batch":
            if batch is None:  # the commits row quotes the batch's per-worker rate
                batch = {"rate": {"cluster": 2 * 5.0}}
            commits_row(args, registry, work, batch)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
