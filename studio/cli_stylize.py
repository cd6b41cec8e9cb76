"""`studio stylize`: restyle files and folders headless, one job per image."""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from studio.cli import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    UsageError,
    _device,
    _generator,
    _Interrupt,
    _progress_bar,
)

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
    p.add_argument("--strength", type=float, default=1.0, help="0 (the photo) to 1 (default)")
    p.add_argument("--keep-colours", action="store_true", help="keep the photo's colours")
    p.add_argument(
        "--max-side",
        type=int,
        default=0,
        choices=(0, 4096, 2048, 1024, 512),
        help="cap the longer side: 4096, 2048, 1024 or 512 (default 0: the photo's own size)",
    )
    p.add_argument("--detail", choices=("fine", "medium", "coarse"), default="fine")
    p.add_argument("--name", default=DEFAULT_TEMPLATE, help="file name template (as export)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: all cores)")
    p.add_argument("--device", default=os.environ.get("STUDIO_DEVICE", "auto"))
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--project", type=Path, help="also commit the results to this project")


def style_values(style: str | None, model: str | None) -> dict[str, Any]:
    """The generator's values for --style and --model."""
    if model:
        values: dict[str, Any] = {"model": str(Path(model).expanduser())}
        if style:
            values["style_image"] = str(Path(style).expanduser())
        return values
    if not style:
        raise UsageError("--style is required: a painting file, or a built-in style such as 7")
    if _MIX.fullmatch(style) and not Path(style).exists():
        return {"model": "builtin", "styles": style}
    path = Path(style).expanduser()
    if not path.is_file():
        raise UsageError(f"--style '{style}' is neither an image file nor a style number 0-25")
    return {"model": "arbitrary", "style_image": str(path)}


def cmd_stylize(args: argparse.Namespace) -> int:
    with _Interrupt() as args.interrupt:
        return _stylize(args)


def _stylize(args: argparse.Namespace) -> int:
    from studio.core.batch_run import collect_images, write_result
    from studio.core.export import ExportError, check_writable, template_tokens
    from studio.core.generator import ParamError
    from studio.core.jobs import Executor, Job, JobState
    from studio.core.models import models_dir
    from studio.core.registry import default_registry

    registry = default_registry()
    generator = _generator(registry, "style_transfer")
    base = style_values(args.style, args.model)
    base.update(
        strength=args.strength,
        keep_colours=args.keep_colours,
        max_side=args.max_side,
        detail=args.detail,
    )
    try:
        template_tokens(args.name)
        generator.make_request({**base, "image": "check.png"})
        out = check_writable(args.out)
    except (ParamError, ExportError) as exc:
        raise UsageError(str(exc)) from None
    inputs = collect_images(args.inputs, args.recursive)
    for problem in inputs.problems:
        print(f"studio: skipped {problem}", file=sys.stderr)
    if not inputs.files:
        raise UsageError("no images to stylize")
    device = _device(args.device)
    executor = Executor(registry.get, lambda: device, models_dir(), args.threads)
    project = None
    if args.project:
        from studio.cli import _open_project

        project = _open_project(args.project, create=True)
    failures = list(inputs.problems)
    written: list[Path] = []
    when = datetime.now()
    interrupt = args.interrupt
    with _progress_bar(args.quiet, generator.title) as bar:
        bar.total = len(inputs.files)
        for number, path in enumerate(inputs.files, start=1):
            if interrupt.requested:
                break
            request = generator.make_request({**base, "image": str(path)})
            job = interrupt.job = Job(request, title=generator.summary(request))
            executor.execute(job)
            if job.state is JobState.CANCELLED:
                break
            if job.state is JobState.FAILED:
                failures.append(f"'{path}': {job.error}")
                bar.write(f"studio: skipped '{path.name}': {job.error}")
            else:
                try:
                    written.append(write_result(job.results[0], out, args.name, number, when))
                except ExportError as exc:
                    print(f"studio: {exc}", file=sys.stderr)
                    return EXIT_FAILED
                if project is not None:
                    with project:
                        project.add_results(job.results)
            bar.update(1)
    print(f"Wrote {len(written)} file(s) to {out}")
    if interrupt.requested:
        print(f"studio: interrupted after {len(written)} image(s)", file=sys.stderr)
        return EXIT_INTERRUPTED
    if failures:
        print(f"studio: {len(failures)} input(s) failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return EXIT_FAILED
    return 0
