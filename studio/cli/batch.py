"""`studio batch GENERATOR`: any generator that takes an image (image to image, upscale,
style transfer, ...) over files and folders, one job per image."""

from __future__ import annotations

import argparse
from typing import Any

from studio.cli._common import Interrupt, UsageError, generator_of, parse_settings
from studio.cli.files_batch import add_file_arguments, run_over_files, set_values


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "batch",
        help="run a generator that takes an image over files or folders (e.g. image to image)",
        description="The image fills the generator's picture (or, for text to image, its init "
        "image: image to image); --set gives the other settings (e.g. prompt=..., "
        "strength=0.5). Each image is its own job: a file that cannot be read is reported "
        "and skipped, and the others complete (exit status 1 if any failed).",
    )
    p.add_argument("generator", help="generator id (see `studio plugins`)")
    add_file_arguments(p, name="{source}-{generator}")


def run(args: argparse.Namespace) -> int:
    from studio.core.batch_run import varied_image
    from studio.core.registry import default_registry

    with Interrupt() as args.interrupt:
        registry = default_registry()
        generator = generator_of(registry, args.generator, args)
        spec = varied_image(generator)
        if spec is None:
            raise UsageError(f"{generator.title} takes no input image; use `studio generate`")
        base: dict[str, Any] = {}
        set_values(generator, base, list(parse_settings(args.set).items()))
        return run_over_files(args, registry, generator, spec.name, base, "run")
