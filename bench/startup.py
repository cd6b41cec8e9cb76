"""Start-up time: from process start to the first painted main window, Studio vs bare Qt.

Measured: wall time from just before subprocess.Popen (in this parent) until the child has
flushed the first paint of its window (bench/_startup_child.py): the Studio child runs the
real `python main.py` path and watches the canvas viewport; the baseline child shows a bare
PySide6 QMainWindow of the same size. Each child is a fresh interpreter; the two kinds are
interleaved, one warm-up of each is discarded, medians are reported. Also checks that torch
has not been imported by the time of the first paint.

Runs on one Xvfb server started here (QT_QPA_PLATFORM=xcb) when Xvfb is installed, otherwise
on the offscreen platform. STUDIO_HOME and XDG_CONFIG_HOME point at throwaway folders.

Target: Studio's first paint in under 1 s, and at most 1.5x the bare window.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

from bench.common import (
    BENCH_DIR,
    REPO_ROOT,
    Row,
    isolate_studio_home,
    median,
    parser,
    report,
    spread,
)

TARGET_S = 1.0
TARGET_RATIO = 1.5
CHILD = BENCH_DIR / "_startup_child.py"
CHILD_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Start:
    """One child start, in seconds from just before Popen."""

    painted: float  # first paint flushed
    entered: float  # the child script began (interpreter start-up done)
    built: float  # the window was constructed (before show)
    torch: bool
    platform: str


@contextlib.contextmanager
def xvfb_display() -> Iterator[str | None]:
    """Start one Xvfb server for all runs; yields its DISPLAY, or None without Xvfb."""
    binary = shutil.which("Xvfb")
    if binary is None:
        yield None
        return
    read_fd, write_fd = os.pipe()
    command = [binary, "-displayfd", str(write_fd), "-screen", "0", "1920x1080x24"]
    server = subprocess.Popen(
        [*command, "-nolisten", "tcp"], pass_fds=(write_fd,), stderr=subprocess.DEVNULL
    )
    os.close(write_fd)
    try:
        number = b""
        while not number.endswith(b"\n"):
            chunk = os.read(read_fd, 16)
            if not chunk:
                break
            number += chunk
        os.close(read_fd)
        yield f":{number.decode().strip()}" if number.strip() else None
    finally:
        server.terminate()
        server.wait(5)


def start_once(kind: str, env: dict[str, str]) -> Start:
    """Start one child of `kind` ('studio' or 'bare') and time it from just before Popen."""
    linux = sys.platform.startswith("linux")  # CLOCK_MONOTONIC is system-wide there
    before_mono, before_epoch = time.monotonic(), time.time()
    child = subprocess.Popen(
        [sys.executable, str(CHILD), kind],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = child.communicate(timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise RuntimeError(f"{kind} child did not paint within {CHILD_TIMEOUT_S:.0f} s") from None
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} child failed (exit {child.returncode}):\n{err[-2000:]}")
    record = json.loads(lines[-1])
    if linux:
        base, painted = before_mono, record["mono"]
    else:  # the epoch clock is the one both processes surely share
        base, painted = before_epoch, record["epoch"]
        record = {**record, "entered": record["entered"] - record["mono"] + record["epoch"]}
        record["built"] = record["built"] - record["mono"] + record["epoch"]
    return Start(
        painted=painted - base,
        entered=record["entered"] - base,
        built=record["built"] - base,
        torch=bool(record["torch"]),
        platform=str(record["platform"]),
    )


def measure(runs: int, env: dict[str, str]) -> dict[str, list[Start]]:
    """Interleave bare and Studio starts: one discarded warm-up each, then `runs` each."""
    starts: dict[str, list[Start]] = {"bare": [], "studio": []}
    for i in range(runs + 1):
        order = ("bare", "studio") if i % 2 == 0 else ("studio", "bare")
        for kind in order:
            start = start_once(kind, env)
            if i > 0:
                starts[kind].append(start)
    return starts


def main() -> None:
    args = parser(__doc__, runs=7).parse_args()
    isolate_studio_home()
    with xvfb_display() as display:
        env = dict(os.environ)
        # Byte-code as an installed app has it: cached after the (discarded) warm-up, in a
        # throwaway folder so nothing is written beside the sources.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="studio-bench-pyc-")
        platform = "offscreen"
        if display is not None:
            env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
            try:
                start_once("bare", env)
                platform = f"xcb (Xvfb {display})"
            except RuntimeError as exc:
                print(f"xcb under Xvfb failed, using offscreen: {exc}", file=sys.stderr)
        if platform == "offscreen":
            env.pop("DISPLAY", None)
            env["QT_QPA_PLATFORM"] = "offscreen"
        starts = measure(args.runs, env)

    studio = [s.painted for s in starts["studio"]]
    bare = [s.painted for s in starts["bare"]]
    studio_s, bare_s = median(studio), median(bare)
    ratio = studio_s / bare_s
    torch_loaded = any(s.torch for s in starts["studio"])
    entered = median([s.entered for s in starts["studio"]])
    built = median([s.built for s in starts["studio"]])
    met = studio_s < TARGET_S and ratio <= TARGET_RATIO and not torch_loaded
    notes = (
        f"{platform}; {args.runs} starts each, interleaved, after 1 warm-up (fills .pyc); "
        f"studio {spread(studio)} s, bare {spread(bare)} s; studio phases (median): "
        f"interpreter {entered * 1000:.0f} ms, imports+build window "
        f"{(built - entered) * 1000:.0f} ms, "
        f"show+first paint {(studio_s - built) * 1000:.0f} ms; "
        f"torch imported at first paint: {'YES' if torch_loaded else 'no'}"
    )
    row = Row(
        benchmark="startup",
        result=f"studio {studio_s:.3f} s",
        baseline=f"bare QMainWindow {bare_s:.3f} s",
        ratio=ratio,
        target=f"< {TARGET_S:g} s, <= {TARGET_RATIO:g}x bare, no torch",
        met=met,
        notes=notes,
    )
    report(row, args)


if __name__ == "__main__":
    main()
