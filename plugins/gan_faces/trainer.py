"""The "Train GAN faces" generator: trains a DCGAN on the user's folder of pictures, live."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from studio.core.generator import (
    BoolParam,
    Cancelled,
    ChoiceParam,
    Context,
    FloatParam,
    FolderParam,
    Generator,
    GeneratorError,
    IntParam,
    Kind,
    ModelParam,
    Plot,
    Request,
    Result,
    SeedParam,
    TextParam,
)
from studio.core.models import ModelCard

from . import store

log = logging.getLogger(__name__)
SKIPPED_LISTED = 50  # skipped files named on the card (the rest are counted)


class GanTrainer(Generator):
    """Trains a GAN faces model from scratch or from an existing one, with checkpoints."""

    id = "gan_faces_train"
    title = "Train GAN faces"
    version = "1.0"
    method = "DCGAN, Adam"
    kind = Kind.TRAIN
    description = (
        "Trains a 64 px DCGAN on a folder of your pictures, from scratch or fine-tuning a GAN "
        "faces model; the result becomes a model of 'GAN faces'."
    )
    params = (
        FolderParam(
            name="folder",
            optional=True,  # not needed to continue a run
            help="The pictures to learn from: every image below this folder (sub-folders "
            "too). Files that cannot be read are listed and skipped. 50 to 500 pictures of one "
            "kind of subject work.",
        ),
        TextParam(
            name="name", default="", max_length=60, help="Name of the new model (else a date)."
        ),
        IntParam(
            name="steps",
            default=1000,
            minimum=1,
            maximum=1_000_000,
            step=100,
            help="Training steps (one update of each network). On two CPU cores a step at "
            "width 32 takes about 0.4 s. When continuing a run, the new total.",
        ),
        ChoiceParam(
            name="fit",
            choices=("crop", "pad"),
            labels=("Centre crop to a square", "Pad to a square"),
            help="How a picture that is not square becomes 64x64: its centre cropped, or all "
            "of it with borders in its own background colour.",
        ),
        ModelParam(
            name="init",
            label="Start from",
            kind="gan_faces",
            optional=True,
            help="None: train from scratch. Or a GAN faces model to fine-tune (e.g. the "
            "DigiFace faces) with a fresh discriminator; it keeps its own width.",
        ),
        ChoiceParam(
            name="width",
            choices=(32, 64),
            labels=("32 (about 3x faster on a CPU)", "64 (as the DigiFace generator)"),
            help="Channels of the networks' last layer (ngf = ndf) when training from scratch.",
        ),
        ChoiceParam(name="batch", choices=(32, 16, 64), help="Images per step."),
        FloatParam(
            name="learning_rate",
            default=2e-4,
            minimum=1e-5,
            maximum=2e-3,
            step=1e-5,
            decimals=5,
            help="Adam's learning rate for both networks (the DCGAN paper's 0.0002).",
        ),
        BoolParam(
            name="augment",
            default=True,
            help="Differentiable augmentation (colour, translation, cutout) of real and fake "
            "images alike: keeps the discriminator from memorising a small folder.",
        ),
        BoolParam(name="flip", default=True, help="Also learn each picture mirrored."),
        IntParam(
            name="preview_every",
            default=25,
            minimum=5,
            maximum=10_000,
            step=5,
            help="Redraw the grid of samples (always the same latents) every N steps.",
        ),
        IntParam(
            name="checkpoint_every",
            default=100,
            minimum=10,
            maximum=100_000,
            step=10,
            help="Save a checkpoint every N steps (and on Cancel): a crash loses at most these.",
        ),
        SeedParam(name="seed", help="Seed of the initial weights, the batches and the noise."),
        ModelParam(
            name="resume",
            label="Continue",
            kind="gan_faces_run",
            optional=True,
            help="A run to continue from its last checkpoint, with its own folder and settings "
            "(the fields above except Steps are then not used).",
        ),
    )
    plots = (
        Plot("Losses", "step", (("d_loss", "D loss"), ("g_loss", "G loss"))),
        Plot(
            "D(x) and D(G(z))",
            "step",
            (("d_real", "D(x): real"), ("d_fake", "D(G(z)): fake")),
        ),
        Plot("Seconds per step", "step", (("seconds_per_step", "s/step"),)),
    )

    def unavailable_reason(self, models_dir: Any) -> str | None:
        return None if models_dir is not None else "no model folder"

    def choices_for(self, spec: Any, models_dir: Any) -> list[tuple[str, str]]:
        if spec.name == "resume":
            return [(m.value, m.label) for m in _runs(models_dir)]
        return [(m.value, m.label) for m in store.models(_path(models_dir))]

    def summary(self, request: Request) -> str:
        p = request.params
        if p["resume"]:
            return f"{self.title} · continue {p['resume']} to {p['steps']} steps"
        return f"{self.title} · {Path(p['folder'] or '?').name}, {p['steps']} steps"

    def resume_values(self, request: Request, models_dir: Any) -> dict[str, Any] | None:
        wanted = request.to_json()
        for model in _runs(models_dir):
            extra = model.card.extra if model.card else {}
            if wanted in extra.get("requests", []) and extra.get("status") != "finished":
                return {"resume": model.value, "steps": int(extra.get("steps", 0))}
        return None

    def load(self, ctx: Context) -> None:
        import torch  # noqa: F401 - the heavy import happens here, on the worker

    def run(self, request: Request, ctx: Context) -> list[Result]:
        from . import training

        models_dir = Path(ctx.models_dir)
        p = request.params
        if p["resume"]:
            name, settings, extra = _continued(p["resume"], int(p["steps"]), models_dir)
        else:
            name = store.version_name(str(p["name"]), models_dir)
            settings, extra = _fresh(p), {}
        folder = store.trained_root(models_dir) / name
        pictures = _pictures(settings, ctx)
        init_state = _init_state(settings, models_dir) if not p["resume"] else None
        trainer = training.Trainer(settings, ctx.device.torch_device, init_state)
        progress = training.Progress()
        if p["resume"]:
            tensors, progress.step, progress.seconds = training.load_checkpoint(folder)
            trainer.restore(tensors)
            progress.history = list(extra.get("history", []))
        requests = [*extra.get("requests", []), request.to_json()]
        started = extra.get("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))

        def card(state: training.Progress, status: str) -> ModelCard:
            return _card(name, settings, pictures, state, status, requests, started)

        first = [True]

        def report(step: int, total: int, metrics: dict | None, preview: Any) -> None:
            if metrics is not None and first[0]:  # what the folder gave, once
                metrics = metrics | {"images": len(pictures), "skipped": len(pictures.skipped)}
                first[0] = False
            ctx.progress(step, total, preview, metrics)

        def is_cancelled() -> bool:
            try:
                ctx.check_cancelled()
            except Cancelled:  # the loop saves a checkpoint, then raises it again
                return True
            return False

        progress = training.run_training(
            trainer, pictures.pixels, progress, folder, card, report, is_cancelled
        )
        model = store.resolve(name, models_dir)
        last = progress.history[-1] if progress.history else {}
        note = (
            f"saved as GAN faces model '{name}' ({folder}): {len(pictures)} images, "
            f"{progress.step} steps in {_duration(progress.seconds)}; D loss "
            f"{last.get('d_loss', float('nan')):.2f}, G loss {last.get('g_loss', float('nan')):.2f}"
        )
        if pictures.skipped:
            note += f"; {len(pictures.skipped)} file(s) skipped (listed on the card)"
        out = self.result(
            request,
            trainer.preview(),
            request.seed,
            model_name=name,
            model_hash=model.short_hash,
            note=note,
        )
        out.params["model_folder"] = name
        return [out]


def _fresh(p: Any) -> Any:
    from .training import Settings

    if not p["folder"]:
        raise GeneratorError("Choose the folder of pictures to train on.")
    return Settings(
        folder=str(Path(p["folder"]).expanduser()),
        steps=int(p["steps"]),
        fit=str(p["fit"]),
        batch=int(p["batch"]),
        width=int(p["width"]),
        learning_rate=float(p["learning_rate"]),
        augment=bool(p["augment"]),
        flip=bool(p["flip"]),
        init=str(p["init"] or ""),
        seed=int(p["seed"]),
        preview_every=int(p["preview_every"]),
        checkpoint_every=int(p["checkpoint_every"]),
    )


def _continued(value: str, steps: int, models_dir: Path) -> tuple[str, Any, dict]:
    from .training import Settings

    model = next((m for m in _runs(models_dir) if m.value == value), None)
    if model is None or model.card is None:
        names = ", ".join(m.value for m in _runs(models_dir)) or "none"
        raise GeneratorError(f"There is no training run {value!r} to continue; runs: {names}")
    extra = dict(model.card.extra)
    done = int(extra.get("step", 0))
    if steps <= done:
        raise GeneratorError(
            f"'{value}' has already trained {done} steps; set Steps above {done} to continue it."
        )
    settings = Settings(**(extra.get("settings") or {}) | {"steps": steps})
    return model.value, settings, extra


def _pictures(settings: Any, ctx: Context) -> Any:
    from .data import load_folder

    pictures = load_folder(
        Path(settings.folder), settings.fit, progress=lambda _i, _n: ctx.check_cancelled()
    )
    for name, reason in pictures.skipped:
        log.warning("training: skipped %s: %s", name, reason)
    return pictures


def _init_state(settings: Any, models_dir: Path) -> dict | None:
    """The generator to fine-tune (its nz and width become the run's), or None."""
    if not settings.init:
        return None
    model = store.resolve(settings.init, models_dir)
    state = store.read_state(model.path)
    nz, ngf, channels = store.architecture(state, model.path.name)
    if channels != 3:
        raise GeneratorError(f"{model.value} makes grey images; fine-tuning needs colour")
    settings.nz, settings.width = nz, ngf
    return state


def _card(name: str, settings: Any, pictures: Any, state: Any, status: str, requests: list,
          started: str) -> ModelCard:  # fmt: skip
    last = state.history[-1] if state.history else {}
    ending = {k: round(last[k], 4) for k in ("d_loss", "g_loss", "d_real", "d_fake") if k in last}
    skipped = [f"{n}: {r}" for n, r in pictures.skipped[:SKIPPED_LISTED]]
    start = f"fine-tuned from GAN faces model '{settings.init}'" if settings.init else "scratch"
    return ModelCard(
        name=name,
        generator="gan_faces",
        files={},
        source=f"trained by Studio on {settings.folder} ({len(pictures)} images), from {start}",
        license="yours: trained on your pictures",
        description=f"DCGAN (PyTorch tutorial layout, nz={settings.nz}, ngf={settings.width}), "
        "64x64 RGB",
        extra={
            "status": status,
            "step": state.step,
            "steps": settings.steps,
            "seconds": round(state.seconds, 1),
            "data_folder": settings.folder,
            "images": len(pictures),
            "skipped": len(pictures.skipped),
            "skipped_files": skipped,
            "losses_at_end": ending,
            "settings": asdict(settings),
            "started": started,
            "requests": requests,
        },
    )


def _runs(models_dir: Any) -> list[store.GanModel]:
    """Trained models that have a checkpoint to continue from."""
    return [
        m
        for m in store.models(_path(models_dir))
        if m.folder is not None and (m.folder / store.CHECKPOINT_FILE).is_file()
    ]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _path(models_dir: Any) -> Path | None:
    return Path(models_dir) if models_dir is not None else None
