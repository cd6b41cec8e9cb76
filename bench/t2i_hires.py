"""Hires fix on CPU: the app's job against the two raw diffusers calls it stands for.

A tiny random SD pipeline (tests/t2i_tiny.py) is saved to a temporary folder. Each round runs
one request with hires fix (latent upscaler) through Studio's path (discovery, Executor, the
plugin: first pass, latent upscale, second pass, previews on) and once as raw calls on a
pipeline loaded with diffusers directly: txt2img to latents, `torch.nn.functional.interpolate`
(bilinear, A1111's "Latent"), img2img on those latents with the same schedule. The two
alternate; the ratio is the median over rounds of raw time / app time (target: overhead at
most 3 %, i.e. >= 0.97x). The two pictures are compared too (they must be the same pixels).

.venv/bin/python -m bench.t2i_hires [--size 64] [--scale 1.5] [--steps 8] [--hires-steps 8]
    [--runs 7]
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.common import Row, isolate_studio_home, median, parser, report, spread


def main() -> None:
    options = parser(__doc__, runs=7)
    options.add_argument("--size", type=int, default=64, help="first pass side in pixels")
    options.add_argument("--steps", type=int, default=8)
    options.add_argument("--hires-steps", type=int, default=8)
    options.add_argument("--strength", type=float, default=0.5)
    options.add_argument("--scale", type=float, default=1.5)
    options.add_argument("--threads", type=int, default=1, help="torch CPU threads (both)")
    args = options.parse_args()
    load_before = os.getloadavg()
    isolate_studio_home()
    os.environ["HF_HUB_OFFLINE"] = "1"
    import numpy as np
    import torch
    from diffusers import (
        AutoPipelineForImage2Image,
        AutoPipelineForText2Image,
        EulerDiscreteScheduler,
    )

    from plugins.text_to_image import hires
    from plugins.text_to_image.generator import TextToImage
    from studio.core.devices import CPU
    from studio.core.jobs import Executor, Job, JobState
    from tests.t2i_tiny import build_pipeline

    torch.set_num_threads(args.threads)  # one thread: other load on the machine disturbs less

    folder = build_pipeline(Path(tempfile.mkdtemp(prefix="studio-bench-hires-")) / "tiny-sd")
    generator = TextToImage()
    executor = Executor(lambda _id: generator, lambda: CPU, None)
    executor.threads = args.threads
    prompt, seed = "a cat on the mat", 7
    values = {
        "model": str(folder), "prompt": prompt, "steps": args.steps, "width": args.size,
        "height": args.size, "seed": seed, "scheduler": "euler", "hires_fix": True,
        "hires_upscaler": "Latent", "hires_upscale": args.scale, "hires_steps": args.hires_steps,
        "denoising_strength": args.strength,
    }  # fmt: skip
    request = generator.make_request(values)
    made: dict[str, object] = {}

    def app() -> float:
        job = Job(request)
        start = time.perf_counter()
        executor.execute(job, lambda *_: None)
        took = time.perf_counter() - start
        assert job.state is JobState.DONE, job.error
        made["app"] = job.results[0].image
        return took

    first = AutoPipelineForText2Image.from_pretrained(
        str(folder), local_files_only=True, safety_checker=None, requires_safety_checker=False
    )
    first.set_progress_bar_config(disable=True)
    first.scheduler = EulerDiscreteScheduler.from_config(first.scheduler.config)
    second = AutoPipelineForImage2Image.from_pipe(first)
    second.set_progress_bar_config(disable=True)
    schedule, strength = hires.second_pass_steps(args.hires_steps, args.strength)
    factor = first.vae_scale_factor
    side = int(args.size * args.scale) // factor

    def raw() -> float:
        start = time.perf_counter()
        latents = first(
            prompt, num_inference_steps=args.steps, guidance_scale=7.0, width=args.size,
            height=args.size, generator=torch.Generator("cpu").manual_seed(seed),
            output_type="latent",
        ).images  # fmt: skip
        latents = torch.nn.functional.interpolate(latents, size=(side, side), mode="bilinear")
        image = second(
            prompt, image=latents, num_inference_steps=schedule, strength=strength,
            guidance_scale=7.0, generator=torch.Generator("cpu").manual_seed(seed),
        ).images[0]  # fmt: skip
        made["raw"] = image
        return time.perf_counter() - start

    app(), raw()  # warm-up: loading, first-call allocations
    same = np.array_equal(np.asarray(made["app"]), np.asarray(made["raw"]))
    app_times, raw_times, ratios = [], [], []
    for round_ in range(args.runs):
        pair = (app, raw) if round_ % 2 == 0 else (raw, app)
        one, two = pair[0](), pair[1]()
        a, r = (one, two) if pair[0] is app else (two, one)
        app_times.append(a)
        raw_times.append(r)
        ratios.append(r / a)
    ratio = median(ratios)
    load_after = os.getloadavg()
    out = int(args.size * args.scale)
    row = Row(
        benchmark="t2i_hires",
        result=f"app {median(app_times):.3f} s per image",
        baseline=f"two raw diffusers calls {median(raw_times):.3f} s",
        ratio=ratio,
        target=">= 0.97x raw (overhead <= 3%), the same pixels",
        met=ratio >= 0.97 and same,
        notes=(
            f"hires fix {args.size}->{out} px, Latent (bilinear), {args.steps} + "
            f"{args.hires_steps} steps (schedule {schedule} at strength {args.strength:g}), "
            f"Euler, CFG 7; tiny random SD pipeline (tests/t2i_tiny.py), CPU "
            f"{torch.get_num_threads()} threads; previews on in the app; {args.runs} rounds "
            f"alternating, median of raw/app per round (ratios {spread(ratios)}); app "
            f"{spread(app_times)} s, raw {spread(raw_times)} s; same pixels: {same}; load "
            f"average {'/'.join(f'{v:.2f}' for v in load_before)} before, "
            f"{'/'.join(f'{v:.2f}' for v in load_after)} after"
        ),
    )
    report(row, args)


if __name__ == "__main__":
    main()
