"""Batch export throughput (PNG files/s): export_items versus a plain Pillow save loop.

Measured: 1,000 images of 128x128 px with smooth, detailed content (sums of sines, ~24 KB as
PNG, like a generated face, unlike a flat gradient that compresses to almost nothing), already
decoded in memory, written to fresh folders in the temporary directory two ways:
  pillow - `for i, im in enumerate(images): im.save(folder / f"{i:04d}.png")` (the baseline);
  export - export_items(items, folder, ExportOptions()) with the default template, each file
           with our metadata, written to a temporary name, fsync'ed, then linked to a name
           that is never overwritten.
An untimed warm-up (300 files each way), then rounds with the order alternating; the garbage
collector runs before every timed call and the folders are removed outside the timing. The
ratio is the median, over rounds, of pillow time / export time within the same round.

Then, once each, a sequential breakdown (no threads, first 300 images) of what safe writing
costs per file: pillow alone, + metadata, + temporary file and link (fsync replaced by a
no-op), + fsync (that is, write_atomic as is); and export_items on a single worker thread.

Target: export at least 0.8x the Pillow loop's throughput.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import Row, median, parser, report, spread

COUNT = 1000
SIZE = 128
TARGET_RATIO = 0.8
BREAKDOWN = 300  # images in each sequential breakdown step, measured once
PATHS = ("pillow", "export")


def make_images(count: int = COUNT, size: int = SIZE) -> list[Any]:
    """Deterministic smooth images with detail: four sine waves per channel."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    y, x = (np.mgrid[0:size, 0:size] / size).astype(np.float32)
    axes = np.stack([x, y, x + y, np.hypot(x - 0.5, y - 0.5)])  # 4 directions
    images = []
    for _ in range(count):
        freq = rng.uniform(6, 38, (3, 4, 1, 1)).astype(np.float32)
        phase = rng.uniform(0, 6.3, (3, 4, 1, 1)).astype(np.float32)
        waves = np.sin(freq * axes[None] + phase).sum(axis=1)  # 3 x size x size in -4..4
        pixels = ((waves + 4) * 31.875).astype(np.uint8).transpose(1, 2, 0)
        images.append(Image.fromarray(np.ascontiguousarray(pixels)))
    return images


def make_items(images: list[Any]) -> list[Any]:
    from studio.core.batch_export import ExportItem

    created = time.time()
    return [
        ExportItem(i, _record(i, image, created), lambda image=image: image)
        for i, image in enumerate(images)
    ]


def _record(i: int, image: Any, created: float) -> dict[str, Any]:
    return {
        "generator": "gan_faces",
        "generator_title": "GAN faces",
        "generator_version": "1.1.1",
        "method": "sample",
        "index": i % 16,
        "params": {"mode": "sample", "count": 16, "truncation": 0.8, "size": SIZE},
        "seed": 1000 + i,
        "model": "dcgan-digiface",
        "model_hash": "0123456789ab",
        "device": "cpu",
        "width": image.width,
        "height": image.height,
        "created": created,
    }


def timed(call: Callable[[Path], int], root: Path, count: int = COUNT) -> float:
    """Seconds one call takes writing into a fresh folder; checks it wrote `count` files."""
    folder = Path(tempfile.mkdtemp(prefix="export-", dir=root))
    gc.collect()
    start = time.perf_counter()
    wrote = call(folder)
    seconds = time.perf_counter() - start
    files = len(os.listdir(folder))
    shutil.rmtree(folder)
    if wrote != count or files != count:
        raise RuntimeError(f"expected {count} files, reported {wrote}, found {files}")
    return seconds


def make_calls(
    images: list[Any], items: list[Any], sample: int
) -> dict[str, Callable[[Path], int]]:
    """One callable per measured path, each writing every image into the given folder."""
    from studio.core.batch_export import ExportOptions, export_items
    from studio.core.export import write_atomic
    from studio.core.metadata import save_options

    def pillow(folder: Path) -> int:
        for i, image in enumerate(images):
            image.save(folder / f"{i:04d}.png")
        return len(images)

    def pillow_sample(folder: Path) -> int:
        for i, image in enumerate(images[:sample]):
            image.save(folder / f"{i:04d}.png")
        return sample

    def export(folder: Path, workers: int | None = None) -> int:
        done = export_items(items, folder, ExportOptions(), workers=workers)
        if done.error:
            raise RuntimeError(done.error)
        return len(done.written)

    def with_metadata(folder: Path) -> int:
        for i, item in enumerate(items[:sample]):
            info = save_options(item.record, "PNG")["pnginfo"]
            item.load().save(folder / f"{i:04d}.png", pnginfo=info)
        return sample

    def atomic(folder: Path) -> int:
        for i, item in enumerate(items[:sample]):
            kwargs = save_options(item.record, "PNG")
            image = item.load()
            save = lambda handle, image=image, kwargs=kwargs: image.save(handle, "PNG", **kwargs)  # noqa: E731
            write_atomic(folder / f"{i:04d}.png", save)
        return sample

    def atomic_without_fsync(folder: Path) -> int:
        real = os.fsync
        os.fsync = lambda _fd: None  # only to price the fsync; never done outside this bench
        try:
            return atomic(folder)
        finally:
            os.fsync = real

    return {
        "pillow": pillow,
        "export": export,
        "metadata": with_metadata,
        "temp+link": atomic_without_fsync,
        "fsync": atomic,
        "1 worker": lambda folder: export(folder, workers=1),
        "pillow sample": lambda folder: pillow_sample(folder),
    }


def main() -> None:
    args = parser(__doc__, runs=4).parse_args()
    from studio.core.batch_export import WORKERS

    start = time.perf_counter()
    images = make_images()
    items = make_items(images)
    calls = make_calls(images, items, BREAKDOWN)
    root = Path(tempfile.mkdtemp(prefix="studio-bench-export-"))
    try:
        sizes = _png_sizes(images[:20], root)
        for name in ("pillow sample", "fsync"):  # warm-up: Pillow, metadata, file system
            timed(calls[name], root, BREAKDOWN)
        seconds: dict[str, list[float]] = {name: [] for name in PATHS}
        for round_no in range(args.runs):
            order = PATHS if round_no % 2 == 0 else PATHS[::-1]
            for name in order:
                seconds[name].append(timed(calls[name], root))
        steps = {
            name: timed(calls[name], root, BREAKDOWN) / BREAKDOWN
            for name in ("pillow sample", "metadata", "temp+link", "fsync")
        }
        steps["1 worker"] = timed(calls["1 worker"], root) / COUNT
    finally:
        shutil.rmtree(root, ignore_errors=True)

    ratio = median([p / e for p, e in zip(seconds["pillow"], seconds["export"], strict=True)])
    rate = {name: COUNT / median(values) for name, values in seconds.items()}
    per_file = {name: 1000 * value for name, value in steps.items()}
    notes = (
        f"{COUNT} PNGs {SIZE}x{SIZE} px, ~{sizes // 1000} KB each, in {tempfile.gettempdir()} "
        f"({_filesystem(tempfile.gettempdir())}); {WORKERS} export workers on {os.cpu_count()} "
        f"CPUs; {args.runs} rounds, order alternating; ratio = median over rounds of pillow "
        f"time / export time; seconds per {COUNT}: "
        + ", ".join(f"{name} {spread(values)}" for name, values in seconds.items())
        + f"; sequential ms per file (first {BREAKDOWN}, once): pillow "
        f"{per_file['pillow sample']:.2f}, + metadata "
        f"{per_file['metadata']:.2f}, + temp file and link {per_file['temp+link']:.2f}, "
        f"+ fsync (write_atomic) {per_file['fsync']:.2f}; export_items on 1 worker "
        f"{per_file['1 worker']:.2f}; whole run {time.perf_counter() - start:.0f} s"
    )
    row = Row(
        benchmark="export",
        result=f"export_items {rate['export']:.0f} files/s",
        baseline=f"Pillow save loop {rate['pillow']:.0f} files/s",
        ratio=ratio,
        target=f">= {TARGET_RATIO:g}x the Pillow loop",
        met=ratio >= TARGET_RATIO,
        notes=notes,
    )
    report(row, args)


def _png_sizes(images: list[Any], root: Path) -> int:
    """The mean size of these images as PNG files, in bytes."""
    total = 0
    for i, image in enumerate(images):
        path = root / f"size-{i}.png"
        image.save(path)
        total += path.stat().st_size
        path.unlink()
    return total // max(1, len(images))


def _filesystem(folder: str) -> str:
    """The file system type of the mount holding `folder`, from /proc/mounts if there is one."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "file system unknown"
    best = max(
        (m for m in mounts if len(m) > 2 and (folder + "/").startswith(m[1].rstrip("/") + "/")),
        key=lambda m: len(m[1]),
        default=None,
    )
    return best[2] if best else "file system unknown"


if __name__ == "__main__":
    main()
