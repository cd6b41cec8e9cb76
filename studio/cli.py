"""The `studio` command: the window by default, and headless commands over the same core."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad command-line input; printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="Studio, an offline AI creative studio. Without a command, opens the window.",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gen = sub.add_parser("generate", help="generate images headless and write them as PNG")
    gen.add_argument("generator", help="generator id, e.g. gan_faces (see `studio plugins`)")
    gen.add_argument("--count", type=int, help="number of images (the generator's count)")
    gen.add_argument("--seed", help="seed of the first image (default: random)")
    gen.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a generator parameter; repeatable",
    )
    gen.add_argument("--out", required=True, type=Path, help="output folder (created if needed)")
    gen.add_argument(
        "--device",
        default=os.environ.get("STUDIO_DEVICE", "auto"),
        help="auto, cpu, cuda or mps (default: $STUDIO_DEVICE, else auto)",
    )
    gen.add_argument(
        "--animation",
        choices=("gif", "webp"),
        help="also write the frames of a strip (e.g. an interpolation) as an animation",
    )
    gen.add_argument("--fps", type=float, default=12.0, help="animation frame rate")
    gen.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    gen.add_argument("--threads", type=int, default=0, help="CPU threads (default: all cores)")
    gen.add_argument(
        "--project", type=Path, help="also commit the results to this project (created if needed)"
    )

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

    info = sub.add_parser("info", help="print the generation metadata an image carries")
    info.add_argument("image", type=Path)
    info.add_argument("--json", action="store_true", help="machine-readable output")

    train = sub.add_parser("train", help="train a model headless (e.g. vae_digits)")
    train.add_argument("generator", help="what to train, e.g. vae_digits")
    train.add_argument("--seed", help="training seed (default: random)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    train.add_argument("--device", default=os.environ.get("STUDIO_DEVICE", "auto"))
    train.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    from studio.cli_stylize import add_parser as add_stylize

    add_stylize(sub)

    models = sub.add_parser("models", help="list or install models")
    models_sub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    models_sub.add_parser("list", help="list installed models")
    models_sub.add_parser("install-defaults", help="install the default models (idempotent)")
    add = models_sub.add_parser(
        "add",
        help="add a model file or folder, or an existing install of AUTOMATIC1111, Forge, "
        "ComfyUI, InvokeAI or Fooocus (its checkpoints, LoRAs, embeddings and VAEs)",
    )
    add.add_argument("path", type=Path, help="a model, a model folder or another tool's folder")

    sub.add_parser("plugins", help="list generators, and plugins that failed with their reason")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read when huggingface_hub is imported
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
        if args.command == "generate":
            return cmd_generate(args)
        if args.command == "models":
            return cmd_models(args)
        if args.command == "train":
            return cmd_train(args)
        if args.command == "export":
            return cmd_export(args)
        if args.command == "info":
            return cmd_info(args)
        if args.command == "plugins":
            return cmd_plugins()
        if args.command == "stylize":
            from studio.cli_stylize import cmd_stylize

            return cmd_stylize(args)
    except UsageError as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except _Unavailable as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return EXIT_FAILED
    parser.print_help()
    return EXIT_USAGE


def parse_settings(pairs: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects KEY=VALUE, got '{pair}'")
        values[key.strip()] = value
    return values


def build_request(generator: Any, args: argparse.Namespace) -> Any:
    from studio.core.generator import ParamError

    raw: dict[str, Any] = parse_settings(args.set)
    for flag in ("count", "seed"):
        value = getattr(args, flag)
        if value is None:
            continue
        if flag not in {p.name for p in generator.params}:
            raise UsageError(f"{generator.title} has no --{flag}")
        raw[flag] = value
    known = [p.name for p in generator.params]
    for name in raw:
        if name not in known:
            listing = ", ".join(known)
            raise UsageError(f"{generator.title} has no parameter '{name}'; it has: {listing}")
    try:
        values = {name: generator.param(name).parse(str(text)) for name, text in raw.items()}
        return generator.make_request(values)
    except ParamError as exc:
        raise UsageError(str(exc)) from None


class _Interrupt:
    """Turns Ctrl+C into a cancel: of the running job, or of the writing that follows it."""

    def __init__(self) -> None:
        self.requested = False
        self.job: Any = None

    def __call__(self, *_: Any) -> None:
        self.requested = True
        if self.job is not None:
            self.job.token.cancel()

    def __enter__(self) -> _Interrupt:
        self._previous = signal.signal(signal.SIGINT, self)
        return self

    def __exit__(self, *_: Any) -> None:
        signal.signal(signal.SIGINT, self._previous)


def cmd_generate(args: argparse.Namespace) -> int:
    with _Interrupt() as args.interrupt:
        code = _generate(args)
    if args.interrupt.requested and code == 0:
        return EXIT_INTERRUPTED
    return code


class _Unavailable(Exception):
    """The generator exists but cannot run here; exit status 1 with its reason."""


def _generator(registry: Any, name: str) -> Any:
    from studio.core.models import models_dir

    try:
        generator = registry.get(name)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    reason = generator.unavailable_reason(models_dir())
    if reason:
        raise _Unavailable(f"{generator.title} is unavailable: {reason}")
    return generator


def _device(preference: str) -> Any:
    from studio.core import devices

    try:
        return devices.resolve(preference)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _run(registry: Any, request: Any, title: str, device: Any, args: Any, unit: str) -> Any:
    """Run one job here with a progress bar (and a line per reported set of figures);
    Ctrl+C cancels it at the next step. Returns the finished job."""
    from studio.core.jobs import Executor, Job
    from studio.core.models import models_dir

    interrupt = args.interrupt
    job = interrupt.job = Job(request, title=title)
    if interrupt.requested:
        job.token.cancel()
    reported = 0
    with _progress_bar(args.quiet, title.split(" · ")[0], unit) as bar:

        def on_progress(job: Job, _preview: Any) -> None:
            nonlocal reported
            bar.total, bar.n = job.total, job.step
            for figures in job.metrics[reported:]:
                bar.write(_figures(figures))
            reported = len(job.metrics)
            bar.refresh()

        threads = getattr(args, "threads", 0) or 0
        Executor(registry.get, lambda: device, models_dir(), threads).execute(job, on_progress)
    return job


def _outcome(job: Any, title: str, cancelled: str) -> int | None:
    """The exit status of a job that did not finish, after saying why; None if it did."""
    from studio.core.jobs import JobState

    if job.state is JobState.CANCELLED:
        print(f"studio: {cancelled}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if job.state is JobState.FAILED:
        print(f"studio: {title} failed: {job.error}", file=sys.stderr)
        return EXIT_FAILED
    return None


def _generate(args: argparse.Namespace) -> int:
    from studio.core.export import (
        ExportError,
        check_writable,
        save_animation,
        save_result_png,
        unique_path,
    )
    from studio.core.registry import default_registry

    registry = default_registry()
    generator = _generator(registry, args.generator)
    request = build_request(generator, args)
    device = _device(args.device)
    try:
        out = check_writable(args.out)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    project = _open_project(args.project, create=True) if args.project else None
    job = _run(registry, request, generator.summary(request), device, args, "img")
    failed = _outcome(job, generator.title, "cancelled; nothing was written")
    if failed is not None:
        return failed
    if project is not None:
        with project:
            ids = project.add_results(job.results)
        print(f"Committed {len(ids)} result(s) to {project.path}")
    interrupt = args.interrupt
    written = []
    try:
        for i, result in enumerate(job.results):
            if interrupt.requested:
                break
            written.append(save_result_png(result, out, f"{generator.id}-{result.seed}-{i:04d}"))
        if args.animation and not interrupt.requested:
            target = unique_path(out, f"{generator.id}-{request.seed}", f".{args.animation}")
            written.append(save_animation([r.image for r in job.results], target, args.fps))
    except ExportError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if interrupt.requested:
        print(f"studio: interrupted after writing {len(written)} file(s)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"Wrote {len(written)} file(s) to {out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Run a trainer generator (`<name>_train`, or one of kind "train") with a progress bar
    and a line of figures per epoch; the trainer saves the model itself."""
    from studio.core.registry import default_registry

    registry = default_registry()
    name = f"{args.generator}_train" if f"{args.generator}_train" in registry else args.generator
    trainer = _generator(registry, name)
    if trainer.kind != "train":
        raise UsageError(f"{trainer.title} is not something to train; try `studio generate`")
    args.count = None
    request = build_request(trainer, args)
    device = _device(args.device)
    with _Interrupt() as args.interrupt:
        job = _run(registry, request, trainer.summary(request), device, args, "batch")
    failed = _outcome(job, trainer.title, "training cancelled; nothing was saved")
    if failed is not None:
        return failed
    print(job.results[0].note if job.results and job.results[0].note else "Done")
    return 0


def _open_project(path: Path, create: bool = False) -> Any:
    from studio.core.project import Project, ProjectError

    try:
        return Project.open(path, create=create)
    except ProjectError as exc:
        raise UsageError(str(exc)) from None


def _figures(metrics: dict) -> str:
    return "  ".join(
        f"{key} {value:.2f}" if isinstance(value, float) else f"{key} {value}"
        for key, value in metrics.items()
    )


def cmd_export(args: argparse.Namespace) -> int:
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
    with _open_project(args.project) as project, _Interrupt() as interrupt:
        rows = project.items(favourites=args.which == "favourites")
        items = [
            ExportItem(row.id, project.record(row.id), lambda i=row.id: project.image(i))
            for row in sorted(rows, key=lambda r: (r.created, r.id))  # {index}: order of making
        ]
        with _progress_bar(args.quiet, "Export", unit="file") as bar:

            def progress(done: int, total: int) -> None:
                bar.total, bar.n = total, done
                bar.refresh()

            report = export_items(items, out, options, progress, lambda: interrupt.requested)
    if report.error:
        print(f"studio: {report.error}", file=sys.stderr)
        return EXIT_FAILED
    if report.cancelled:
        print(f"studio: interrupted after {len(report.written)} file(s)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"Exported {len(report.written)} image(s) to {out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from studio.core.images import ImageLoadError
    from studio.core.metadata import describe, read_metadata

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


def _progress_bar(quiet: bool, title: str, unit: str = "img") -> Any:
    from tqdm import tqdm

    return tqdm(total=0, desc=title, unit=unit, disable=quiet, file=sys.stderr, leave=False)


def _list_user_models(root: Path) -> None:
    """Your own text-to-image models and LoRAs (model folders, the Hugging Face cache)."""
    from studio.core.registry import default_registry

    try:
        generator = default_registry().get("text_to_image")
    except KeyError:
        return
    if generator.unavailable_reason(root):
        return
    entries = generator.entries(root)
    loras = [(str(p), label) for p, label in generator.choices_for(generator.param("lora"), root)]
    if not entries and not loras:
        print("No text-to-image models found: add model folders in Edit → Preferences, or set "
              "STUDIO_MODEL_PATHS.")  # fmt: skip
        return
    print("Text-to-image models:")
    for entry in entries:
        print(f"  {entry.label}  [{entry.kind}]\n      {entry.path}")
        if entry.problem:
            print(f"      cannot load: {entry.problem}")
        elif entry.variant:
            print(f"      single file: Studio's {entry.variant} configuration")
    for path, label in loras:
        print(f"  LoRA {label}\n      {path}")


def cmd_models(args: argparse.Namespace) -> int:
    from studio.core.models import format_size, installed_models, models_dir
    from studio.core.registry import default_registry

    root = models_dir()
    if args.models_command == "add":
        return _add_models(args.path)
    if args.models_command == "list":
        rows = list(installed_models(root))
        if not rows:
            print(f"No models installed in {root}. Run `studio models install-defaults`.")
        else:
            print(f"Models in {root}:")
        for model in rows:
            card = model.card
            size = format_size(model.size_bytes)
            print(f"  {card.name}  [{card.generator}]  {size}  sha256:{card.short_hash}")
            print(f"      source: {card.source}\n      licence: {card.license}")
        _list_user_models(root)
        return 0
    failures = 0
    for generator in default_registry().generators():
        for source in generator.default_models():
            if source.installed(root):
                print(f"{source.name}: already installed")
                continue
            try:
                source.install(root, print)
            except Exception as exc:  # noqa: BLE001 - report each model and go on
                failures += 1
                print(f"studio: could not install {source.name}: {exc}", file=sys.stderr)
    return EXIT_FAILED if failures else 0


def _add_models(path: Path) -> int:
    """Add another tool's model folders (each generator says which it reads), or one model."""
    from studio.core import config
    from studio.core.registry import default_registry

    path = path.expanduser()
    if not path.exists():
        print(f"studio: {path} does not exist", file=sys.stderr)
        return EXIT_USAGE
    for generator in default_registry().generators():
        found = generator.find_install(path.resolve())
        if found is None:
            continue
        print(f"Found {found.tool} at {found.root}:")
        for what, folder in found.folders:
            added = config.add_model_path(Path(folder))
            print(f"  {what}: {folder}" + ("" if added else "  (already added)"))
        return 0
    if path.is_file() and path.suffix.lower() not in (".safetensors", ".ckpt", ".pt"):
        print(
            f"studio: {path.name} is not a model file (.safetensors, .ckpt, .pt)", file=sys.stderr
        )
        return EXIT_USAGE
    added = config.add_model_path(path.resolve())
    print(f"Added {path.resolve()}" if added else f"{path.resolve()} was already added")
    return 0


def cmd_plugins() -> int:
    from studio.core.models import models_dir
    from studio.core.registry import default_registry

    registry = default_registry()
    for generator in registry.generators():
        reason = generator.unavailable_reason(models_dir())
        state = f"unavailable: {reason}" if reason else "available"
        print(f"{generator.id:16} {generator.title:24} {state}")
    for failed in registry.unavailable:
        print(f"{failed.name:16} {'(plugin)':24} unavailable: {failed.reason}  [{failed.source}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
