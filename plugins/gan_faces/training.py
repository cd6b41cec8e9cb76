"""The GAN training loop (Goodfellow et al. 2014, with the DCGAN recipe of Radford et al.):
D learns to call the folder's images real (1) and G(z) fake (0); G learns to make D call its
images real; repeat. That is min_G max_D V(D, G), with G's non-saturating loss.

A run lives in one folder: `generator.safetensors` (what GAN faces samples from),
`checkpoint.safetensors` (both networks, both optimisers and the random state, so a resumed
run continues exactly where it stopped) and `model.json` (the card). Checkpoints are written
every `checkpoint_every` steps and when the run is cancelled.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F  # noqa: N812

from studio.core.generator import Cancelled, GeneratorError
from studio.core.models import ModelCard, sha256_of

from .augment import diff_augment
from .network import DCGANDiscriminator, DCGANGenerator, init_weights
from .store import CHECKPOINT_FILE, WEIGHTS_FILE

REPORT_EVERY = 5  # steps averaged into one point of the curves
PREVIEW_SEED = 0
PREVIEW_GRID = 6  # a 6 x 6 grid of fixed latents: 384 px
BETAS = (0.5, 0.999)  # the DCGAN paper's Adam
HISTORY_KEPT = 2_000  # curve points kept on the card (thinned beyond that)

ReportFn = Callable[[int, int, dict[str, float] | None, Any], None]


@dataclass
class Settings:
    """Everything that defines a run; kept on its card so a resume continues the same run."""

    folder: str
    steps: int
    fit: str = "crop"
    batch: int = 32
    width: int = 32
    nz: int = 100
    learning_rate: float = 2e-4
    augment: bool = True
    flip: bool = True
    init: str = ""  # the GAN faces model fine-tuned, "" from scratch
    seed: int = 0
    preview_every: int = 25
    checkpoint_every: int = 100


@dataclass
class Progress:
    """Where a run stands: steps done, seconds trained, the reported curve points."""

    step: int = 0
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


class Trainer:
    """Both networks, their optimisers and the random state of one run, stepped on demand."""

    def __init__(self, settings: Settings, device: Any, init_state: dict | None = None) -> None:
        self.settings, self.device = settings, device
        with torch.random.fork_rng(devices=[]):  # seed the initial weights without side effects
            torch.manual_seed(settings.seed)
            self.g = DCGANGenerator(settings.nz, settings.width)
            self.g.apply(init_weights)
            self.d = DCGANDiscriminator(settings.width)
            self.d.apply(init_weights)
        if init_state is not None:
            self.g.load_state_dict(init_state, strict=False)
        self.g.to(device)
        self.d.to(device)
        lr = settings.learning_rate
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=lr, betas=BETAS)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=lr, betas=BETAS)
        self.rng = torch.Generator().manual_seed(settings.seed)
        self.preview_z = torch.randn(
            PREVIEW_GRID**2,
            settings.nz,
            1,
            1,
            generator=torch.Generator().manual_seed(PREVIEW_SEED),
        )

    def step(self, real_u8: Any) -> dict[str, float]:
        """One D update and one G update on a batch of real images (uint8 [N, 64, 64, 3])."""
        s, rng = self.settings, self.rng
        real = torch.from_numpy(real_u8).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        if s.flip:
            flipped = torch.rand(len(real), generator=rng) < 0.5
            real[flipped] = real[flipped].flip(3)
        real = real.to(self.device)
        z = torch.randn(len(real), s.nz, 1, 1, generator=rng).to(self.device)
        view = (lambda x: diff_augment(x, rng)) if s.augment else (lambda x: x)
        self.g.train()
        self.d.train()
        fake = self.g(z)
        real_logits = self.d(view(real))
        fake_logits = self.d(view(fake.detach()))
        d_loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        d_loss = d_loss + F.binary_cross_entropy_with_logits(
            fake_logits, torch.zeros_like(fake_logits)
        )
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        g_logits = self.d(view(fake))
        g_loss = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        return {
            "d_loss": float(d_loss.detach()),
            "g_loss": float(g_loss.detach()),
            "d_real": float(torch.sigmoid(real_logits.detach()).mean()),
            "d_fake": float(torch.sigmoid(fake_logits.detach()).mean()),
        }

    def preview(self) -> Any:
        """The fixed latents' images as one grid picture (the generator in eval mode, as GAN
        faces will sample it)."""
        from PIL import Image

        self.g.eval()
        with torch.inference_mode():
            images = self.g(self.preview_z.to(self.device)).float().cpu()
        pixels = ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        n, (c, h, w) = PREVIEW_GRID, pixels.shape[1:]
        grid = pixels.view(n, n, c, h, w).permute(0, 3, 1, 4, 2).reshape(n * h, n * w, c)
        mode = "RGB" if c == 3 else "L"
        return Image.fromarray(grid.numpy().squeeze(-1) if c == 1 else grid.numpy(), mode)

    # -- checkpoints

    def state(self) -> dict[str, torch.Tensor]:
        tensors = {f"g.{k}": v for k, v in self.g.state_dict().items()}
        tensors |= {f"d.{k}": v for k, v in self.d.state_dict().items()}
        for prefix, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            for index, slots in opt.state_dict()["state"].items():
                for name, value in slots.items():
                    tensors[f"{prefix}.{index}.{name}"] = torch.as_tensor(value)
        tensors["rng"] = self.rng.get_state()
        return {k: v.detach().cpu().contiguous() for k, v in tensors.items()}

    def restore(self, tensors: dict[str, torch.Tensor]) -> None:
        self.g.load_state_dict(_strip(tensors, "g."))
        self.d.load_state_dict(_strip(tensors, "d."))
        for prefix, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            saved = opt.state_dict()
            state: dict[int, dict[str, Any]] = {}
            for key, value in _strip(tensors, f"{prefix}.").items():
                index, name = key.split(".", 1)
                state.setdefault(int(index), {})[name] = value.to(self.device)
            saved["state"] = state
            opt.load_state_dict(saved)
        self.rng.set_state(tensors["rng"])


def _strip(tensors: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def batch_at(step: int, count: int, batch: int, seed: int) -> Any:
    """The indices of the images of step `step` (0-based): each epoch walks its own seeded
    permutation of the data, so any step's batch is known without replaying the ones before
    it (a resumed run sees the very batches an uninterrupted one would). The short batch at
    an epoch's end is dropped so batch norm always sees full batches."""
    per_epoch = max(1, count // batch)
    epoch, index = divmod(step, per_epoch)
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
    return order[index * batch : (index + 1) * batch].numpy()


def run_training(
    trainer: Trainer,
    pixels: Any,
    progress: Progress,
    folder: Path,
    card: Callable[[Progress, str], ModelCard],
    report: ReportFn,
    is_cancelled: Callable[[], bool],
) -> Progress:
    """Train from `progress.step` to the settings' steps; checkpoints go to `folder`.

    `report(step, total, metrics, preview)` gets a curve point every REPORT_EVERY steps
    (with the sample grid every preview_every steps); `is_cancelled()` is asked before every
    step, and a True saves a checkpoint and raises Cancelled."""
    s = trainer.settings
    batch = min(s.batch, len(pixels))
    window: list[dict[str, float]] = []
    started = time.perf_counter()
    base_seconds, last_save = progress.seconds, progress.step
    for point in progress.history:  # a continued run: its curves so far, then where it is
        report(int(point["step"]), s.steps, point, None)
    report(progress.step, s.steps, None, trainer.preview())
    while progress.step < s.steps:
        if is_cancelled():
            progress.seconds = base_seconds + time.perf_counter() - started
            if progress.step > last_save:
                save(trainer, folder, progress, card(progress, "stopped"))
            raise Cancelled()
        step_start = time.perf_counter()
        figures = trainer.step(pixels[batch_at(progress.step, len(pixels), batch, s.seed)])
        figures["seconds_per_step"] = time.perf_counter() - step_start
        window.append(figures)
        progress.step += 1
        progress.seconds = base_seconds + time.perf_counter() - started
        done = progress.step
        if done % REPORT_EVERY == 0 or done == s.steps:
            point = {"step": done} | {k: sum(f[k] for f in window) / len(window) for k in window[0]}
            window.clear()
            if not all(math.isfinite(v) for v in point.values()):
                raise GeneratorError(
                    f"Training diverged at step {done} (a loss became infinite or NaN); the "
                    f"checkpoint at step {last_save} is kept. Try a lower learning rate."
                )
            progress.history.append(point)
            wants_preview = done % s.preview_every < REPORT_EVERY or done == s.steps
            report(done, s.steps, point, trainer.preview() if wants_preview else None)
        if done % s.checkpoint_every == 0 and done < s.steps:
            save(trainer, folder, progress, card(progress, "stopped"))
            last_save = done
    save(trainer, folder, progress, card(progress, "finished"))
    return progress


def save(trainer: Trainer, folder: Path, progress: Progress, card: ModelCard) -> None:
    """Write the checkpoint, then the generator, then the card, each atomically."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    meta = {"step": str(progress.step), "seconds": f"{progress.seconds:.3f}"}
    _atomic(folder / CHECKPOINT_FILE, lambda p: save_file(trainer.state(), str(p), metadata=meta))
    g_state = {k: v.detach().cpu().contiguous() for k, v in trainer.g.state_dict().items()}
    _atomic(folder / WEIGHTS_FILE, lambda p: save_file(g_state, str(p), metadata=meta))
    card.files = {WEIGHTS_FILE: sha256_of(folder / WEIGHTS_FILE)}
    card.extra["history"] = _thinned(progress.history)
    card.save(folder)


def load_checkpoint(folder: Path) -> tuple[dict[str, Any], int, float]:
    """The tensors, step and seconds of a run's checkpoint."""
    from safetensors import safe_open

    path = folder / CHECKPOINT_FILE
    if not path.is_file():
        raise GeneratorError(f"{folder.name} has no checkpoint to continue ({path} is missing)")
    with safe_open(str(path), "pt") as handle:
        meta = handle.metadata() or {}
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    return tensors, int(meta.get("step", 0)), float(meta.get("seconds", 0.0))


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _thinned(history: list[dict[str, float]]) -> list[dict[str, float]]:
    every = max(1, math.ceil(len(history) / HISTORY_KEPT))
    kept = history[::every]
    if history and kept[-1] is not history[-1]:
        kept.append(history[-1])
    return [{k: round(v, 5) for k, v in point.items()} for point in kept]


def settings_json(settings: Settings) -> str:
    return json.dumps(settings.__dict__, sort_keys=True)
