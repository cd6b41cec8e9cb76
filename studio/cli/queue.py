"""`studio queue`: a project's waiting jobs, listed or run (Ctrl+C leaves the rest queued)."""

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
    Unavailable,
    UsageError,
    add_cluster_arguments,
    batch_executor,
    open_project,
    remote_cluster,
    run_entries,
)


def add_parser(sub: Any) -> None:
    queue = sub.add_parser(
        "queue",
        help="list a project's waiting jobs (left by a quit, a crash or Ctrl+C), or run them",
    )
    queue.add_argument("project", type=Path, help="a .studio project file")
    queue.add_argument("--run", action="store_true", help="run the waiting jobs, in order")
    queue.add_argument("--device", default=os.environ.get("STUDIO_DEVICE", "auto"))
    queue.add_argument("--threads", type=int, default=0, help="CPU threads (default: all cores)")
    queue.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_cluster_arguments(queue)


def run(args: argparse.Namespace) -> int:
    project = open_project(args.project)
    try:
        stored = project.queue.entries()
        if not args.run:
            _list(project, stored)
            return 0
        if not stored:
            print(f"Nothing is waiting in {project.path.name}.")
            return 0
        return _run(project, stored, args)
    finally:
        project.close()


def _list(project: Any, stored: list) -> None:
    if not stored:
        print(f"Nothing is waiting in {project.path.name}.")
        return
    print(f"{len(stored)} job(s) waiting in {project.path.name}, in order:")
    for n, entry in enumerate(stored, start=1):
        request = entry.entry.request
        print(f"  {n:>4}. {entry.entry.title or request.generator}  (seed {request.seed})")
    print(f"Run them with: studio queue {project.path} --run")


def _run(project: Any, stored: list, args: argparse.Namespace) -> int:
    from studio.core.paths import models_dir
    from studio.core.registry import default_registry

    registry = default_registry()
    missing = sorted(
        {s.entry.request.generator for s in stored} - {g.id for g in registry.generators()}
    )
    if missing:
        raise UsageError(f"this Studio has no generator {', '.join(missing)}; install its plugin")
    for generator_id in {s.entry.request.generator for s in stored}:
        reason = registry.get(generator_id).unavailable_reason(models_dir())
        if reason and not remote_cluster(args):  # a remote cluster's machines have their own
            raise Unavailable(f"{registry.get(generator_id).title} is unavailable: {reason}")
    with Interrupt() as args.interrupt:
        executor = batch_executor(registry, args)
        done, failures = run_entries(project, [(s.id, s.entry) for s in stored], executor, args)
    left = len(project.queue)
    print(f"Finished {done} job(s) into {project.path.name}; {left} still waiting")
    if args.interrupt.requested:
        print("studio: interrupted; the rest stays queued", file=sys.stderr)
        return EXIT_INTERRUPTED
    for failure in failures:
        print(f"studio: {failure}", file=sys.stderr)
    return EXIT_FAILED if failures else 0
