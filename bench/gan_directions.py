"""GAN faces' Directions panel: from a slider move to the new face on screen, live.

The real panel (studio/ui/directions_panel.py, offscreen) over the real walk of the installed
DigiFace generator (64 px): --runs slider moves, each timed from setValue on the window's
thread to the new pixmap set there (the walk renders on the panel's own thread). Baseline in
the same run, interleaved: one bare generator forward of one latent (batch 1, one torch
thread as the walk uses, no UI). Also
recorded: the walk's render alone, and finding the directions (PCA of 4,000 first-layer
activations and the regression back to z) from scratch.

Target: every update (p95 and median) under 30 ms.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import (
    Row,
    gan_weights_or_exit,
    isolate_studio_home,
    median,
    parser,
    percentile,
    qt_app,
    report,
    spin,
    spread,
)

TARGET_MS = 30.0


def main() -> int:
    args = parser(__doc__, runs=60)
    a = args.parse_args()
    isolate_studio_home()
    import torch

    from plugins.gan_faces import directions, install, store
    from plugins.gan_faces.directions import Walk
    from plugins.gan_faces.generator import GanFaces
    from studio.core.devices import torch_threads
    from studio.ui.directions_panel import STEPS_PER_UNIT, DirectionsPanel

    home = Path(tempfile.mkdtemp(prefix="studio-bench-dirs-"))
    shutil.copytree(install.model_folder(gan_weights_or_exit()), install.model_folder(home))
    model = store.resolve(None, home)
    net = store.load_network(model)
    started = time.perf_counter()
    directions.compute(net)
    pca_s = time.perf_counter() - started

    app = qt_app()
    walk = Walk(home, GanFaces())
    panel = DirectionsPanel(lambda: walk)
    panel.resize(320, 640)
    panel.show()
    panel.walk_from({"model": store.DEFAULT, "seed": 7, "truncation": 0.8})
    spin(60, until=lambda: panel.ready and not panel.face.pixmap().isNull())
    shown: list[float] = []
    panel.face_shown.connect(shown.append)
    z = torch.randn(1, 100, 1, 1)
    ours, bare = [], []

    def move(i: int) -> None:
        before = len(shown)
        panel.sliders[i % 10].setValue(((i * 7) % 9 - 4) * STEPS_PER_UNIT // 2 or STEPS_PER_UNIT)
        spin(5, until=lambda: len(shown) > before)
        ours.append(shown[-1])

    def forward() -> None:
        begin = time.perf_counter()
        with torch.inference_mode(), torch_threads(1):  # as the walk renders
            net(z)
        bare.append((time.perf_counter() - begin) * 1000.0)

    move(0), forward()  # warm-up
    ours.clear(), bare.clear()
    for i in range(a.runs):
        for call in (
            (lambda i=i: move(i), forward) if i % 2 == 0 else (forward, lambda i=i: move(i))
        ):
            call()
    renders = panel.render_ms[-a.runs :]
    panel.shutdown()
    app.processEvents()
    p95, mid = percentile(ours, 95), median(ours)
    notes = (
        f"offscreen; DigiFace DCGAN 64 px (nz 100, ngf 64), face shown at 256 px; {a.runs} "
        f"slider moves interleaved with bare forwards, after 1 warm-up; slider -> face on "
        f"screen median {mid:.1f} ms, p95 {p95:.1f} ms, max {max(ours):.1f} ms "
        f"({spread(ours)}); the walk's render alone (panel thread) median {median(renders):.1f}"
        f" ms; bare forward {spread(bare)} ms; finding 10 directions from scratch (PCA of 4,000 "
        f"first-layer activations + regression) {pca_s:.1f} s; load average "
        f"{'/'.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    row = Row(
        benchmark="gan_directions (slider -> face)",
        result=f"p95 {p95:.1f} ms (median {mid:.1f})",
        baseline=f"bare generator forward, batch 1, 1 thread: median {median(bare):.1f} ms",
        ratio=mid / median(bare),
        target=f"< {TARGET_MS:.0f} ms per update (p95)",
        met=p95 < TARGET_MS,
        notes=notes,
    )
    report(row, a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
