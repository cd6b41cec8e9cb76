"""`studio generate`: run a generator headless; write PNGs, commit to a project, or both."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from studio.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    Interrupt,
    UsageError,
    add_cluster_arguments,
    batch_executor,
    build_request,
    check_no_workers,
    device_of,
    executor_for,
    generator_of,
    open_project,
    outcome,
    run_entries,
    run_job,
)

PARTS_PER_WORKER = 4  # on a cluster a batch is cut into this many parts per worker


def add_parser(sub: Any) -> None:
    gen = sub.add_parser(
        "generate",
        help="generate images headless: write them as PNG (--out), keep them in a project "
        "(--project), or both",
    )
    gen.add_argument("generator", help="generator id (`studio plugins` lists them)")
    gen.add_argument("--count", type=int, help="number of images (the generator's count)")
    gen.add_argument("--seed", help="seed of the first image (default: random)")
    gen.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a generator parameter; repeatable",
    )
    gen.add_argument("--out", type=Path, help="output folder (created if needed)")
    gen.add_argument(
        "--device",
        default=os.environ.get("STUDIO_DEVICE", "auto"),
        help="auto, cpu, cuda or mps (default: $STUDIO_DEVICE, else auto)",
    )
    gen.add_argument(
        "--animation",
        choices=("gif", "webp"),
        help="also write the frames of a strip (e.g. an interpolation) as an animation",
    )
    gen.add_argument("--fps", type=float, default=12.0, help="animation frame rate")
    gen.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    gen.add_argument("--threads", type=int, default=0, help="CPU threads (default: all cores)")
    gen.add_argument(
        "--project", type=Path, help="commit the results to this project (created if needed)"
    )
    add_cluster_arguments(gen)


def run(args: argparse.Namespace) -> int:
    with Interrupt() as args.interrupt:
        code = _generate(args)
    if args.interrupt.requested and code == 0:
        return EXIT_INTERRUPTED
    return code


def _generate(args: argparse.Namespace) -> int:
    from studio.core.export import ExportError, check_writable
    from studio.core.jobs import Job, settle
    from studio.core.project_queue import QueueEntry
    from studio.core.registry import default_registry

    if args.out is None and args.project is None:
        raise UsageError("say where the images go: --out FOLDER, --project FILE, or both")
    registry = default_registry()
    generator = generator_of(registry, args.generator, args)
    request = build_request(generator, args)
    out = None
    if args.out is not None:
        try:
            out = check_writable(args.out)
        except ExportError as exc:
            raise UsageError(str(exc)) from None
    if args.cluster:
        return _on_cluster(generator, request, batch_executor(registry, args), out, args)
    check_no_workers(args)
    device = device_of(args.device)
    project = open_project(args.project, create=True) if args.project else None
    try:
        title = generator.summary(request)
        job = Job(request, title=title, project=project)
        if project is not None:  # stored first: a kill or Ctrl+C leaves it to resume
            (job.queue_id,) = project.queue.add([QueueEntry(request, title)])
        run_job(job, executor_for(registry, device, args.threads), args, "img")
        settle(job)
        failed = outcome(job, generator.title, "cancelled; nothing was written")
        if failed is not None:
            return failed
        if project is not None:
            print(f"Committed {len(job.item_ids)} result(s) to {project.path}")
        return _write(job.request, job.results, out, args) if out is not None else 0
    finally:
        if project is not None:
            project.close()


def _on_cluster(generator: Any, request: Any, cluster: Any, out: Path | None,
                args: argparse.Namespace) -> int:  # fmt: skip
    """The request cut into parts of consecutive seeds, one job each, spread over the
    cluster's workers; each part is committed as it arrives, the files written at the end
    (named as a local run names them)."""
    from studio.core.project_queue import QueueEntry

    parts = generator.split(request, PARTS_PER_WORKER * cluster.planned().workers)
    entries = [QueueEntry(part, generator.summary(part)) for part in parts]
    project = open_project(args.project, create=True) if args.project else None
    finished: dict[str, Any] = {}
    try:
        # Stored first: a kill or Ctrl+C leaves what is missing to resume.
        ids = project.queue.add(entries) if project is not None else [None] * len(entries)
        pairs = list(zip(ids, entries, strict=True))
        keep = lambda job: finished.setdefault(job.request.to_json(), job)  # noqa: E731
        _done, failures = run_entries(project, pairs, cluster, args, keep)
    finally:
        if project is not None:
            project.close()
    results = [r for part in parts for r in _results(finished.get(part.to_json()))]
    if args.interrupt.requested:
        kept = f"; the other parts stay queued in {args.project}" if project is not None else ""
        print(f"studio: interrupted after {len(results)} image(s){kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    for failure in failures:
        print(f"studio: {failure}", file=sys.stderr)
    if project is not None:
        print(f"Committed {len(results)} result(s) to {project.path}")
    code = _write(request, results, out, args) if out is not None and results else 0
    return EXIT_FAILED if failures else code


def _results(job: Any) -> list:
    from studio.core.jobs import JobState

    return job.results if job is not None and job.state is JobState.DONE else []


def _write(request: Any, results: list, out: Path, args: argparse.Namespace) -> int:
    from studio.core.export import ExportError, save_animation, save_result_png, unique_path

    interrupt, generator, written = args.interrupt, request.generator, []
    try:
        for i, result in enumerate(results):
            if interrupt.requested:
                break
            written.append(save_result_png(result, out, f"{generator}-{result.seed}-{i:04d}"))
        if args.animation and not interrupt.requested:
            target = unique_path(out, f"{generator}-{request.seed}", f".{args.animation}")
            written.append(save_animation([r.image for r in results], target, args.fps))
    except ExportError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if interrupt.requested:
        print(f"studio: interrupted after writing {len(written)} file(s)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"Wrote {len(written)} file(s) to {out}")
    return 0
