"""The "Train VAE digits" generator: retrains a digits VAE on the worker thread, live."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from studio.core.generator import (
    ChoiceParam,
    Context,
    FloatParam,
    Generator,
    IntParam,
    Kind,
    Plot,
    Request,
    Result,
    SeedParam,
    TextParam,
)

from . import data, store

PREVIEW_SEED = 0  # the same latents every epoch, so the sample grid visibly sharpens
PROGRESS_EVERY_S = 0.2  # batch progress is throttled: the window needs no more


class VaeTrainer(Generator):
    """Trains a new VAE digits model version and saves it where VAE digits finds it."""

    id = "vae_digits_train"
    title = "Train VAE digits"
    version = "1.0"
    method = "Adam"
    kind = Kind.TRAIN  # listed in the Train panel, not the generator picker
    description = (
        "Trains a VAE on 4,500 MNIST digits, plotting the loss terms and redrawing the map every "
        "epoch; the result becomes a model of 'VAE digits'."
    )
    params = (
        ChoiceParam(
            name="latent",
            choices=(2, 16),
            labels=("2 (the latent map)", "16 (sharper digits)"),
            help="Latent size: 2 can be drawn as a map; 16 reconstructs and samples better.",
        ),
        IntParam(
            name="epochs", default=30, minimum=1, maximum=500, help="Passes over the 4,500 digits."
        ),
        FloatParam(
            name="learning_rate",
            default=1e-3,
            minimum=1e-4,
            maximum=1e-2,
            step=1e-4,
            decimals=4,
            help="Adam's starting learning rate; it decays to 0 along a cosine.",
        ),
        FloatParam(
            name="beta",
            default=1.0,
            minimum=0.0,
            maximum=4.0,
            step=0.1,
            help="Weight of the KL term: 1 maximises the ELBO; more gives a smoother, blurrier "
            "latent space, less sharper reconstructions.",
        ),
        SeedParam(name="seed", help="Seed of the initial weights and of the batch order."),
        TextParam(
            name="name",
            default="",
            max_length=60,
            help="Name of the new model version (a timestamp if empty).",
        ),
    )

    plots = (
        Plot(
            "−ELBO (nats)",
            "epoch",
            (("train_elbo_neg", "train"), ("heldout_elbo_neg", "held-out")),
            dashed=("heldout_elbo_neg",),
        ),
        Plot(
            "Reconstruction",
            "epoch",
            (("train_recon", "train"), ("heldout_recon", "held-out")),
            dashed=("heldout_recon",),
        ),
        Plot(
            "KL",
            "epoch",
            (("train_kl", "train"), ("heldout_kl", "held-out")),
            dashed=("heldout_kl",),
        ),
    )

    def unavailable_reason(self, models_dir: Any) -> str | None:
        if models_dir is not None and data.data_installed(Path(models_dir)):
            return None
        return "the MNIST digits are not installed; run `studio models install-defaults`"

    def summary(self, request: Request) -> str:
        p = request.params
        return f"{self.title} · z={p['latent']}, {p['epochs']} epochs, seed {p['seed']}"

    def load(self, ctx: Context) -> None:
        import torch  # noqa: F401 - the heavy import happens here, on the worker thread

    def run(self, request: Request, ctx: Context) -> list[Result]:
        from . import train
        from .latent import LatentSpace

        p = request.params
        latent, epochs = int(p["latent"]), int(p["epochs"])
        last = [0.0]

        def on_batch(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                ctx.progress(done, total)

        def on_epoch(entry: dict[str, float], model: Any) -> None:
            done = int(entry["epoch"]) * _batches_per_epoch()
            preview = _picture(LatentSpace(model))
            ctx.progress(done, epochs * _batches_per_epoch(), preview, dict(entry))

        def is_cancelled() -> bool:
            ctx.check_cancelled()  # raises Cancelled, which ends the run within one batch
            return False

        result = train.train(
            latent,
            epochs,
            float(p["learning_rate"]),
            float(p["beta"]),
            int(p["seed"]),
            Path(ctx.models_dir),
            on_epoch=on_epoch,
            is_cancelled=is_cancelled,
            on_batch=on_batch,
        )
        models_dir = Path(ctx.models_dir)
        name = store.version_name(str(p["name"]), latent, models_dir)
        folder = store.trained_root(models_dir) / name
        command = train.command_line(
            latent,
            epochs,
            float(p["learning_rate"]),
            float(p["beta"]),
            int(p["seed"]),
            out=folder,
        )
        result.save(folder, command, name)
        card = store.resolve(name, models_dir).card
        figures = result.final
        note = (
            f"saved as model '{name}' ({folder}); held-out -ELBO {figures['elbo_neg']:.1f} nats "
            f"(recon {figures['recon']:.1f}, KL {figures['kl']:.1f})"
        )
        out = self.result(
            request,
            _picture(LatentSpace(result.model)).convert("RGB"),
            request.seed,
            model_name=name,
            model_hash=card.short_hash,
            note=note,
        )
        out.params["model_folder"] = name
        return [out]


def _picture(space: Any) -> Any:
    """The map for a 2-D model, an 8x8 sample grid otherwise."""
    if space.z_dim == 2:
        return space.manifold(20)
    return space.sample_grid(PREVIEW_SEED, 64, 8)


def _batches_per_epoch() -> int:
    from .train import BATCH

    train_size = data.DIGITS - 10 * data.HELDOUT_PER_CLASS
    return -(-train_size // BATCH)
