"""`studio grid`: a comparison grid (A1111's X/Y/Z plot) of any generator, headless."""

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
    generator_of,
    open_project,
    run_entries,
)

EPILOG = """\
Each axis is PARAM=VALUES: a parameter's name or title, or prompt_sr (Prompt S/R: the first
value is found in the text parameters and replaced by each value in turn). Values are
comma-separated as in A1111, quoted to hold a comma ("a, b",c); numbers take ranges:
1-5, 1-10 (+2), 10-5 (-3), 0.5-1 [3] (three values from 0.5 to 1); a seed of -1 is random.

  studio grid GENERATOR --x seed=1-4 --y truncation=0.5,0.8,1 --out grids/
  studio grid GENERATOR --set "prompt=a cat on a sofa" --x cfg=3,7,12 --y steps=10,20 \\
      --z "prompt_sr=a cat,a dog" --out grids/ --project cats.studio

(`studio plugins` lists the generators.)
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "grid",
        help="a comparison grid: up to three parameters and their values (A1111's X/Y/Z plot)",
        description="Runs one job per cell and writes one labelled grid image (X along the "
        "top, Y down the left, one grid per Z value). With --project every cell and the grid "
        "are kept there too.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("generator", help="generator id (see `studio plugins`)")
    for letter in "xyz":
        p.add_argument(f"--{letter}", metavar="PARAM=VALUES", help=f"the {letter.upper()} axis")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter every cell shares; repeatable")  # fmt: skip
    p.add_argument("--out", required=True, type=Path, help="folder for the grid image")
    p.add_argument("--project", type=Path, help="also keep the cells and the grid here")
    p.add_argument("--device", default=os.environ.get("STUDIO_DEVICE", "auto"))
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: all cores)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_cluster_arguments(p)


def run(args: argparse.Namespace) -> int:
    with Interrupt() as args.interrupt:
        return _grid(args)


def plan_of(generator: Any, args: argparse.Namespace) -> Any:
    """The grid the arguments ask for, every value and cell checked (a UsageError if not)."""
    from studio.core.grid import AXIS_NAMES, GridError, parse_axis, plan_grid
    from studio.core.grid_image import check_shape

    base = build_request(generator, args)
    axes = []
    for letter in AXIS_NAMES:
        text = getattr(args, letter.lower())
        if text is None:
            axes.append(None)
            continue
        name, sep, values = text.partition("=")
        if not sep:
            raise UsageError(f"--{letter.lower()} expects PARAM=VALUES, got '{text}'")
        try:
            axes.append(parse_axis(generator.params, name, values))
        except GridError as exc:
            raise UsageError(f"{letter} axis: {exc}") from None
    try:
        plan = plan_grid(generator, base.params, axes)
        check_shape(plan.shape)
    except GridError as exc:
        raise UsageError(str(exc)) from None
    return plan


def _grid(args: argparse.Namespace) -> int:
    from studio.core.export import ExportError, check_writable
    from studio.core.grid import GridError
    from studio.core.grid_image import GridRun
    from studio.core.registry import default_registry

    registry = default_registry()
    generator = generator_of(registry, args.generator, args)
    plan = plan_of(generator, args)
    try:
        out = check_writable(args.out)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    try:
        grid = GridRun(generator, plan)
    except GridError as exc:
        raise UsageError(str(exc)) from None
    if not args.quiet:
        print(f"studio: grid of {plan.describe()}", file=sys.stderr)
    executor = batch_executor(registry, args)
    project = open_project(args.project, create=True) if args.project else None
    try:
        entries = grid.entries()
        # Stored first: a kill or Ctrl+C leaves the missing cells queued in the project.
        ids = project.queue.add(entries) if project is not None else [None] * len(entries)
        _done, failures = run_entries(project, list(zip(ids, entries, strict=True)), executor,
                                      args, lambda job: _cell_done(grid, job))  # fmt: skip
        if args.interrupt.requested:
            kept = f"; the rest stay queued in {args.project}" if project is not None else ""
            print(f"studio: interrupted after {grid.done} of {grid.total} cell(s){kept}; "
                  "no grid was written", file=sys.stderr)  # fmt: skip
            return EXIT_INTERRUPTED
        return _finish(grid, out, project, failures)
    finally:
        if project is not None:
            project.close()


def _cell_done(grid: Any, job: Any) -> None:
    from studio.core.jobs import JobState

    ok = job.state is JobState.DONE and job.results
    item = job.item_ids[0] if ok and job.item_ids else None
    grid.finished(job.request, job.results[0].image if ok else None, item)
    job.results = []  # the cell is in the grid (and the project): let its pixels go


def _finish(grid: Any, out: Path, project: Any, failures: list[str]) -> int:
    from studio.core.export import ExportError, save_result_png
    from studio.core.grid import GridError

    for failure in failures:
        print(f"studio: {failure}", file=sys.stderr)
    try:
        result = grid.result()
        path = save_result_png(result, out, f"{grid.generator.id}-grid-{result.seed}")
    except (GridError, ExportError) as exc:
        print(f"studio: no grid: {exc}", file=sys.stderr)
        return EXIT_FAILED
    width, height = result.image.size
    print(f"Wrote {path} ({width}×{height}, {grid.done} of {grid.total} cell(s))")
    if project is not None:
        (item,) = project.add_results([result])
        print(f"Committed {grid.done} cell(s) and the grid (item {item}) to {project.path}")
    return EXIT_FAILED if grid.failed else 0
