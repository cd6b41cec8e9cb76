"""`studio stylize`: restyle files and folders headless, one job per image."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from studio.cli._common import Interrupt, UsageError, generator_of, parse_settings
from studio.cli.files_batch import add_file_arguments, run_over_files, set_values
from studio.core.params import MixParam, ModelParam

_MIX = re.compile(r"[\d\s.:,;]+")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "stylize",
        help="restyle images or folders with a painting or a built-in style",
        description="Each image is its own job: a file that cannot be read is reported and "
        "skipped, and the others complete (exit status 1 if any failed).",
    )
    add_file_arguments(p)
    p.add_argument(
        "--style",
        help="a painting (any image file), or built-in style(s): 7, or 3:0.5,12:0.5",
    )
    p.add_argument(
        "--model",
        help="a fast-neural-style .pth/.model file or an AdaIN folder instead of the built-in "
        "networks (AdaIN also takes --style PAINTING)",
    )
    p.add_argument("--strength", type=float, help="0 (the photo) to 1 (the default)")
    p.add_argument(
        "--keep-colours", action="store_const", const=True, help="keep the photo's colours"
    )
    p.add_argument(
        "--max-side",
        type=int,
        choices=(0, 4096, 2048, 1024, 512),
        help="cap the longer side: 4096, 2048, 1024 or 512 (default 0: the photo's own size)",
    )
    p.add_argument("--detail", choices=("fine", "medium", "coarse"), help="default: fine")


def restyler(registry: Any, args: argparse.Namespace | None = None) -> Any:
    """The first generator that restyles a content image with a style image (by the roles of
    its ImageParams), or a usage error saying none is installed."""
    for generator in registry.generators():
        if generator.image_param("content") and generator.image_param("style"):
            return generator_of(registry, generator.id, args)
    raise UsageError("no generator here restyles one image with another")


def style_values(generator: Any, style: str | None, model: str | None) -> dict[str, Any]:
    """The generator's values for --style and --model: a painting goes to its style image,
    style numbers to its blend of built-in styles (a MixParam), a model file or folder to its
    model; the generator completes what they imply (`Generator.complete`)."""
    values: dict[str, Any] = {}
    models = [p for p in generator.params if isinstance(p, ModelParam)]
    mixes = [p for p in generator.params if isinstance(p, MixParam)]
    if model:
        if not models:
            raise UsageError(f"{generator.title} takes no model file")
        values[models[0].name] = str(Path(model).expanduser())
    if style and mixes and _MIX.fullmatch(style) and not Path(style).exists():
        values[mixes[0].name] = style
    elif style:
        path = Path(style).expanduser()
        if not path.is_file():
            count = len(mixes[0].labels) if mixes else 0
            numbers = f" nor a style number 0-{count - 1}" if count else ""
            raise UsageError(f"--style '{style}' is neither an image file{numbers}")
        values[generator.image_param("style").name] = str(path)
    elif not model:
        raise UsageError("--style is required: a painting file, or a built-in style such as 7")
    return generator.complete(values)


def run(args: argparse.Namespace) -> int:
    with Interrupt() as args.interrupt:
        return _stylize(args)


def _stylize(args: argparse.Namespace) -> int:
    from studio.core.registry import default_registry

    registry = default_registry()
    generator = restyler(registry, args)
    base = style_values(generator, args.style, args.model)
    flags = {"strength": args.strength, "keep_colours": args.keep_colours,
             "max_side": args.max_side, "detail": args.detail}  # fmt: skip
    set_values(generator, base, [*flags.items(), *parse_settings(args.set).items()])
    content = generator.image_param("content").name
    return run_over_files(args, registry, generator, content, base, "stylize")
