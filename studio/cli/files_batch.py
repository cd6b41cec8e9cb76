"""What the commands that run a generator over image files share (`studio stylize`,
`studio upscale`, `studio batch`): their arguments, one job per file, the summary.

Each image is its own job: a file that cannot be read is reported and skipped, and the
others complete (exit status 1 if any failed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from studio.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    UsageError,
    add_cluster_arguments,
    batch_executor,
    open_project,
    run_entries,
)


def add_file_arguments(p: Any, name: str | None = None) -> None:
    """Inputs, output folder and how the batch runs; the command adds its own settings.
    `name`: the default file name template."""
    from studio.core.batch_run import DEFAULT_TEMPLATE

    name = name or DEFAULT_TEMPLATE
    p.add_argument("inputs", nargs="+", type=Path, metavar="IMG_OR_DIR")
    p.add_argument("--out", required=True, type=Path, help="output folder (created if needed)")
    p.add_argument("--recursive", "-r", action="store_true", help="also search sub-folders")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set any other parameter of the generator; repeatable")  # fmt: skip
    p.add_argument("--name", default=name, help=f"file name template (as export; default {name})")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: all cores)")
    p.add_argument("--device", default=os.environ.get("STUDIO_DEVICE", "auto"))
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument(
        "--project",
        type=Path,
        help="also commit the results to this project; the batch is stored there first, so "
        "an interrupted one resumes with `studio queue PROJECT --run`",
    )
    add_cluster_arguments(p)


def set_values(generator: Any, base: dict[str, Any], pairs: list[tuple[str, Any]]) -> None:
    """Parse (name, text) pairs with the generator's specs into `base`; None is skipped."""
    from studio.core.generator import ParamError

    for name, value in pairs:
        if value is None:
            continue
        try:
            base[name] = generator.param(name).parse(str(value))
        except KeyError:
            raise UsageError(f"{generator.title} has no {name.replace('_', ' ')}") from None
        except ParamError as exc:
            raise UsageError(str(exc)) from None


def run_over_files(args: argparse.Namespace, registry: Any, generator: Any, image: str,
                   base: dict[str, Any], verb: str) -> int:  # fmt: skip
    """One job per image file of `args.inputs`, the file in the generator's param `image`
    and `base` for the rest; results written to `args.out` (and committed to --project)."""
    from studio.core.batch_run import Output, collect_images
    from studio.core.export import ExportError, check_writable, template_tokens
    from studio.core.generator import ParamError
    from studio.core.project_queue import QueueEntry

    try:
        template_tokens(args.name)
        generator.make_request({**base, image: "check.png"})
        out = check_writable(args.out)
    except (ParamError, ExportError) as exc:
        raise UsageError(str(exc)) from None
    inputs = collect_images(args.inputs, args.recursive, check=True)
    for problem in inputs.problems:
        print(f"studio: skipped {problem}", file=sys.stderr)
    if not inputs.files:
        raise UsageError(f"no images to {verb}")
    executor = batch_executor(registry, args)
    when, batch = time.time(), uuid.uuid4().hex
    entries = [
        QueueEntry(
            request := generator.make_request({**base, image: str(path)}),
            generator.summary(request),
            output=Output(str(out), args.name, number, when),
            batch=batch,
            batch_index=number,
        )
        for number, path in enumerate(inputs.files, start=1)
    ]
    project = open_project(args.project, create=True) if args.project else None
    try:
        # Stored in the project first: an interrupted batch resumes with what is missing.
        ids = project.queue.add(entries) if project is not None else [None] * len(entries)
        done, failures = run_entries(project, list(zip(ids, entries, strict=True)), executor, args)
    finally:
        if project is not None:
            project.close()
    print(f"Wrote {done} file(s) to {out}")
    failures = list(inputs.problems) + failures
    if args.interrupt.requested:
        left = f"; the other {len(entries) - done} stay queued" if args.project else ""
        print(f"studio: interrupted after {done} image(s){left}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if failures:
        print(f"studio: {len(failures)} input(s) failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return EXIT_FAILED
    return 0
