"""`studio upscale`: enlarge files and folders headless, one job per image."""

from __future__ import annotations

import argparse
from typing import Any

from studio.cli._common import Interrupt, UsageError, generator_of, parse_settings
from studio.cli.files_batch import add_file_arguments, run_over_files, set_values


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "upscale",
        help="enlarge images or folders with Real-ESRGAN, your own ESRGAN files or Lanczos",
        description="Each image is its own job: a file that cannot be read is reported and "
        "skipped, and the others complete (exit status 1 if any failed). `studio models list` "
        "names the upscalers installed.",
    )
    add_file_arguments(p, name="{source}-{w}x{h}")
    p.add_argument("--scale", type=float, help="how many times larger (default 4)")
    p.add_argument(
        "--upscaler",
        help="R-ESRGAN 4x+ (default), 'R-ESRGAN 4x+ Anime6B', 'R-ESRGAN AnimeVideo', Lanczos, "
        "Nearest, the name of your own file in the upscalers folder, or its path",
    )
    p.add_argument(
        "--tile",
        type=int,
        help="tile size in input pixels: 128, 192, 256 (default), 384 or 512; 0: one pass",
    )


def enlarger(registry: Any, args: argparse.Namespace | None = None) -> Any:
    """The first generator that upscales (`Generator.offers_upscale`)."""
    for generator in registry.generators():
        if generator.offers_upscale and generator.image_param("content"):
            return generator_of(registry, generator.id, args)
    raise UsageError("no generator here upscales pictures")


def run(args: argparse.Namespace) -> int:
    from studio.core.registry import default_registry

    with Interrupt() as args.interrupt:
        registry = default_registry()
        generator = enlarger(registry, args)
        base: dict[str, Any] = {}
        flags = {"upscaler": args.upscaler, "scale": args.scale, "tile": args.tile}
        set_values(generator, base, [*flags.items(), *parse_settings(args.set).items()])
        content = generator.image_param("content").name
        return run_over_files(args, registry, generator, content, base, "upscale")
