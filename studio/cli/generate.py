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
    build_request,
    device_of,
    executor_for,
    generator_of,
    open_project,
    outcome,
    run_job,
)


def add_parser(sub: Any) -> None:
    gen = sub.add_parser(
        "generate",
        help="generate images headless: write them as PNG (--out), keep them in a project "
        "(--project), or both",
    )
    gen.add_argument("generator", help="generator id, e.g. gan_faces (see `studio plugins`)")
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
    generator = generator_of(registry, args.generator)
    request = build_request(generator, args)
    device = device_of(args.device)
    out = None
    if args.out is not None:
        try:
            out = check_writable(args.out)
        except ExportError as exc:
            raise UsageError(str(exc)) from None
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
        return _write(job, out, args) if out is not None else 0
    finally:
        if project is not None:
            project.close()


def _write(job: Any, out: Path, args: argparse.Namespace) -> int:
    from studio.core.export import ExportError, save_animation, save_result_png, unique_path

    interrupt, generator, written = args.interrupt, job.request.generator, []
    try:
        for i, result in enumerate(job.results):
            if interrupt.requested:
                break
            written.append(save_result_png(result, out, f"{generator}-{result.seed}-{i:04d}"))
        if args.animation and not interrupt.requested:
            target = unique_path(out, f"{generator}-{job.request.seed}", f".{args.animation}")
            written.append(save_animation([r.image for r in job.results], target, args.fps))
    except ExportError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if interrupt.requested:
        print(f"studio: interrupted after writing {len(written)} file(s)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"Wrote {len(written)} file(s) to {out}")
    return 0
