"""Project store: opening a 2,000-item project to an interactive gallery, and committing one
result.

Built once per run (not timed): a project of 2,000 results added with Project.add_results,
like the app's jobs add them: 1,800 at 64x64 px (GAN faces, and a prompt-driven generator
with varied prompts) and 200 at 512x512 px (faces upscaled with Lanczos), all with smooth,
detailed pixels (sums of sines, like a generated face, not flat gradients), creation times
spread over 60 days. A second, empty project is the baseline.

project_open: in a fresh Python process each time (so nothing is cached in Python; the OS
file cache is warm, since the file was just written and read), the seconds from
Project.open(path) through GalleryPanel() + set_project + show until the gallery view's
viewport has received its first Paint event and that paint pass is done (a zero-delay timer
after the Paint event; offscreen platform, 280x800 px panel like the docked gallery), i.e.
an interactive gallery. Children alternate between the full and the empty project after one
untimed warm-up each; the medians are reported with their ratio. Then, in this process, the
median time of project.items(...) for a one-word search, a two-word search and a generator
filter over the 2,000 items, against the unfiltered query. Target: under 0.5 s.

project_commit: the milliseconds of Project.add_results([one result]) (one BEGIN IMMEDIATE
… COMMIT around the item and its pixels, WAL, synchronous=NORMAL) into the 2,000-item
project, for 64x64 and 512x512 px results, interleaved with the baseline: the store's
previous way, the same two inserts each committed on its own (autocommit), which could leave
an item without pixels. Beside them: the PNG encoding alone (Pillow save to BytesIO with
compress_level=1 and the same metadata chunks), to show what the database adds. Ratio:
median transaction / median autocommit. Target: median under 10 ms per 64 px result.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from bench.common import (
    REPO_ROOT,
    Row,
    isolate_studio_home,
    median,
    parser,
    percentile,
    report,
    spread,
)

COUNT = 2000
LARGE = 200  # of COUNT, at 512 px; the rest at 64 px
SMALL_PX, LARGE_PX = 64, 512
PANEL_SIZE = (280, 800)  # the docked gallery's width, a typical height
OPEN_TARGET_S = 0.5
COMMIT_TARGET_MS = 10.0
COMMITS = {SMALL_PX: 80, LARGE_PX: 30}  # timed commits per size (after a warm-up of 5)
QUERY_REPEATS = 15
CHILD_TIMEOUT_S = 60.0
SUBJECTS = (
    "a rainy street at night, neon signs",
    "portrait of an old sailor, oil painting",
    "a castle on a cliff at sunset",
    "watercolor fox in a snowy forest",
    "isometric city block, pastel colors",
    "portrait of a young woman, studio lighting",
    "a bowl of fruit, still life, soft light",
    "mountain lake at sunrise, mist",
)
SEARCHES = ("portrait", "castle sunset")


# ---------------------------------------------------------------- content


def smooth_images(count: int, size: int, seed: int) -> list[Any]:
    """Deterministic smooth images with detail: four sine waves per channel."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = (np.mgrid[0:size, 0:size] / size).astype(np.float32)
    axes = np.stack([x, y, x + y, np.hypot(x - 0.5, y - 0.5)])
    images = []
    for _ in range(count):
        freq = rng.uniform(6, 38, (3, 4, 1, 1)).astype(np.float32)
        phase = rng.uniform(0, 6.3, (3, 4, 1, 1)).astype(np.float32)
        waves = np.sin(freq * axes[None] + phase).sum(axis=1)
        pixels = ((waves + 4) * 31.875).astype(np.uint8).transpose(1, 2, 0)
        images.append(Image.fromarray(np.ascontiguousarray(pixels)))
    return images


def upscaled(images: list[Any], size: int = LARGE_PX) -> list[Any]:
    """What the upscaler makes of 64 px faces: Lanczos to `size` px."""
    from PIL import Image

    return [image.resize((size, size), Image.Resampling.LANCZOS) for image in images]


def make_result(i: int, image: Any, created: float) -> Any:
    """The i-th result of the synthetic history: three generators, prompts for one of them."""
    from studio.core.generator import Result

    if image.width > SMALL_PX:
        return Result(
            image=image,
            generator="upscale",
            generator_version="1.0.0",
            params={"source": f"item {i // 2}", "scale": 8, "method": "lanczos"},
            seed=1000 + i,
            title="Upscale",
            method="Lanczos",
            note=f"upscaled {SMALL_PX} → {image.width} px (Lanczos)",
            created=created,
        )
    if i % 2:
        prompt = SUBJECTS[(i // 2) % len(SUBJECTS)]
        return Result(
            image=image,
            generator="tiny_diffusion",
            generator_version="0.3.2",
            params={
                "prompt": prompt,
                "negative_prompt": "blurry, low quality",
                "steps": 4 + i % 3 * 4,
                "guidance": 1.5,
                "count": 4,
                "size": SMALL_PX,
            },
            seed=500_000 + i,
            model_name="tiny-diffusion-64",
            model_hash="fedcba987654",
            title="Tiny diffusion",
            method="Euler a",
            index=i % 4,
            device="cpu",
            created=created,
        )
    return Result(
        image=image,
        generator="gan_faces",
        generator_version="1.1.1",
        params={"mode": "sample", "count": 16, "truncation": 0.8, "size": SMALL_PX},
        seed=1000 + i,
        model_name="dcgan-digiface",
        model_hash="0123456789ab",
        title="GAN faces",
        method="DCGAN",
        index=i % 16,
        device="cpu",
        created=created,
    )


def build_project(path: Path) -> dict[str, Any]:
    """Write the 2,000-item project (as jobs of 16 would); returns facts for the notes."""
    from studio.core.project import Project

    small = smooth_images(COUNT - LARGE, SMALL_PX, seed=11)
    large = upscaled(smooth_images(LARGE, SMALL_PX, seed=12))
    step = COUNT // LARGE
    now = time.time()
    results = []
    for i in range(COUNT):
        image = large.pop() if i % step == step - 1 else small.pop()
        created = now - 60 * 86400 + i * (60 * 86400 / COUNT)
        results.append(make_result(i, image, created))
    start = time.perf_counter()
    with closing(Project.open(path, create=True)) as project:
        for batch in range(0, COUNT, 16):
            project.add_results(results[batch : batch + 16])
        generators = project.generators()
    built = time.perf_counter() - start
    return {"built_s": built, "bytes": path.stat().st_size, "generators": generators}


# ---------------------------------------------------------------- opening (child process)


def child(path: Path) -> None:
    """Open `path` to a painted gallery; print one JSON line of clock readings, then exit."""
    from bench.common import qt_app

    app = qt_app()
    from PySide6.QtCore import QEvent, QObject, QTimer

    from studio.core.project import Project
    from studio.ui.gallery import GalleryPanel
    from studio.ui.theme import apply_dark

    apply_dark(app)
    marks: dict[str, float] = {}
    queries = _count_calls(Project, "items")

    def stamp() -> None:
        marks["painted"] = time.perf_counter()
        app.quit()

    class FirstPaint(QObject):
        def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt override
            if event.type() == QEvent.Type.Paint and "paint" not in marks:
                marks["paint"] = time.perf_counter()
                QTimer.singleShot(0, stamp)  # runs once this paint pass is flushed
            return False

    gc.collect()
    marks["start"] = time.perf_counter()
    project = Project.open(path)
    marks["opened"] = time.perf_counter()
    panel = GalleryPanel()
    panel.resize(*PANEL_SIZE)
    watcher = FirstPaint()
    panel.view.viewport().installEventFilter(watcher)
    marks["built"] = time.perf_counter()
    panel.set_project(project)
    marks["set"] = time.perf_counter()
    panel.show()
    marks["shown"] = time.perf_counter()
    QTimer.singleShot(int(CHILD_TIMEOUT_S * 1000), app.quit)
    app.exec()
    start = marks["start"]
    out = {key: value - start for key, value in marks.items()}
    out["rows"] = panel.model.rowCount()
    out["thumbs"] = len(panel.model._thumbs)  # thumbnails read for the first paint
    out["queries"] = len(queries)  # project.items() calls, open to painted
    project.close()  # untimed: leaves the file checkpointed, as a closed Studio would
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    os._exit(0 if "painted" in marks else 1)


def _count_calls(cls: type, name: str) -> list[None]:
    """Wrap cls.name (in this child only) to count its calls; returns the growing list."""
    calls: list[None] = []
    real = getattr(cls, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        return real(*args, **kwargs)

    setattr(cls, name, counted)
    return calls


def open_once(path: Path) -> dict[str, float]:
    """Run one child on `path`; its clock readings, in seconds from Project.open."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.project", "--child", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S + 10,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(lines[-1])


def measure_open(full: Path, empty: Path, runs: int) -> dict[str, list[dict[str, float]]]:
    """Alternate fresh processes between the two projects, after one warm-up each."""
    open_once(empty)
    open_once(full)
    got: dict[str, list[dict[str, float]]] = {"full": [], "empty": []}
    for run in range(runs):
        order = ("full", "empty") if run % 2 == 0 else ("empty", "full")
        for name in order:
            got[name].append(open_once(full if name == "full" else empty))
    return got


def measure_queries(path: Path) -> dict[str, tuple[float, int]]:
    """Median ms and row count of project.items(...) for each filter, in this process."""
    from studio.core.project import Project

    queries: dict[str, dict[str, Any]] = {"all": {}}
    for words in SEARCHES:
        queries[f"search '{words}'"] = {"search": words}
    queries["generator gan_faces"] = {"generator": "gan_faces"}
    times: dict[str, list[float]] = {name: [] for name in queries}
    rows: dict[str, int] = {}
    with closing(Project.open(path)) as project:
        for name, kwargs in queries.items():  # warm-up
            rows[name] = len(project.items(**kwargs))
        for _ in range(QUERY_REPEATS):
            for name, kwargs in queries.items():
                start = time.perf_counter()
                project.items(**kwargs)
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: (median(values), rows[name]) for name, values in times.items()}


def quick_check_ms(path: Path) -> float:
    """What the PRAGMA quick_check that Project.open runs costs on this file alone."""
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        start = time.perf_counter()
        db.execute("PRAGMA quick_check").fetchone()
        return (time.perf_counter() - start) * 1000
    finally:
        db.close()


# ---------------------------------------------------------------- committing


def measure_commits(path: Path) -> dict[int, dict[str, list[float]]]:
    """Per size: ms of add_results([one]) and of the PNG encoding alone, interleaved."""
    from studio.core.metadata import result_record, save_options
    from studio.core.project import Project, _encode

    sizes: dict[int, dict[str, list[float]]] = {}
    with closing(Project.open(path)) as project:
        for size, count in COMMITS.items():
            total = count + 5
            base = smooth_images(total, SMALL_PX, seed=20 + size)
            images = base if size == SMALL_PX else upscaled(base, size)
            results = [
                make_result(2 * i + 1 if size == SMALL_PX else 9, im, time.time())
                for i, im in enumerate(images)
            ]
            times: dict[str, list[float]] = {"commit": [], "png": [], "png+thumb": [], "auto": []}
            gc.collect()
            for i, result in enumerate(results):
                record = result_record(result)
                start = time.perf_counter()
                buffer = io.BytesIO()
                result.image.save(buffer, "PNG", compress_level=1, **save_options(record, "PNG"))
                png = time.perf_counter() - start
                start = time.perf_counter()
                _encode(result.image, record)
                both = time.perf_counter() - start
                start = time.perf_counter()
                project.add_results([result])
                commit = time.perf_counter() - start
                start = time.perf_counter()
                _autocommit_add(project, result)
                auto = time.perf_counter() - start
                if i >= 5:  # the first few warm Pillow, zlib and the statement cache
                    times["png"].append(png * 1000)
                    times["png+thumb"].append(both * 1000)
                    times["commit"].append(commit * 1000)
                    times["auto"].append(auto * 1000)
            times["png_bytes"] = [len(buffer.getvalue())]
            sizes[size] = times
    return sizes


def _autocommit_add(project: Any, result: Any) -> int:
    """The store's previous commit: encode, then two inserts each committed on its own."""
    from studio.core.item_text import caption_of, search_text
    from studio.core.metadata import result_record
    from studio.core.project import _encode

    record = result_record(result)
    png, thumb = _encode(result.image, record)
    row = (record["created"], result.generator, result.seed, json.dumps(record, sort_keys=True))
    row += (result.image.width, result.image.height, None, caption_of(record), search_text(record))
    with project._lock:
        db = project._db
        cursor = db.execute(
            "INSERT INTO items (created, generator, seed, record, width, height, parent, caption,"
            " search) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        item = int(cursor.lastrowid)
        db.execute("INSERT INTO images VALUES (?, ?, ?)", (item, png, thumb))
    return item


# ---------------------------------------------------------------- main


def main() -> None:
    args = _parser().parse_args()
    if args.child:
        child(Path(args.child))
        return
    began = time.perf_counter()
    isolate_studio_home()
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    root = Path(tempfile.mkdtemp(prefix="studio-bench-project-"))
    try:
        full, empty = root / "full.studio", root / "empty.studio"
        facts = build_project(full)
        from studio.core.project import Project

        Project.open(empty, create=True).close()
        opened = measure_open(full, empty, args.runs)
        check_ms = quick_check_ms(full)
        queries = measure_queries(full)
        commits = measure_commits(full)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    whole = time.perf_counter() - began
    report(_open_row(args, facts, opened, check_ms, queries), args)
    report(_commit_row(commits, whole), args)


def _parser() -> argparse.ArgumentParser:
    args = parser(__doc__, runs=7)
    args.add_argument("--child", metavar="PATH", help=argparse.SUPPRESS)
    return args


def _open_row(
    args: argparse.Namespace,
    facts: dict[str, Any],
    opened: dict[str, list[dict[str, float]]],
    check_ms: float,
    queries: dict[str, tuple[float, int]],
) -> Row:
    def med(name: str, key: str) -> float:
        return median([run[key] for run in opened[name]])

    full, empty = med("full", "painted"), med("empty", "painted")
    phases = {
        "Project.open": med("full", "opened"),
        "set_project": med("full", "set") - med("full", "built"),
        "show -> painted": med("full", "painted") - med("full", "shown"),
    }
    notes = (
        f"offscreen; {COUNT} items ({COUNT - LARGE} at {SMALL_PX} px, {LARGE} at {LARGE_PX} px, "
        f"{len(facts['generators'])} generators), file {facts['bytes'] / 1e6:.0f} MB, built in "
        f"{facts['built_s']:.1f} s; fresh process per open, {args.runs} each, alternating, "
        f"after 1 warm-up each; OS file cache warm; 2,000: {spread(_col(opened, 'full'))} s, "
        f"empty: {spread(_col(opened, 'empty'))} s; 2,000-item phases (median ms): "
        + ", ".join(f"{name} {value * 1000:.0f}" for name, value in phases.items())
        + f" ({int(opened['full'][0]['thumbs'])} thumbnails read, project.items() called "
        f"{int(opened['full'][0]['queries'])}x); PRAGMA quick_check alone "
        f"{check_ms:.0f} ms; items() median ms over {QUERY_REPEATS}: "
        + ", ".join(f"{name} {ms:.1f} ({rows} rows)" for name, (ms, rows) in queries.items())
    )
    return Row(
        benchmark="project_open",
        result=f"2,000 items: open to painted gallery {full:.3f} s",
        baseline=f"empty project {empty:.3f} s",
        ratio=full / empty,
        target=f"< {OPEN_TARGET_S:g} s with 2,000 items",
        met=full < OPEN_TARGET_S,
        notes=notes,
    )


def _col(opened: dict[str, list[dict[str, float]]], name: str) -> list[float]:
    return [run["painted"] for run in opened[name]]


def _commit_row(commits: dict[int, dict[str, list[float]]], whole: float) -> Row:
    small, large = commits[SMALL_PX], commits[LARGE_PX]

    def figures(times: dict[str, list[float]]) -> str:
        return f"median {median(times['commit']):.1f} ms, p95 {percentile(times['commit'], 95):.1f}"

    small_ms, large_ms = median(small["commit"]), median(large["commit"])
    auto_small, auto_large = median(small["auto"]), median(large["auto"])
    notes = (
        f"into the {COUNT}-item project; WAL, synchronous=NORMAL; {COMMITS[SMALL_PX]} and "
        f"{COMMITS[LARGE_PX]} timed commits after 5 warm-up, interleaved with the encodes; "
        f"{LARGE_PX} px: median {large_ms:.1f} ms, p95 {percentile(large['commit'], 95):.1f} "
        f"ms, max {max(large['commit']):.0f} ms, target "
        f"{'met' if large_ms < COMMIT_TARGET_MS else 'not met'}; PNG alone median "
        f"{median(small['png']):.2f} / {median(large['png']):.1f} ms "
        f"({small['png_bytes'][0] / 1000:.0f} / {large['png_bytes'][0] / 1000:.0f} KB), "
        f"PNG + JPEG thumbnail (everything but the database) {median(small['png+thumb']):.2f} "
        f"/ {median(large['png+thumb']):.1f} ms ({SMALL_PX} / {LARGE_PX} px); {SMALL_PX} px "
        f"max {max(small['commit']):.1f} ms; transaction / autocommit at {LARGE_PX} px "
        f"{large_ms / auto_large:.2f}x; whole run {whole:.0f} s"
    )
    return Row(
        benchmark="project_commit",
        result=f"add_results in one transaction, 1 x {SMALL_PX} px: {figures(small)}; "
        f"{LARGE_PX} px: {figures(large)}",
        baseline=f"two autocommitted inserts (before): {auto_small:.2f} ms ({SMALL_PX} px), "
        f"{auto_large:.1f} ms ({LARGE_PX} px)",
        ratio=small_ms / auto_small,
        target=f"median < {COMMIT_TARGET_MS:g} ms per {SMALL_PX} px result",
        met=small_ms < COMMIT_TARGET_MS,
        notes=notes,
    )


if __name__ == "__main__":
    main()
