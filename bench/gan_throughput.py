"""GAN throughput (images/s) through the job path versus calling the generator directly.

Measured: 512 GAN faces at 64 px (the generator's own batches of 64), three ways, all on the
same loaded GanFaces instance from the built-in registry, on the device the app would pick:
  direct   - GanFaces.run(request, ctx) in a loop on the main thread (the baseline);
  executor - Executor.execute(Job(request)) on the main thread;
  runner   - JobRunner.submit(request) on its worker QThread, timed on the main thread from
             submit until job_finished is delivered there.
One untimed warm-up of each, then rounds of all three with the order rotated every round
(direct, executor, runner / executor, runner, direct / ...) to cancel drift; the garbage
collector runs before every timed call. Throughputs are medians of the rounds; the ratio is
the median, over rounds, of direct time / job-path time within the same round.

Target: each job path at least 0.95x the direct call's throughput.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from typing import Any

from bench.common import (
    Row,
    gan_request,
    isolate_studio_home,
    median,
    parser,
    qt_app,
    registry_and_executor,
    report,
    spread,
    wait_signal,
)

COUNT = 512
TARGET_RATIO = 0.95
JOB_TIMEOUT_S = 120.0
PATHS = ("direct", "executor", "runner")


def timed(call: Callable[[], int]) -> float:
    """Seconds one call takes (after a garbage collection); checks it made COUNT images."""
    gc.collect()
    start = time.perf_counter()
    made = call()
    seconds = time.perf_counter() - start
    if made != COUNT:
        raise RuntimeError(f"expected {COUNT} images, got {made}")
    return seconds


def make_calls(registry: Any, executor: Any, runner: Any, request: Any) -> dict[str, Any]:
    """One zero-argument callable per path, each returning the number of images made."""
    from studio.core.generator import Context
    from studio.core.jobs import Job, JobState
    from studio.core.models import models_dir

    generator = registry.get("gan_faces")
    folder = models_dir()

    def direct() -> int:
        return len(generator.run(request, Context(executor.device(), folder)))

    def through_executor() -> int:
        job = executor.execute(Job(request, title="bench"))
        if job.state is not JobState.DONE:
            raise RuntimeError(f"job ended {job.state.value}: {job.error}")
        return len(job.results)

    def through_runner() -> int:
        job = runner.submit(Job(request, title="bench"))
        (done,) = wait_signal(runner.job_finished, JOB_TIMEOUT_S)
        if done.state is not JobState.DONE:
            raise RuntimeError(f"job ended {done.state.value}: {done.error}")
        return len(job.results)

    return {"direct": direct, "executor": through_executor, "runner": through_runner}


def main() -> None:
    args = parser(__doc__, runs=5).parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    isolate_studio_home()
    app = qt_app()
    from studio.ui.job_runner import JobRunner

    registry, executor = registry_and_executor()
    request = gan_request(registry, COUNT)
    runner = JobRunner(executor)
    calls = make_calls(registry, executor, runner, request)
    try:
        # warm-up, executor first: it loads the weights the way the app does (run() expects
        # load() to have been called), then every path pays its first-call costs untimed
        for name in ("executor", "runner", "direct"):
            timed(calls[name])
        seconds: dict[str, list[float]] = {name: [] for name in PATHS}
        for round_no in range(args.runs):
            shift = round_no % len(PATHS)
            for name in PATHS[shift:] + PATHS[:shift]:
                seconds[name].append(timed(calls[name]))
    finally:
        runner.shutdown()

    rate = {name: COUNT / median(values) for name, values in seconds.items()}
    # each job-path run against the direct run of the same round: robust to slow drift
    ratios = {
        name: median([d / j for d, j in zip(seconds["direct"], seconds[name], strict=True)])
        for name in ("executor", "runner")
    }
    worst = min(ratios.values())
    import torch

    notes = (
        f"{COUNT} faces at 64 px, batch 64, device {executor.device().kind}, "
        f"torch threads {torch.get_num_threads()}, {app.platformName()}; {args.runs} rounds, "
        f"order rotated; ratio = median over rounds of direct time / job time: executor "
        f"{ratios['executor']:.3f}x, runner {ratios['runner']:.3f}x; seconds per {COUNT}: "
        + ", ".join(f"{name} {spread(values)}" for name, values in seconds.items())
    )
    row = Row(
        benchmark="gan_throughput",
        result=f"executor {rate['executor']:.0f} img/s, runner {rate['runner']:.0f} img/s",
        baseline=f"direct run() {rate['direct']:.0f} img/s",
        ratio=worst,
        target=f">= {TARGET_RATIO:g}x direct (both job paths; ratio = worse one)",
        met=worst >= TARGET_RATIO,
        notes=notes,
    )
    report(row, args)


if __name__ == "__main__":
    main()
