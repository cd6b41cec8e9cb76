"""Comparison grids: what the grid adds to its jobs, and the memory of assembling big ones.

Two rows:

1. `grid (seed × truncation)`: a GAN faces grid run as `studio grid --project` runs it (the
   cells stored first, one job each through `run_entries`, committed, pasted into the grid,
   the grid drawn and committed) against the same requests as a plain batch (stored, run,
   committed; no grid). Rounds alternate; ratio = median of batch time / grid time.
2. `grid assembly (5,000 cells)`: peak memory of a child process that assembles a 100 × 50
   grid of 512-px cells the way Studio does (each cell shrunk as it arrives, pasted, let go)
   against one doing it A1111's way (every cell kept at full size, `image_grid`, then the
   labels on a copy) for 500 cells (~1.2 GB, within this machine's budget); per cell.

.venv/bin/python -m bench.grid [--runs N] [--cells N] [--no-record]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from bench.common import (
    REPO_ROOT,
    Row,
    isolate_studio_home,
    median,
    parser,
    registry_and_executor,
    report,
    scratch_project,
    spread,
)


def load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def quiet_args() -> SimpleNamespace:
    """What run_entries reads of the command line: no Ctrl+C, no progress bar."""
    interrupt = SimpleNamespace(requested=False, keep_queued=False, job=None, cluster=None)
    return SimpleNamespace(interrupt=interrupt, quiet=True)


def grid_run(generator, plan, executor) -> float:  # noqa: ANN001
    """`studio grid --project`'s path, timed from storing the cells to the stored grid."""
    from studio.cli._common import run_entries
    from studio.core.grid_image import GridRun

    args = quiet_args()
    project = scratch_project()
    start = time.perf_counter()
    grid = GridRun(generator, plan)
    entries = grid.entries()
    ids = project.queue.add(entries)

    def done(job) -> None:  # noqa: ANN001
        grid.finished(job.request, job.results[0].image, job.item_ids[0])
        job.results = []

    run_entries(project, list(zip(ids, entries, strict=True)), executor, args, done)
    project.add_results([grid.result()])
    seconds = time.perf_counter() - start
    project.close()
    return seconds


def batch_run(plan, executor) -> float:  # noqa: ANN001
    """The same requests as a plain batch: stored, run, committed, nothing assembled."""
    from studio.cli._common import run_entries
    from studio.core.project_queue import QueueEntry

    args = quiet_args()
    project = scratch_project()
    start = time.perf_counter()
    entries = [QueueEntry(r, "batch") for r in plan.runs]
    ids = project.queue.add(entries)
    run_entries(project, list(zip(ids, entries, strict=True)), executor, args)
    seconds = time.perf_counter() - start
    project.close()
    return seconds


def overhead_row(runs: int, seeds: int) -> Row:
    from studio.core.grid import parse_axis, plan_grid

    registry, executor = registry_and_executor()
    generator = registry.get("gan_faces")
    x = parse_axis(generator.params, "seed", f"1-{seeds}")
    y = parse_axis(generator.params, "truncation", "0.4-1 [4]")
    plan = plan_grid(generator, {"mode": "sample", "size": 64}, [x, y])
    before = load()
    batch_run(plan, executor)  # warm-up: weights, the typical face for truncation
    grids, batches, ratios = [], [], []
    for n in range(runs):
        order = [("grid", lambda: grid_run(generator, plan, executor)),
                 ("batch", lambda: batch_run(plan, executor))]  # fmt: skip
        times = {}
        for name, run in order if n % 2 == 0 else order[::-1]:
            times[name] = run()
        grids.append(times["grid"])
        batches.append(times["batch"])
        ratios.append(times["batch"] / times["grid"])
    ratio = median(ratios)
    cells = len(plan.cells)
    return Row(
        benchmark="grid (seed × truncation)",
        result=f"grid of {cells} faces {median(grids):.2f} s",
        baseline=f"same {cells} jobs as a plain batch {median(batches):.2f} s",
        ratio=ratio,
        target=">= 0.95x the batch (grid overhead <= 5 %)",
        met=ratio >= 0.95,
        notes=f"GAN faces 64 px, {seeds} seeds × 4 truncations, one job per cell stored in a "
        f"project first, committed one by one (run_entries, as studio grid --project); the "
        f"grid drawn and committed as an item; {runs} rounds alternating, after a warm-up "
        f"batch; grid {spread(grids)} s, batch {spread(batches)} s; ratios {spread(ratios)}; "
        f"load average {before} before, {load()} after",
    )


CHILD = r"""
import json, sys, time
from PIL import Image

def peak_mb():  # VmHWM: this process's own peak (ru_maxrss would carry the parent's over exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

mode, cells = sys.argv[1], int(sys.argv[2])
nx = 100
ny = cells // nx
start = time.perf_counter()
colours = [Image.new("RGB", (512, 512), (i % 256, (i * 7) % 256, 90)) for i in range(8)]
base = peak_mb()
def cell(i):
    return colours[i % 8].copy()  # a fresh 512-px picture per cell, as a job returns one
if mode == "studio":
    from studio.core.grid_image import GridImage
    grid = GridImage((nx, ny, 1), [f"Seed: {i}" for i in range(nx)],
                     [f"Steps: {i}" for i in range(ny)])
    for i in range(cells):
        grid.add(i, cell(i))
    out = grid.render()
else:  # A1111: processed.images holds every cell, image_grid, then draw_grid_annotations
    from PIL import ImageDraw, ImageFont
    kept = [cell(i) for i in range(cells)]
    w, h = kept[0].size
    full = Image.new("RGB", (nx * w, ny * h), "black")
    for i, im in enumerate(kept):
        full.paste(im, (i % nx * w, i // nx * h))
    pad_left, pad_top = w * 3 // 4, 80
    out = Image.new("RGB", (full.width + pad_left, full.height + pad_top), "white")
    out.paste(full, (pad_left, pad_top))
    draw, font = ImageDraw.Draw(out), ImageFont.load_default(40)
    for i in range(nx):
        draw.text((pad_left + i * w + w // 2, 20), f"Seed: {i}", font=font, fill=0, anchor="ma")
print(json.dumps({"peak_mb": peak_mb(), "base_mb": base, "size": out.size,
                  "seconds": time.perf_counter() - start}))
"""


def measure(mode: str, cells: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(cells)], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_row(cells: int, naive_cells: int) -> Row:
    before = load()
    ours = measure("studio", cells)
    naive = measure("a1111", naive_cells)
    ours_mb = ours["peak_mb"] - ours["base_mb"]
    naive_mb = naive["peak_mb"] - naive["base_mb"]
    per_ours, per_naive = ours_mb / cells, naive_mb / naive_cells
    ratio = per_ours / per_naive
    w, h = ours["size"]
    return Row(
        benchmark=f"grid assembly ({cells:,} cells)",
        result=f"{cells:,} cells of 512 px: +{ours_mb:.0f} MB peak ({per_ours * 1024:.0f} KB "
        f"per cell), {ours['seconds']:.1f} s",
        baseline=f"A1111's way, {naive_cells:,} cells: +{naive_mb:.0f} MB ({per_naive * 1024:.0f}"
        f" KB per cell), {naive['seconds']:.1f} s",
        ratio=ratio,
        target=f"5,000 cells under 1 GB; output <= {16_383} px a side and 64 MP",
        met=ours_mb < 1024 and max(w, h) <= 16_383 and w * h <= 64_000_000,
        notes=f"peak RSS of a child process (VmHWM) above its own at the start, cells made one by "
        f"one as jobs return them; Studio's grid {w}×{h} px ({w * h / 1e6:.1f} MP, cells "
        f"shrunk to fit the cap); A1111's {naive['size'][0]}×{naive['size'][1]} px at full "
        f"size (at 5,000 cells it would hold ~{per_naive * 5000 / 1024:.1f} GB); ratio = "
        f"per-cell memory, Studio / A1111's; load average {before} before, {load()} after",
    )


def main() -> int:
    args = parser(__doc__, runs=3)
    args.add_argument("--seeds", type=int, default=8, help="seeds on the X axis (default 8)")
    args.add_argument("--cells", type=int, default=5000, help="cells of the memory row")
    args.add_argument("--only", choices=("overhead", "memory"), help="run one row only")
    options = args.parse_args()
    isolate_studio_home()
    sys.path.insert(0, str(Path(REPO_ROOT)))
    if options.only != "memory":
        report(overhead_row(options.runs, options.seeds), options)
    if options.only != "overhead":
        report(memory_row(options.cells, 500), options)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
