"""`studio models` (list, install the defaults) and `studio plugins`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from studio.cli._common import EXIT_FAILED, EXIT_USAGE


def add_parser(sub: Any) -> None:
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


def _list_user_models(root: Path) -> None:
    """What each available generator found of the user's own models."""
    from studio.core.registry import default_registry

    for generator in default_registry().generators():
        if not generator.unavailable_reason(root):
            for line in generator.describe_models(root):
                print(line)


def run(args: argparse.Namespace) -> int:
    from studio.core.model_cards import installed_models
    from studio.core.paths import models_dir
    from studio.core.registry import default_registry
    from studio.core.sizes import format_size

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


def run_plugins(_args: argparse.Namespace) -> int:
    from studio.core.paths import models_dir
    from studio.core.registry import default_registry

    registry = default_registry()
    for generator in registry.generators():
        reason = generator.unavailable_reason(models_dir())
        state = f"unavailable: {reason}" if reason else "available"
        print(f"{generator.id:16} {generator.title:24} {state}")
    for failed in registry.unavailable:
        print(f"{failed.name:16} {'(plugin)':24} unavailable: {failed.reason}  [{failed.source}]")
    return 0
