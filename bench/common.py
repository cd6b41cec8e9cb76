"""Shared helpers for the benchmarks: statistics, the results table, an isolated Studio home
and a few Qt waiting helpers.

Every benchmark prints one markdown table row and appends it (with a timestamp) to
bench/results.md. Each row compares a figure against a baseline measured in the same run,
because the machines these run on are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from studio.core.generator import Request
    from studio.core.jobs import Executor
    from studio.core.registry import Registry

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_PATH = BENCH_DIR / "results.md"

COLUMNS = ("when", "benchmark", "result", "baseline (same run)", "ratio", "target", "met", "notes")
RESULTS_INTRO = """# Benchmark results

Rows are appended by `bench/*.py`, one per run (`.venv/bin/python -m bench.NAME`).
Each figure is the median of several repeats; the baseline is measured in the same run,
interleaved with the subject, so the ratio stays meaningful on a noisy machine.

| column | meaning |
| --- | --- |
| when | local time the row was written |
| benchmark | the script (bench/NAME.py) |
| result | what was measured for Studio (median of the repeats) |
| baseline (same run) | the same measurement for the baseline |
| ratio | result / baseline (for throughput: job path / direct call) |
| target | the goal this benchmark checks |
| met | yes when the target was met |
| notes | platform, repeats and supporting figures |

"""


# ---------------------------------------------------------------- statistics


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    return statistics.median(values)


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile (0..100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of an empty sequence")
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Sequence[float]) -> str:
    """'min..max' of the repeats, to show how noisy a median is."""
    return f"{min(values):.3g}..{max(values):.3g}"


# ---------------------------------------------------------------- results table


@dataclass(frozen=True)
class Row:
    """One line of bench/results.md (the timestamp is added when it is written)."""

    benchmark: str
    result: str
    baseline: str
    ratio: float
    target: str
    met: bool
    notes: str = ""

    def cells(self, when: str) -> list[str]:
        return [
            when,
            self.benchmark,
            self.result,
            self.baseline,
            f"{self.ratio:.2f}x",
            self.target,
            "yes" if self.met else "**no**",
            self.notes,
        ]


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"


def header_lines() -> list[str]:
    return [_line(COLUMNS), _line(["---"] * len(COLUMNS))]


def parser(description: str | None, runs: int) -> argparse.ArgumentParser:
    """The command line every benchmark shares: --header, --runs and --no-record."""
    first = (description or "").strip().splitlines()
    args = argparse.ArgumentParser(description=first[0] if first else None)
    args.add_argument("--header", action="store_true", help="print the table header too")
    args.add_argument("--runs", type=int, default=runs, help=f"repeats (default {runs})")
    args.add_argument(
        "--no-record", action="store_true", help=f"do not append to {RESULTS_PATH.name}"
    )
    return args


def report(row: Row, args: argparse.Namespace, path: Path = RESULTS_PATH) -> str:
    """Print the row (after the header if asked) and append it to the results file."""
    line = _line(row.cells(time.strftime("%Y-%m-%d %H:%M:%S")))
    if args.header:
        print("\n".join(header_lines()))
    print(line, flush=True)
    if not args.no_record:
        if not path.exists():
            path.write_text(RESULTS_INTRO + "\n".join(header_lines()) + "\n", encoding="utf-8")
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    return line


# ---------------------------------------------------------------- environment


def isolate_studio_home() -> dict[str, str]:
    """Point Studio's settings and logs at a throwaway folder, keeping the installed models.

    Sets (and returns) the variables in os.environ, so child processes inherit them too.
    """
    from studio.core import models

    values = {
        "STUDIO_MODELS_DIR": str(models.models_dir()),  # resolved before STUDIO_HOME moves
        "STUDIO_HOME": tempfile.mkdtemp(prefix="studio-bench-home-"),
        "XDG_CONFIG_HOME": tempfile.mkdtemp(prefix="studio-bench-config-"),  # QSettings
    }
    os.environ.update(values)
    return values


def gan_weights_or_exit() -> Path:
    """The models folder holding the GAN weights; exits with a clear message if missing."""
    from plugins.gan_faces import install
    from studio.core.models import models_dir

    folder = models_dir()
    if not install.installed(folder):
        sys.exit(f"GAN weights are not installed in {folder}; run scripts/setup.sh first")
    return folder


def registry_and_executor() -> tuple[Registry, Executor]:
    """The real built-in registry and an Executor on the device the app would pick."""
    from studio.core import devices
    from studio.core.jobs import Executor
    from studio.core.registry import Registry

    registry = Registry().discover(use_entry_points=False)
    preference = os.environ.get("STUDIO_DEVICE", "auto")
    executor = Executor(registry.get, lambda: devices.resolve(preference), gan_weights_or_exit())
    return registry, executor


def gan_request(registry: Registry, count: int, seed: int = 1, size: int = 64) -> Request:
    """A validated GAN faces request: `count` faces from `seed` at `size` px."""
    generator = registry.get("gan_faces")
    return generator.make_request({"mode": "sample", "count": count, "seed": seed, "size": size})


# ---------------------------------------------------------------- Qt


_QUIET = ("propagateSizeHints",)  # the offscreen platform's harmless complaint
_handlers: list[Any] = []


def scratch_project() -> Any:
    """A new project in a throw-away folder (benchmarks keep nothing)."""
    import tempfile

    from studio.core.project import Project

    folder = Path(tempfile.mkdtemp(prefix="studio-bench-project-"))
    return Project.open(folder / "bench.studio", create=True)


def qt_app(platform: str = "offscreen") -> Any:
    """The QApplication, created on the given platform unless QT_QPA_PLATFORM says otherwise."""
    os.environ.setdefault("QT_QPA_PLATFORM", platform)
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    def handler(_mode: Any, _context: Any, message: str) -> None:
        if not any(quiet in message for quiet in _QUIET):
            sys.stderr.write(message + "\n")

    _handlers.append(handler)  # Qt keeps no reference of its own
    qInstallMessageHandler(handler)
    return QApplication.instance() or QApplication([sys.argv[0]])


def wait_signal(signal: SignalInstance, timeout_s: float) -> tuple[Any, ...]:
    """Run the event loop until `signal` fires; returns its arguments. Raises on timeout."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got: list[tuple[Any, ...]] = []

    def fired(*args: Any) -> None:
        got.append(args)
        loop.quit()

    signal.connect(fired)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    try:
        loop.exec()
    finally:
        signal.disconnect(fired)
    if not got:
        raise TimeoutError(f"no signal within {timeout_s:.0f} s")
    return got[0]


def spin(seconds: float, until: Callable[[], bool] | None = None) -> None:
    """Run the event loop (sleeping, not busy) for `seconds`, or until `until()` is true."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    poll = QTimer()
    if until is not None:
        poll.timeout.connect(lambda: until() and loop.quit())
        poll.start(10)
    loop.exec()
    poll.stop()
