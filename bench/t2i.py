"""Text to image on CPU: the app's job path against a raw diffusers call, and cancel latency.

A tiny random SD pipeline (tests/t2i_tiny.py) is saved to a temporary folder. Each round runs
the same request (a weighted prompt and negative prompt, steps, size, scheduler Euler a, seed)
once through Studio's path (discovery, Executor, the plugin parsing A1111's syntax, with
previews on and turned into QImages as the window's worker does) and once as a raw call: the
same weights in compel's own syntax through compel, then `pipe(prompt_embeds=...)` on a
pipeline loaded with diffusers directly. The two alternate, and the ratio is the median over
rounds of raw time / app time (target: overhead at most 3%, i.e. >= 0.97x). Cancel: the
job's token is set inside the progress callback of step k; latency is the number of
denoising steps that still ran after it, and the seconds from the cancel to the job's end.

.venv/bin/python -m bench.t2i [--size 128] [--steps 10] [--runs 7]
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.common import Row, isolate_studio_home, median, parser, report, spread


def measure_cancel(executor, request, cancel_at: int):  # noqa: ANN001, ANN201
    """Cancel a job from its progress report of step `cancel_at`: (job, steps reported after
    the cancel, seconds from the cancel to the job's end)."""
    from studio.core.jobs import Job

    seen: list[int] = []
    marks: dict[str, float] = {}

    def cancelling(job, _preview, _metrics) -> None:  # noqa: ANN001
        seen.append(job.step)
        if job.step == cancel_at and "cancel" not in marks:
            marks["cancel"] = time.perf_counter()
            job.token.cancel()

    job = Job(request)
    executor.execute(job, cancelling)
    ended = time.perf_counter()
    return job, [s for s in seen if s > cancel_at], ended - marks.get("cancel", ended)


def main() -> None:
    options = parser(__doc__, runs=7)
    options.add_argument("--size", type=int, default=128, help="image side in pixels")
    options.add_argument("--steps", type=int, default=10)
    options.add_argument("--cancel-at", type=int, default=3, help="step that cancels")
    args = options.parse_args()
    isolate_studio_home()
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import torch
    from diffusers import AutoPipelineForText2Image, EulerAncestralDiscreteScheduler

    from plugins.text_to_image.generator import TextToImage
    from studio.core.devices import CPU
    from studio.core.jobs import Executor, Job, JobState
    from studio.ui.qt_convert import to_qimage
    from tests.t2i_tiny import build_pipeline

    folder = build_pipeline(Path(tempfile.mkdtemp(prefix="studio-bench-t2i-")) / "tiny-sd")
    generator = TextToImage()
    executor = Executor(lambda _id: generator, lambda: CPU, None)
    values = {
        "model": str(folder),
        "prompt": "a (cat:1.3) on the [mat], (sunlight)",
        "negative_prompt": "(blurry:1.2)",
        "steps": args.steps,
        "width": args.size,
        "height": args.size,
        "seed": 7,
        "scheduler": "euler_a",
    }
    request = generator.make_request(values)
    previews = []

    def on_progress(job, preview, _metrics) -> None:  # noqa: ANN001 - as the window's worker does
        if preview is not None:
            previews.append(to_qimage(preview))

    def app() -> float:
        job = Job(request)
        start = time.perf_counter()
        executor.execute(job, on_progress)
        took = time.perf_counter() - start
        assert job.state is JobState.DONE, job.error
        return took

    raw_pipe = AutoPipelineForText2Image.from_pretrained(
        str(folder), local_files_only=True, safety_checker=None, requires_safety_checker=False
    )
    raw_pipe.set_progress_bar_config(disable=True)
    raw_pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(raw_pipe.scheduler.config)

    from compel import Compel

    compel = Compel(raw_pipe.tokenizer, raw_pipe.text_encoder, truncate_long_prompts=False)

    def raw() -> float:
        start = time.perf_counter()
        cond, uncond = compel.pad_conditioning_tensors_to_same_length(
            [compel("a (cat)1.3 on the (mat)0.909 , (sunlight)1.1"), compel("(blurry)1.2")]
        )
        raw_pipe(
            prompt_embeds=cond,
            negative_prompt_embeds=uncond,
            num_inference_steps=args.steps,
            guidance_scale=7.0,
            width=args.size,
            height=args.size,
            generator=torch.Generator("cpu").manual_seed(7),
        )
        return time.perf_counter() - start

    app(), raw()  # warm-up: loading, first-call allocations
    app_times, raw_times, ratios = [], [], []
    for round_ in range(args.runs):
        pair = (app, raw) if round_ % 2 == 0 else (raw, app)
        first, second = pair[0](), pair[1]()
        a, r = (first, second) if pair[0] is app else (second, first)
        app_times.append(a)
        raw_times.append(r)
        ratios.append(r / a)
    ratio = median(ratios)

    cancel_at = min(args.cancel_at, args.steps - 1)
    cancel_job, after, latency = measure_cancel(executor, request, cancel_at)
    per_step = median(app_times) / args.steps
    row = Row(
        benchmark="t2i",
        result=f"app {median(app_times):.3f} s per image",
        baseline=f"raw diffusers call {median(raw_times):.3f} s",
        ratio=ratio,
        target=">= 0.97x raw (overhead <= 3%), previews on; cancel within 1 step",
        met=ratio >= 0.97 and cancel_job.state is JobState.CANCELLED and len(after) <= 1,
        notes=(
            f"weighted prompts (A1111 syntax in the app, compel's in the raw call); "
            f"tiny random SD pipeline (tests/t2i_tiny.py), {args.size}x{args.size}, "
            f"{args.steps} steps, Euler a, CFG 7, CPU {torch.get_num_threads()} threads; "
            f"{args.runs} rounds alternating, median of raw/app per round "
            f"(ratios {spread(ratios)}); app {spread(app_times)} s, raw {spread(raw_times)} s; "
            f"{len(previews)} previews in the timed runs; cancel at step {cancel_at}: "
            f"{len(after)} step(s) ran after it, job {cancel_job.state.value} "
            f"{latency:.3f} s after the cancel "
            f"({per_step:.3f} s per step)"
        ),
    )
    report(row, args)


if __name__ == "__main__":
    main()
