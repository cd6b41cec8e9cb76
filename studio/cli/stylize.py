"""`studio stylize`: restyle files and folders headless, one job per image."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from studio.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    Interrupt,
    UsageError,
    add_cluster_arguments,
    batch_executor,
    generator_of,
    open_project,
    parse_settings,
    run_entries,
)
from studio.core.params import MixParam, ModelParam

_MIX = re.compile(r"[\d\s.:,;]+")


def add_parser(sub: Any) -> None:
    from studio.core.batch_run import DEFAULT_TEMPLATE

    p = sub.add_parser(
        "stylize",
        help="restyle images or folders with a painting or a built-in style",
        description="Each image is its own job: a file that cannot be read is reported and "
        "skipped, and the others complete (exit status 1 if any failed).",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="IMG_OR_DIR")
    p.add_argument(
        "--style",
        help="a painting (any image file), or built-in style(s): 7, or 3:0.5,12:0.5",
    )
    p.add_argument(
        "--model",
        help="a fast-neural-style .pth/.model file or an AdaIN folder instead of the built-in "
        "networks (AdaIN also takes --style PAINTING)",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder (created if needed)")
    p.add_argument("--recursive", "-r", action="store_true", help="also search sub-folders")
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
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set any other parameter of the generator; repeatable")  # fmt: skip
    p.add_argument("--name", default=DEFAULT_TEMPLATE, help="file name template (as export)")
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
    from studio.core.batch_run import Output, collect_images
    from studio.core.export import ExportError, check_writable, template_tokens
    from studio.core.generator import ParamError
    from studio.core.project_queue import QueueEntry
    from studio.core.registry import default_registry

    registry = default_registry()
    generator = restyler(registry, args)
    content = generator.image_param("content").name
    base = style_values(generator, args.style, args.model)
    flags = {"strength": args.strength, "keep_colours": args.keep_colours,
             "max_side": args.max_side, "detail": args.detail}  # fmt: skip
    for name, value in [*flags.items(), *parse_settings(args.set).items()]:
        if value is None:
            continue
        try:
            base[name] = generator.param(name).parse(str(value))
        except KeyError:
            raise UsageError(f"{generator.title} has no {name.replace('_', ' ')}") from None
        except ParamError as exc:
            raise UsageError(str(exc)) from None
    try:
        template_tokens(args.name)
        generator.make_request({**base, content: "check.png"})
        out = check_writable(args.out)
    except (ParamError, ExportError) as exc:
        raise UsageError(str(exc)) from None
    inputs = collect_images(args.inputs, args.recursive, check=True)
    for problem in inputs.problems:
        print(f"studio: skipped {problem}", file=sys.stderr)
    if not inputs.files:
        raise UsageError("no images to stylize")
    executor = batch_executor(registry, args)
    when, batch = time.time(), uuid.uuid4().hex
    entries = [
        QueueEntry(
            request := generator.make_request({**base, content: str(path)}),
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
