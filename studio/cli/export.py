"""`studio export`: a project's images with their metadata, as a batch export."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from studio.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    Interrupt,
    UsageError,
    open_project,
    progress_bar,
)


def add_parser(sub: Any) -> None:
    exp = sub.add_parser("export", help="export a project's images with their metadata")
    exp.add_argument("project", type=Path, help="a .studio project file")
    exp.add_argument("--out", required=True, type=Path, help="output folder (created if needed)")
    exp.add_argument("--which", choices=("all", "favourites"), default="all")
    exp.add_argument("--format", choices=("png", "jpeg", "webp"), default="png")
    exp.add_argument("--quality", type=int, default=92, help="JPEG/WebP quality 1-100")
    exp.add_argument("--lossless", action="store_true", help="lossless WebP")
    exp.add_argument("--scale", type=float, default=1.0, help="resize factor (Lanczos)")
    exp.add_argument(
        "--template",
        default="{index}-{generator}-{seed}",
        help="file names, from {index} {seed} {generator} {model} {prompt} {date} {time} {w} {h}",
    )
    exp.add_argument("--manifest", action="store_true", help="also write manifest.csv/.json")
    exp.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from studio.core.batch_export import ExportItem, ExportOptions, export_items
    from studio.core.export import ExportError, check_writable

    options = ExportOptions(
        fmt=args.format,
        quality=args.quality,
        lossless=args.lossless,
        scale=args.scale,
        template=args.template,
        manifest=args.manifest,
    )
    try:
        options.validate()
        out = check_writable(args.out)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    project = open_project(args.project)
    try:
        with Interrupt() as interrupt:
            rows = project.items(favourites=args.which == "favourites")
            items = [
                ExportItem(row.id, project.record(row.id), lambda i=row.id: project.image(i))
                for row in sorted(rows, key=lambda r: (r.created, r.id))  # {index}: making order
            ]
            with progress_bar(args.quiet, "Export", unit="file") as bar:

                def progress(done: int, total: int) -> None:
                    bar.total, bar.n = total, done
                    bar.refresh()

                report = export_items(items, out, options, progress, lambda: interrupt.requested)
    finally:
        project.close()
    if report.error:
        print(f"studio: {report.error}", file=sys.stderr)
        return EXIT_FAILED
    if report.cancelled:
        print(f"studio: interrupted after {len(report.written)} file(s)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"Exported {len(report.written)} image(s) to {out}")
    return 0
