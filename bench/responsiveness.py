"""UI responsiveness while the worker generates: heartbeat gaps on the main thread.

Measured: a 10 ms QTimer heartbeat on the main thread of a real MainWindow (offscreen
platform) while it generates 512 GAN faces through its real JobRunner (Executor over the
built-in registry), from submit until the results are shown: the window's job_finished
handler has put 512 items on the canvas and the gallery, and both have been painted. The
gaps between beats (plus submit->first beat and last beat->shown) give the max and p99 gap.
Baseline: the same heartbeat in the same window with nothing running, for as long as the
previous loaded period, interleaved with the loaded runs. Each run uses a fresh window over
one shared Executor, so every canvas starts empty; the first (cold) job, which also imports
torch and loads the weights on the worker, is reported separately in the notes.

Target: p99 heartbeat gap under 50 ms while generating.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/responsiveness.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    Row,
    gan_request,
    isolate_studio_home,
    median,
    parser,
    percentile,
    qt_app,
    registry_and_executor,
    report,
    spin,
    spread,
    wait_signal,
)

COUNT = 512
HEARTBEAT_MS = 10
TARGET_P99_MS = 50.0
JOB_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Gaps:
    """Heartbeat gaps over one period, in milliseconds."""

    p99: float
    max: float
    beats: int
    seconds: float
    finish_to_shown: float = 0.0  # worker done -> results painted (ms); loaded runs only


class Heartbeat:
    """A precise 10 ms timer on the main thread that records when each beat ran."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.beats: list[float] = []
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(HEARTBEAT_MS)
        self._timer.timeout.connect(lambda: self.beats.append(time.perf_counter()))

    def start(self) -> None:
        self.beats.clear()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def gaps(self, start: float, end: float, finish_to_shown: float = 0.0) -> Gaps:
        times = [start, *(t for t in self.beats if start < t < end), end]
        gaps = [(b - a) * 1000.0 for a, b in zip(times, times[1:], strict=False)]
        return Gaps(percentile(gaps, 99), max(gaps), len(times) - 2, end - start, finish_to_shown)


def wait_painted(widgets: list[Any], timeout_s: float = 5.0) -> None:
    """Run the event loop until each widget has been painted once and that pass is done."""
    from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer

    loop = QEventLoop()
    pending = set(range(len(widgets)))

    class Watcher(QObject):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

        def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt override
            if event.type() == QEvent.Type.Paint and self.index in pending:
                pending.discard(self.index)
                if not pending:
                    QTimer.singleShot(0, loop.quit)  # runs once the paint pass is flushed
            return False

    watchers = [Watcher(i) for i in range(len(widgets))]
    for widget, watcher in zip(widgets, watchers, strict=True):
        widget.installEventFilter(watcher)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    for widget, watcher in zip(widgets, watchers, strict=True):
        widget.removeEventFilter(watcher)
    if pending:
        raise TimeoutError(f"{len(pending)} widget(s) not painted within {timeout_s:.0f} s")


def one_run(registry: Any, executor: Any, request: Any, idle_s: float) -> tuple[Gaps, Gaps | None]:
    """In a fresh window: `idle_s` of idle heartbeat (None if 0), then one loaded period."""
    from studio.core.jobs import JobState
    from studio.core.models import models_dir
    from studio.ui.main_window import MainWindow

    window = MainWindow(registry, executor, models_dir())
    window.show()
    spin(0.3)  # first paint, layout settled
    beat = Heartbeat()
    beat.start()
    spin(0.1)
    idle = None
    if idle_s > 0:
        start = time.perf_counter()
        spin(idle_s)
        idle = beat.gaps(start, time.perf_counter())
    start = time.perf_counter()
    window.submit(request, "bench")
    (job,) = wait_signal(window.runner.job_finished, JOB_TIMEOUT_S)  # after the window's slot
    if job.state is not JobState.DONE or len(job.results) != request.params["count"]:
        raise RuntimeError(f"job ended {job.state.value}: {job.error}")
    wait_painted([window.canvas.viewport(), window.gallery.view.viewport()])
    end = time.perf_counter()
    finish_to_shown = (time.time() - job.finished) * 1000.0
    spin(0.05)
    beat.stop()
    loaded = beat.gaps(start, end, finish_to_shown)
    window.close()
    window.deleteLater()
    spin(0.05)
    return loaded, idle


def main() -> None:
    args = parser(__doc__, runs=5).parse_args()
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    isolate_studio_home()
    app = qt_app()
    from studio.ui.theme import apply_dark

    apply_dark(app)
    registry, executor = registry_and_executor()
    request = gan_request(registry, COUNT)

    cold, _ = one_run(registry, executor, request, idle_s=0)  # imports torch, loads weights
    loaded: list[Gaps] = []
    idle: list[Gaps] = []
    idle_s = 1.5
    for _ in range(args.runs):
        run, quiet = one_run(registry, executor, request, idle_s)
        loaded.append(run)
        if quiet is not None:
            idle.append(quiet)
        idle_s = run.seconds  # the next baseline lasts as long as this loaded period

    p99 = median([g.p99 for g in loaded])
    worst = median([g.max for g in loaded])
    idle_p99 = median([g.p99 for g in idle])
    idle_max = median([g.max for g in idle])
    notes = (
        f"{app.platformName()}; {COUNT} faces at 64 px, {args.runs} warm runs, fresh window each; "
        f"loaded p99 {spread([g.p99 for g in loaded])} ms, period "
        f"{median([g.seconds for g in loaded]):.2f} s; "
        f"worker done -> shown {median([g.finish_to_shown for g in loaded]):.0f} ms; "
        f"cold first job (torch import + load): p99 {cold.p99:.0f} ms, max {cold.max:.0f} ms "
        f"over {cold.seconds:.1f} s"
    )
    row = Row(
        benchmark="responsiveness",
        result=f"generating: p99 {p99:.1f} ms, max {worst:.0f} ms",
        baseline=f"idle: p99 {idle_p99:.1f} ms, max {idle_max:.0f} ms",
        ratio=p99 / idle_p99,
        target=f"p99 < {TARGET_P99_MS:g} ms (10 ms beat)",
        met=p99 < TARGET_P99_MS,
        notes=notes,
    )
    report(row, args)


if __name__ == "__main__":
    main()
