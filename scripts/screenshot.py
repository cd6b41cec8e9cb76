"""Drives the real window like a user and saves a screenshot (run under Xvfb for the README).

xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshot.py OUT.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from studio.app import create_window
from studio.ui.theme import apply_dark


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshot.png")
    app = QApplication(sys.argv)
    apply_dark(app)
    window = create_window(open_project=True)
    window.resize(1560, 960)
    window.show()
    panel = window.prompt_panel
    panel.select("gan_faces")
    form = panel.form()
    pending = [
        {"mode": "sample", "count": 16, "seed": 7, "truncation": 0.8, "size": 128},
        {"mode": "interpolate", "seed": 7, "end_seed": 12, "frames": 8, "size": 128},
    ]

    def next_job() -> None:
        if pending:
            form.set_values(pending.pop(0))
            panel.request_generate()
        else:
            QTimer.singleShot(300, shoot)

    def shoot() -> None:
        window.canvas.fit_all()
        app.processEvents()
        screen = app.primaryScreen()
        if app.platformName() == "xcb":  # the real pixels on screen, menus and all
            picture = screen.grabWindow(window.winId())
        else:
            picture = window.grab()
        picture.save(str(out))
        print(f"saved {out}")
        window.close()

    window.runner.job_finished.connect(lambda _job: QTimer.singleShot(100, next_job))
    QTimer.singleShot(500, next_job)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
