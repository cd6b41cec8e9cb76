"""`studio info`: the generation metadata an image carries."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from studio.cli._common import EXIT_FAILED, EXIT_INTERRUPTED


def add_parser(sub: Any) -> None:
    info = sub.add_parser("info", help="print the generation metadata an image carries")
    info.add_argument("image", type=Path)
    info.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    try:
        return _print_info(args)
    except KeyboardInterrupt:  # Ctrl+C during a slow read (network share): no traceback
        print("studio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _print_info(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from studio.core.images import ImageLoadError
    from studio.core.metadata_read import read_metadata
    from studio.core.metadata_restore import describe

    try:
        meta = read_metadata(args.image)
    except (ImageLoadError, OSError, ValueError) as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(dataclasses.asdict(meta), indent=2, sort_keys=True, default=str))
    else:
        print(describe(meta))
    return 0 if meta.file_format else EXIT_FAILED  # not an image at all
