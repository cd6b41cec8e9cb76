"""The `studio` command: the window by default, and headless commands over the same core.

One module per command, each with `add_parser(sub)` and `run(args)`; what they share is in
`_common`. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from studio.cli import batch, export, generate, grid, info, models, queue, stylize, train, upscale
from studio.cli._common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, Unavailable, UsageError

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main"]

PROJECT_SUFFIX = ".studio"  # as studio.core.project.SUFFIX (not imported: a quick start)
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "generate": generate.run,
    "stylize": stylize.run,
    "grid": grid.run,
    "upscale": upscale.run,
    "batch": batch.run,
    "queue": queue.run,
    "export": export.run,
    "info": info.run,
    "train": train.run,
    "models": models.run,
    "plugins": models.run_plugins,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="Studio, an offline AI creative studio. Without a command, opens the window; "
        "`studio PROJECT.studio` opens it on that project.",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (generate, stylize, upscale, batch, grid, queue, export, info, train, models):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read when huggingface_hub is imported
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 1 and argv[0].endswith(PROJECT_SUFFIX):  # `studio PROJECT.studio`: open it
        from studio.app import run

        return run(project=Path(argv[0]).expanduser().absolute())
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # the window sets up its own logging
        from studio.app import run

        return run()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Unavailable as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return EXIT_FAILED
