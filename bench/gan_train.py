"""Training a GAN on 200 pictures of one simple subject for five minutes, and what it learnt.

The folder: 200 PNGs of a warm disc on a dark, cool background (plugins/gan_faces/samples.py),
in two sub-folders. The run: the "Train GAN faces" trainer with its defaults (width 32,
batch 32, differentiable augmentation, flips) through the Executor - the job path of
`studio train` - cancelled after --seconds (default 300) of wall time; the cancel keeps the
checkpoint at the step it reached, and the statistic is measured on that saved model.

The statistic: the Fréchet distance between 200 samples (seeds 0..199) and the 200 folder
pictures, on their 8x8 RGB thumbnails (192 numbers in 0..1 each; the FID formula without an
Inception network, which cannot be had offline). Before: the same run's generator at step 0
(its seeded initial weights). Baselines in the same run: uniform noise pictures (far) and one
half of the folder against the other (the floor: what sampling alone gives). A second figure,
the root-mean-square distance (0..1) from each sample's 16x16 thumbnail to its nearest folder
picture, says the same in pixels. Target: the distance after is at most a quarter of before.

    .venv/bin/python -m bench.gan_train [--seconds 300] [--figure docs/images/gan_train.png]
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, Row, isolate_studio_home, parser, report

TARGET_RATIO = 0.25
SAMPLES = 200


def thumbnails(pixels: Any, side: int) -> Any:
    """uint8 [N, 64, 64, 3] -> float [N, side*side*3] in 0..1 (box-averaged)."""
    n, h = pixels.shape[0], pixels.shape[1]
    k = h // side
    boxes = pixels.reshape(n, side, k, side, k, 3).mean(axis=(2, 4)) / 255.0
    return boxes.reshape(n, -1)


def frechet(a: Any, b: Any) -> float:
    import numpy as np
    from scipy import linalg

    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    root = root.real if np.iscomplexobj(root) else root
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def nearest_rms(samples: Any, folder: Any, leave_one_out: bool = False) -> float:
    import numpy as np

    d = ((samples[:, None, :] - folder[None, :, :]) ** 2).mean(axis=2)
    if leave_one_out:
        np.fill_diagonal(d, np.inf)
    return float(np.sqrt(d.min(axis=1)).mean())


def samples_of(net: Any, nz: int) -> Any:
    import torch

    from plugins.gan_faces.latents import seed_latents

    z = seed_latents(0, SAMPLES, nz)
    with torch.inference_mode():
        images = net.eval()(z[:, :, None, None])
    return ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def train(folder: Path, models_dir: Path, seconds: float) -> tuple[Any, float, Any]:
    """Run the trainer with its defaults until cancelled after `seconds`; (job, wall, req)."""
    from studio.core.devices import CPU
    from studio.core.jobs import Executor, Job
    from studio.core.registry import Registry

    registry = Registry().discover(use_entry_points=False)
    trainer = registry.get("gan_faces_train")
    request = trainer.make_request(
        {"folder": str(folder), "name": "discs", "steps": 1_000_000, "seed": 1}
    )
    job = Job(request, title="bench")
    executor = Executor(registry.get, lambda: CPU, models_dir)
    timer = threading.Timer(seconds, job.token.cancel)
    started = time.perf_counter()
    timer.start()
    executor.execute(job)
    timer.cancel()
    return job, time.perf_counter() - started, request


def figure(path: Path, rows: list[tuple[str, Any]]) -> None:
    from PIL import Image, ImageDraw

    width, label = 64 * 10, 150
    sheet = Image.new("RGB", (label + width, 64 * len(rows)), (30, 32, 36))
    draw = ImageDraw.Draw(sheet)
    for r, (title, pixels) in enumerate(rows):
        draw.text((8, 64 * r + 26), title, fill=(220, 220, 220))
        for i in range(10):
            sheet.paste(Image.fromarray(pixels[i]), (label + 64 * i, 64 * r))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)


def main() -> int:
    import numpy as np

    args = parser(__doc__, runs=1)
    args.add_argument("--seconds", type=float, default=300.0)
    args.add_argument("--figure", type=Path, default=None, help="save before/after samples")
    a = args.parse_args()
    isolate_studio_home()
    from plugins.gan_faces import store, training
    from plugins.gan_faces.data import load_folder
    from plugins.gan_faces.samples import disc_folder

    work = Path(tempfile.mkdtemp(prefix="studio-bench-gan-"))
    folder = disc_folder(work / "discs", SAMPLES, seed=0)
    models_dir = work / "models"
    real = load_folder(folder).pixels
    load_before = os.getloadavg()
    job, wall, request = train(folder, models_dir, a.seconds)
    load_after = os.getloadavg()
    model = store.resolve("discs", models_dir)
    card = model.card
    steps = int(card.extra["step"])
    after = samples_of(store.load_network(model), 100)
    settings = training.Settings(**card.extra["settings"])
    before = samples_of(training.Trainer(settings, "cpu").g, settings.nz)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, real.shape, dtype=np.uint8)
    f_real, f_before, f_after = (thumbnails(x, 8) for x in (real, before, after))
    fd_before, fd_after = frechet(f_before, f_real), frechet(f_after, f_real)
    fd_noise = frechet(thumbnails(noise, 8), f_real)
    halves = frechet(f_real[::2], f_real[1::2])
    t_real, t_before, t_after = (thumbnails(x, 16) for x in (real, before, after))
    nn_before, nn_after = nearest_rms(t_before, t_real), nearest_rms(t_after, t_real)
    nn_floor = nearest_rms(t_real, t_real, leave_one_out=True)
    if a.figure:
        figure(a.figure, [("folder", real), ("step 0", before), (f"step {steps}", after)])
    ratio = fd_after / fd_before
    per_step = float(card.extra["seconds"]) / max(1, steps)
    history = card.extra.get("history", [])
    last = history[-1] if history else {}
    notes = (
        f"{SAMPLES} disc PNGs 64 px in 2 sub-folders; trainer defaults (width 32, batch 32, "
        f"DiffAugment, flips), seed 1, CPU, torch threads {_threads()}; job {job.state.value} "
        f"after {wall:.0f} s wall ({a.seconds:.0f} s asked): {steps} steps, "
        f"{per_step:.2f} s/step, checkpoint kept at the cancel; load average (1/5/15 min) "
        f"{_load(load_before)} before, {_load(load_after)} after; Fréchet distance on 8x8 RGB "
        f"thumbnails (0..1): before {fd_before:.3f}, after {fd_after:.3f}, uniform noise "
        f"{fd_noise:.3f}, folder half vs half {halves:.3f} (floor); nearest-folder-picture "
        f"RMS (16x16, 0..1): before {nn_before:.3f}, after {nn_after:.3f}, folder "
        f"leave-one-out {nn_floor:.3f}; at the end D loss {last.get('d_loss', float('nan')):.2f}"
        f", G loss {last.get('g_loss', float('nan')):.2f}, D(x) "
        f"{last.get('d_real', float('nan')):.2f}, D(G(z)) {last.get('d_fake', float('nan')):.2f}"
        + (f"; figure {a.figure}" if a.figure else "")
    )
    row = Row(
        benchmark="gan_train (5 min, 200 discs)",
        result=f"Fréchet distance to the folder after {steps} steps {fd_after:.3f}",
        baseline=f"before training (step 0) {fd_before:.3f}",
        ratio=ratio,
        target=f"after <= {TARGET_RATIO}x before",
        met=ratio <= TARGET_RATIO,
        notes=notes,
    )
    report(row, a)
    del request
    return 0


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    raise SystemExit(main())
