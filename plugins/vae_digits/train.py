"""Training the digits VAE: Adam on the 4,500 training digits, scored on the 500 held out.

Used by the "Train VAE digits" generator, by `studio train vae_digits`, and on its own to make
the shipped models:

    python -m plugins.vae_digits.train --latent 16 --epochs 80 --out resources/vae_digits/z16

The model kept is the last epoch's. There is no early stopping and the held-out digits are
never trained on or used to pick an epoch; they are scored after every epoch for the plots.
(The recipe's defaults - shifts, warm-up, schedule - were chosen while watching held-out
figures during development, which the shipped cards say.)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.generator import Cancelled

from . import data
from .store import load_model, save_model

__all__ = ["TrainResult", "load_model", "save_model", "train"]

BATCH = 32  # measured: 4,500 digits need many small steps; 32 beat 64 and 128 per second
SHIFT = 1  # random translations of up to 1 px regularise; 2 px hurt (the digits are centred)
WARMUP_FRACTION = 0.1  # the KL weight ramps from 0 to beta over the first tenth of the epochs
EPOCH_EVAL_SAMPLES = 1  # per-epoch held-out score: one fixed draw keeps the curve cheap and smooth

EpochFn = Callable[[dict[str, float], Any], None]


@dataclass
class TrainResult:
    """A finished training run: the model (weights rounded as they are stored) and its record."""

    model: Any
    z_dim: int
    history: list[dict[str, float]]
    best_epoch: int
    final: dict[str, float]  # held-out figures of `model`, EVAL_SAMPLES draws per digit
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def state(self) -> dict[str, Any]:
        return self.model.state_dict()

    def card_fields(self, command: str, name: str = "") -> dict[str, Any]:
        """What the model's card records: data, split, recipe, held-out figures, command."""
        from .model import EVAL_SAMPLES, EVAL_SEED, parameter_count

        best = self.history[self.best_epoch - 1] if self.history else {}
        return {
            "name": name or f"VAE digits z={self.z_dim}",
            "description": f"Convolutional VAE of 28x28 MNIST digits, {self.z_dim}-D latent, "
            f"{parameter_count(self.model):,} parameters",
            "data": f"{data.DATA_NAME}: {data.DIGITS} digits, file SHA-256 {data.DATA_SHA256}",
            "split": f"stratified: per class a numpy default_rng({data.SPLIT_SEED}) permutation, "
            f"its last {data.HELDOUT_PER_CLASS} held out (4,500 train / 500 held out)",
            **self.settings,
            "selection": "last epoch; held-out digits never trained on nor used to pick the "
            "epoch (the recipe's defaults were chosen watching held-out figures)",
            "heldout": {k: round(v, 3) for k, v in self.final.items()},
            "heldout_eval": f"ELBO with {EVAL_SAMPLES} latent draws per digit (torch generator "
            f"seed {EVAL_SEED}), analytic KL; nats per digit",
            "best_epoch": self.best_epoch,
            "best_epoch_heldout_elbo_neg": round(best.get("heldout_elbo_neg", math.nan), 3),
            "seconds": round(self.seconds, 1),
            "command": command,
            "history": [{k: round(v, 3) for k, v in entry.items()} for entry in self.history],
        }

    def save(self, folder: Path, command: str, name: str = "") -> Path:
        return save_model(self.state, self.z_dim, self.card_fields(command, name), folder)


def train(
    z_dim: int,
    epochs: int,
    lr: float = 1e-3,
    beta: float = 1.0,
    seed: int = 0,
    models_dir: Path | None = None,
    on_epoch: EpochFn | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    *,
    batch_size: int = BATCH,
    shift: int = SHIFT,
    warmup: int | None = None,
    digits: int | None = None,
) -> TrainResult:
    """Train a fresh ConvVAE(z_dim) for `epochs` epochs; deterministic for a seed on a machine.

    Adam with a cosine learning-rate decay from `lr` to 0, batches of `batch_size`, random
    shifts of up to `shift` px, objective recon + w * KL where w ramps linearly up to beta over
    the first `warmup` epochs (default: a tenth of them). `on_epoch(entry, model)` gets each
    epoch's history entry; `on_batch(done, total)` counts batches; `is_cancelled()` is asked
    before every batch and a True raises Cancelled (the run is discarded). `digits` trains
    on only the first that many training digits (a quick check; the held-out set is whole).
    """
    import torch

    from .model import ConvVAE, evaluate, loss

    started = time.perf_counter()
    warmup = round(epochs * WARMUP_FRACTION) if warmup is None else warmup
    models_dir = Path(models_dir) if models_dir is not None else _default_models_dir()
    x, y = data.load_digits(models_dir)
    (x_train, _), (x_held, _) = data.split(x, y)
    x_train = x_train[:digits] if digits is not None else x_train
    x_train, x_held = torch.from_numpy(x_train), torch.from_numpy(x_held)
    with torch.random.fork_rng(devices=[]):  # seed the initial weights without side effects
        torch.manual_seed(seed)
        model = ConvVAE(z_dim)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    per_epoch = math.ceil(len(x_train) / batch_size)
    total = per_epoch * epochs
    cancelled = is_cancelled or (lambda: False)
    history: list[dict[str, float]] = []
    done = 0
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        weight = beta * min(1.0, epoch / warmup) if warmup else beta
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        sums = {"recon": 0.0, "kl": 0.0}
        for first in range(0, len(x_train), batch_size):
            if cancelled():
                raise Cancelled()
            for group in optimiser.param_groups:
                group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * done / total))
            batch = shifted(x_train[order[first : first + batch_size]], shift, generator)
            objective, recon, kl = loss(model, batch, weight, generator)
            optimiser.zero_grad(set_to_none=True)
            objective.backward()
            optimiser.step()
            sums["recon"] += float(recon.detach()) * len(batch)
            sums["kl"] += float(kl.detach()) * len(batch)
            done += 1
            if on_batch is not None:
                on_batch(done, total)
        held = evaluate(model, x_held, samples=EPOCH_EVAL_SAMPLES)
        entry = _entry(epoch, sums, len(x_train), held, time.perf_counter() - epoch_start)
        history.append(entry)
        if on_epoch is not None:
            on_epoch(entry, model)
    model = _as_stored(model)
    final = evaluate(model, x_held)
    best = min(history, key=lambda e: e["heldout_elbo_neg"])["epoch"] if history else 0
    settings = {
        "epochs": epochs,
        "learning_rate": lr,
        "beta": beta,
        "seed": seed,
        "batch_size": batch_size,
        "optimiser": "Adam, cosine decay of the learning rate to 0 over all batches",
        "augmentation": f"random shifts of up to {shift} px" if shift else "none",
        "kl_warmup_epochs": warmup,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    seconds = time.perf_counter() - started
    return TrainResult(model, z_dim, history, int(best), final, settings, seconds)


def shifted(batch: Any, shift: int, generator: Any) -> Any:
    """Each digit moved by a random (dx, dy) in [-shift, shift]^2, filling with black."""
    import torch
    from torch.nn import functional as F  # noqa: N812

    if shift <= 0:
        return batch
    side = batch.shape[-1]
    padded = F.pad(batch, (shift, shift, shift, shift))
    offsets = torch.randint(0, 2 * shift + 1, (len(batch), 2), generator=generator)
    out = torch.empty_like(batch)
    for dy in range(2 * shift + 1):  # a group per offset: 9 or 25 slices, not one per digit
        for dx in range(2 * shift + 1):
            chosen = (offsets[:, 0] == dy) & (offsets[:, 1] == dx)
            if chosen.any():
                out[chosen] = padded[chosen, :, dy : dy + side, dx : dx + side]
    return out


def _entry(
    epoch: int, sums: dict[str, float], n: int, held: dict[str, float], seconds: float
) -> dict[str, float]:
    recon, kl = sums["recon"] / n, sums["kl"] / n
    return {
        "epoch": epoch,
        "train_recon": recon,
        "train_kl": kl,
        "train_elbo_neg": recon + kl,
        "heldout_recon": held["recon"],
        "heldout_kl": held["kl"],
        "heldout_elbo_neg": held["elbo_neg"],
        "seconds": seconds,
    }


def _as_stored(model: Any) -> Any:
    """The model with its weights rounded to float16 and back, exactly as save_model keeps them."""
    import torch

    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.copy_(tensor.to(torch.float16).float())
    return model.eval()


def _default_models_dir() -> Path:
    from studio.core.models import models_dir

    return models_dir()


def command_line(z_dim: int, epochs: int, lr: float, beta: float, seed: int, **extra: Any) -> str:
    """The command that retrains a model with these settings (recorded on its card)."""
    words = ["python -m plugins.vae_digits.train", f"--latent {z_dim}", f"--epochs {epochs}"]
    words += [f"--lr {lr:g}", f"--beta {beta:g}", f"--seed {seed}"]
    words += [f"--{key.replace('_', '-')} {value}" for key, value in extra.items()]
    return " ".join(words)


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description="Train the digits VAE and save it with its card.")
    args.add_argument("--latent", type=int, default=16, help="latent size (2 for the map)")
    args.add_argument("--epochs", type=int, default=30)
    args.add_argument("--lr", type=float, default=1e-3)
    args.add_argument("--beta", type=float, default=1.0)
    args.add_argument("--seed", type=int, default=0)
    args.add_argument("--batch-size", type=int, default=BATCH)
    args.add_argument("--shift", type=int, default=SHIFT)
    args.add_argument("--warmup", type=int, default=None, help="default: a tenth of the epochs")
    args.add_argument("--name", default="", help="the name on the card")
    args.add_argument("--out", type=Path, required=True, help="folder to write the model to")
    args.add_argument("--models-dir", type=Path, default=None, help="where the data is installed")
    a = args.parse_args(argv)

    def report(entry: dict[str, float], _model: Any) -> None:
        print(
            f"epoch {int(entry['epoch']):3d}  train -ELBO {entry['train_elbo_neg']:7.2f}  "
            f"held-out -ELBO {entry['heldout_elbo_neg']:7.2f} (recon "
            f"{entry['heldout_recon']:6.2f}, KL {entry['heldout_kl']:5.2f})  "
            f"{entry['seconds']:.1f} s",
            flush=True,
        )

    result = train(
        a.latent,
        a.epochs,
        a.lr,
        a.beta,
        a.seed,
        a.models_dir,
        on_epoch=report,
        batch_size=a.batch_size,
        shift=a.shift,
        warmup=a.warmup,
    )
    warmup = result.settings["kl_warmup_epochs"]
    extra = {"batch_size": a.batch_size, "shift": a.shift, "warmup": warmup, "out": a.out}
    command = command_line(a.latent, a.epochs, a.lr, a.beta, a.seed, **extra)
    folder = result.save(a.out, command, a.name or f"VAE digits z={a.latent}")
    f = result.final
    print(
        f"held-out: recon {f['recon']:.2f}  KL {f['kl']:.2f}  -ELBO {f['elbo_neg']:.2f} nats; "
        f"{result.seconds:.0f} s; saved to {folder}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
