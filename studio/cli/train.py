"""`studio train`: run a trainer headless, with a line of figures per epoch."""

from __future__ import annotations

import argparse
import os
from typing import Any

from studio.cli._common import (
    Interrupt,
    UsageError,
    build_request,
    device_of,
    executor_for,
    generator_of,
    outcome,
    run_job,
)


def add_parser(sub: Any) -> None:
    train = sub.add_parser("train", help="train a model headless")
    train.add_argument("generator", help="trainer id (`studio plugins` lists them)")
    train.add_argument("--seed", help="training seed (default: random)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    train.add_argument("--device", default=os.environ.get("STUDIO_DEVICE", "auto"))
    train.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run a trainer generator (`<name>_train`, or one of kind "train"); the trainer saves the
    model itself."""
    from studio.core.generator import Kind
    from studio.core.jobs import Job
    from studio.core.registry import default_registry

    registry = default_registry()
    name = f"{args.generator}_train" if f"{args.generator}_train" in registry else args.generator
    trainer = generator_of(registry, name)
    if trainer.kind != Kind.TRAIN:
        raise UsageError(f"{trainer.title} is not something to train; try `studio generate`")
    args.count = None
    request = build_request(trainer, args)
    device = device_of(args.device)
    with Interrupt() as args.interrupt:
        job = Job(request, title=trainer.summary(request))
        run_job(job, executor_for(registry, device), args, "batch")
    failed = outcome(job, trainer.title, _stopped(trainer, request, args.generator))
    if failed is not None:
        return failed
    print(job.results[0].note if job.results and job.results[0].note else "Done")
    return 0


def _stopped(trainer: Any, request: Any, name: str) -> str:
    """What a stopped run left: the command that continues it, or that nothing was saved."""
    from studio.core.models import models_dir

    values = trainer.resume_values(request, models_dir())
    if not values:
        return "training cancelled; nothing was saved"
    sets = " ".join(f"--set {key}={value}" for key, value in values.items())
    return f"training stopped; the last checkpoint is kept. Continue: studio train {name} {sets}"
