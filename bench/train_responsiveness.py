"""UI responsiveness while the worker trains the VAE: heartbeat gaps on the main thread.

Measured: the 10 ms main-thread heartbeat of bench/responsiveness.py in a real MainWindow
(offscreen) while its JobRunner trains a 2-D VAE digits model for a few epochs (the Train
panel's job, with per-epoch metrics and map previews reaching the window), from submit until
the job has finished. Baseline: the same heartbeat with nothing running, for as long as the
training took, in the same run. Trained versions go to a throwaway copy of the models folder.

Target: p99 heartbeat gap under 50 ms during training.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    Row,
    isolate_studio_home,
    median,
    parser,
    qt_app,
    registry_and_executor,
    report,
    scratch_project,
    spin,
    spread,
    wait_signal,
)
from bench.responsiveness import Heartbeat

EPOCHS = 2
TARGET_P99_MS = 50.0


def throwaway_models() -> Path:
    """A models folder holding the installed digits data, so training saves nothing real."""
    from studio.core.models import models_dir

    source = models_dir() / "vae_digits" / "data"
    if not source.is_dir():
        sys.exit(f"The digits data is not installed in {source.parent}; run scripts/setup.sh")
    target = Path(tempfile.mkdtemp(prefix="studio-bench-models-"))
    shutil.copytree(source, target / "vae_digits" / "data")
    shutil.copytree(models_dir() / "gan_faces", target / "gan_faces")
    os.environ["STUDIO_MODELS_DIR"] = str(target)
    return target


def one_run(registry, executor, request) -> tuple:  # noqa: ANN001
    from studio.core.jobs import JobState
    from studio.core.models import models_dir
    from studio.ui.main_window import MainWindow

    window = MainWindow(registry, executor, models_dir(), project=scratch_project())
    window.show()
    spin(0.3)
    beat = Heartbeat()
    beat.start()
    spin(0.1)
    start = time.perf_counter()
    window.train_panel.watch(window.submit(request, "bench training"))
    (job,) = wait_signal(window.jobs.job_finished, 600)
    end = time.perf_counter()
    if job.state is not JobState.DONE:
        raise RuntimeError(f"training ended {job.state.value}: {job.error}")
    loaded = beat.gaps(start, end)
    idle_start = time.perf_counter()
    spin(loaded.seconds)
    idle = beat.gaps(idle_start, time.perf_counter())
    beat.stop()
    window.close()
    window.deleteLater()
    spin(0.05)
    return loaded, idle, len(job.metrics)


def main() -> None:
    args = parser(__doc__, runs=2).parse_args()
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    isolate_studio_home()
    throwaway_models()
    app = qt_app()
    registry, executor = registry_and_executor()
    trainer = registry.get("vae_digits_train")
    request = trainer.make_request({"latent": 2, "epochs": EPOCHS, "seed": 1})
    runs = [one_run(registry, executor, request) for _ in range(args.runs)]
    loaded = [r[0] for r in runs]
    idle = [r[1] for r in runs]
    p99 = median([g.p99 for g in loaded])
    row = Row(
        benchmark="train_responsiveness",
        result=f"training: p99 {p99:.1f} ms, max {median([g.max for g in loaded]):.0f} ms",
        baseline=f"idle: p99 {median([g.p99 for g in idle]):.1f} ms, "
        f"max {median([g.max for g in idle]):.0f} ms",
        ratio=p99 / median([g.p99 for g in idle]),
        target=f"p99 < {TARGET_P99_MS:g} ms (10 ms beat)",
        met=p99 < TARGET_P99_MS,
        notes=f"{app.platformName()}; VAE z=2, {EPOCHS} epochs x {args.runs} runs (the first "
        f"imports torch); {runs[0][2]} epochs reported each; training "
        f"{spread([g.seconds for g in loaded])} s; loaded p99 {spread([g.p99 for g in loaded])} ms",
    )
    report(row, args)


if __name__ == "__main__":
    main()
