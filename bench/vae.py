"""VAE digits: decoding one latent-map point, the 20x20 manifold, and a training epoch.

Four rows, each against a baseline measured in the same run, interleaved with the subject:
  decode_point - LatentSpace.decode([(x, y)]) -> one 28x28 PIL image, versus a bare
                 `model.decode(z)` forward of the same point under torch.inference_mode;
  manifold     - LatentSpace.manifold(20) -> the 560x560 map, versus one bare decoder forward
                 of the same 400 points;
  epoch z=2 / epoch z=16 - train.train(z, 1): one epoch of the real trainer (shifts, cosine
                 schedule, the held-out score), versus a bare Adam loop over the same batches
                 (no augmentation, no scoring).
Medians of --runs repeats after one untimed warm-up; the shipped z2 model; the CPU.

Targets: a point under 5 ms, the manifold under 100 ms (the map panel redraws on a click);
training has no target, its rows record seconds per epoch.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import Row, isolate_studio_home, median, parser, report, spread

POINT_TARGET_MS = 5.0
MANIFOLD_TARGET_MS = 100.0


def timed_ms(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000.0


def interleaved(subject: Callable[[], Any], baseline: Callable[[], Any], runs: int) -> tuple:
    """(subject ms list, baseline ms list), alternating which goes first."""
    subject(), baseline()  # warm-up: first-call allocations and kernel selection
    gc.collect()
    ours, bare = [], []
    for i in range(runs):
        pair = [(ours, subject), (bare, baseline)]
        for times, call in pair if i % 2 == 0 else reversed(pair):
            times.append(timed_ms(call))
    return ours, bare


def decode_rows(models_dir: Path, runs: int) -> list[Row]:
    import torch

    from plugins.vae_digits.latent import LatentSpace, grid_values

    space = LatentSpace.open(models_dir, "z2")
    point = torch.tensor([[0.3, -0.7]])
    values = grid_values(20)
    grid = torch.tensor([(x, y) for y in reversed(values) for x in values])

    def bare(z: Any) -> Callable[[], Any]:
        def call() -> Any:
            with torch.inference_mode():
                return torch.sigmoid(space.model.decode(z))

        return call

    one, one_bare = interleaved(lambda: space.decode([(0.3, -0.7)]), bare(point), runs * 20)
    full, full_bare = interleaved(lambda: space.manifold(20), bare(grid), runs * 2)
    threads = f"ours on 1 torch thread (LatentSpace), bare on {torch.get_num_threads()}"
    return [
        Row(
            "vae decode_point",
            f"{median(one):.2f} ms",
            f"bare decoder forward {median(one_bare):.2f} ms",
            median(one) / median(one_bare),
            f"< {POINT_TARGET_MS:g} ms",
            median(one) < POINT_TARGET_MS,
            f"z2 model, 1 point -> 28x28 PIL image; {len(one)} calls, {threads}; "
            f"ours {spread(one)} ms, bare {spread(one_bare)} ms",
        ),
        Row(
            "vae manifold",
            f"{median(full):.1f} ms",
            f"bare decoder forward of 400 points {median(full_bare):.1f} ms",
            median(full) / median(full_bare),
            f"< {MANIFOLD_TARGET_MS:g} ms",
            median(full) < MANIFOLD_TARGET_MS,
            f"z2 model, 20x20 grid -> 560x560 image; {len(full)} calls, {threads}; "
            f"ours {spread(full)} ms, bare {spread(full_bare)} ms",
        ),
    ]


def epoch_row(models_dir: Path, z_dim: int, runs: int) -> Row:
    import torch

    from plugins.vae_digits import data, train
    from plugins.vae_digits.model import ConvVAE, loss

    x, y = data.load_digits(models_dir)
    (x_train, _), _ = data.split(x, y)
    x_train = torch.from_numpy(x_train)

    def ours() -> Any:
        return train.train(z_dim, 1, models_dir=models_dir)

    def bare() -> Any:
        model = ConvVAE(z_dim)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
        for first in range(0, len(x_train), train.BATCH):
            objective, _, _ = loss(model, x_train[first : first + train.BATCH])
            optimiser.zero_grad()
            objective.backward()
            optimiser.step()

    mine, base = interleaved(ours, bare, runs)
    seconds, base_s = median(mine) / 1000, median(base) / 1000
    return Row(
        f"vae epoch z={z_dim}",
        f"{seconds:.2f} s/epoch",
        f"bare Adam loop {base_s:.2f} s/epoch",
        seconds / base_s,
        "record (FACTS: 1.35 s/epoch at batch 128)",
        True,
        f"4,500 digits, batch {train.BATCH}, shifts {train.SHIFT} px, held-out scoring, "
        f"load + split included; {runs} runs, torch threads {torch.get_num_threads()}; "
        f"ours {spread([m / 1000 for m in mine])} s, bare {spread([b / 1000 for b in base])} s",
    )


def main() -> None:
    args = parser(__doc__, runs=5).parse_args()
    isolate_studio_home()
    from plugins.vae_digits import data
    from studio.core.models import models_dir

    folder = models_dir()
    if not data.data_installed(folder):
        sys.exit(f"The MNIST digits are not installed in {folder}; run install-defaults first")
    rows = decode_rows(folder, args.runs)
    rows += [epoch_row(folder, z, max(2, args.runs // 2)) for z in (2, 16)]
    for i, row in enumerate(rows):
        args.header = args.header and i == 0
        report(row, args)


if __name__ == "__main__":
    main()
