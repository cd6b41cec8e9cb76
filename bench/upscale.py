"""Upscaling a 256 px picture to 1024 px: the app's job path versus the network called
directly, and tiles versus one pass.

app    - Executor.execute(Job(request)) with the registry's upscale generator (the picture a
         PNG file read by the job, the default tile size, which holds a 256 px picture in one
         tile), as the window and `studio upscale` run it;
direct - the baseline: the same safetensors weights in the same PyTorch network, loaded once:
         read the PNG, mirror a 12 px margin (as Real-ESRGAN's own inference pre-pads, and as
         Studio does so the edges see context), one forward pass, the margin cut off, 8-bit
         pixels, a PIL image. `bare` (in the notes): the same without the margin.
Rounds alternate which goes first; one untimed warm-up of each. Ratio: median over rounds of
direct time / app time (target >= 0.95).
Tiling: studio.upscalers.upscale on the same picture with 128 px tiles (4 tiles, 12 px of
context each) and 64 px tiles (16) versus one pass (tile 0), alternating; overhead = tiled
time / one-pass time - 1, and the largest pixel difference between them.
--upscaler picks the network (default R-ESRGAN AnimeVideo: R-ESRGAN 4x+ takes minutes per
run at 256 px on 2 shared cores).
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    Row,
    isolate_studio_home,
    median,
    parser,
    registry_and_executor,
    report,
    spread,
)


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, out


def main() -> None:
    args = parser(__doc__, runs=3)
    args.add_argument("--upscaler", default="R-ESRGAN AnimeVideo")
    args.add_argument("--side", type=int, default=256)
    options = args.parse_args()
    isolate_studio_home()
    import torch
    from PIL import Image
    from safetensors.torch import load_file

    import studio.upscalers as upscalers
    from plugins.style_transfer import samples
    from studio.core.jobs import Job, JobState
    from studio.core.models import models_dir
    from studio.upscalers import builtin

    registry, executor = registry_and_executor()
    chosen = builtin.by_name(options.upscaler)
    folder = models_dir()
    net = builtin.network(chosen).eval()
    net.load_state_dict(load_file(str(chosen.path(folder))))
    net = net.to(memory_format=torch.channels_last)
    threads = torch.get_num_threads()
    side = options.side
    work = Path(tempfile.mkdtemp(prefix="studio-bench-upscale-"))
    src = work / "photo.png"
    samples.photo(side * 3 // 2, side).crop((0, 0, side, side)).save(src)
    generator = registry.get("upscale")
    request = generator.make_request({"image": str(src), "upscaler": options.upscaler})

    def app() -> Any:
        job = executor.execute(Job(request, title="bench"))
        if job.state is not JobState.DONE:
            raise RuntimeError(f"job ended {job.state.value}: {job.error}")
        return job.results[0].image

    def direct(pad: int = upscalers.OVERLAP) -> Any:
        pixels = np.asarray(Image.open(src).convert("RGB"), np.float32) / 255
        pixels = np.pad(pixels, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
        x = torch.from_numpy(pixels.transpose(2, 0, 1).copy())[None]
        with torch.inference_mode():
            y = net(x.contiguous(memory_format=torch.channels_last))[0]
        cut = pad * chosen.scale
        y = y[:, cut : y.shape[1] - cut, cut : y.shape[2] - cut]
        y = (y.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
        return Image.fromarray(np.ascontiguousarray(y), "RGB")

    image = Image.open(src).convert("RGB")

    def tiled(tile: int) -> Callable[[], Any]:
        return lambda: upscalers.upscale(image, options.upscaler, 4, models_dir=folder, tile=tile)

    load_before = os.getloadavg()[0]
    subjects = {"app": app, "direct": direct, "bare": lambda: direct(0), "one": tiled(0),
                "t128": tiled(128), "t64": tiled(64)}  # fmt: skip
    outputs = {name: call() for name, call in subjects.items()}  # warm-up
    times: dict[str, list[float]] = {name: [] for name in subjects}
    ratios, overheads128, overheads64 = [], [], []
    for round_ in range(options.runs):
        names = list(subjects) if round_ % 2 == 0 else list(reversed(subjects))
        spent = {}
        for name in names:
            spent[name], outputs[name] = timed(subjects[name])
            times[name].append(spent[name])
        ratios.append(spent["direct"] / spent["app"])
        overheads128.append(spent["t128"] / spent["one"] - 1)
        overheads64.append(spent["t64"] / spent["one"] - 1)
    load_after = os.getloadavg()[0]
    same = np.array_equal(np.asarray(outputs["app"]), np.asarray(outputs["direct"]))
    one = np.asarray(outputs["one"], np.int16)
    diff128 = int(np.abs(np.asarray(outputs["t128"], np.int16) - one).max())
    diff64 = int(np.abs(np.asarray(outputs["t64"], np.int16) - one).max())
    ratio = median(ratios)
    row = Row(
        benchmark="upscale",
        result=f"app (Executor job) {median(times['app']):.2f} s, {side}→{side * 4} px, "
        f"{options.upscaler}",
        baseline=f"network called directly {median(times['direct']):.2f} s",
        ratio=ratio,
        target=">= 0.95x direct; tiling overhead reported",
        met=ratio >= 0.95,
        notes=f"{options.runs} rounds alternating after a warm-up, {threads} torch threads; app "
        f"{spread(times['app'])} s, direct {spread(times['direct'])} s, same pixels: {same}; "
        f"the network without the mirrored margin {median(times['bare']):.2f} s; "
        f"tiles vs one pass ({median(times['one']):.2f} s): 128 px tiles (4) "
        f"+{median(overheads128) * 100:.0f} % ({median(times['t128']):.2f} s, max pixel "
        f"difference {diff128}), 64 px tiles (16) +{median(overheads64) * 100:.0f} % "
        f"({median(times['t64']):.2f} s, max difference {diff64}); load average "
        f"{load_before:.1f} before, {load_after:.1f} after",
    )
    report(row, options)


if __name__ == "__main__":
    sys.exit(main())
