"""Child process of bench/startup.py: start a window, print when it was first painted, exit.

`studio` runs the real `python main.py` path (studio.app.run: logging, QApplication, dark
theme, create_window, show, exec); the only addition is an event filter on the canvas
viewport, installed by wrapping studio.app.create_window. `bare` shows a plain PySide6
QMainWindow of the same size. Either way, the first Paint of the watched widget schedules a
zero-delay timer, which runs once that paint pass has been flushed; it prints one JSON line
with clock readings and exits at once (no teardown).

Imports stay minimal before the measured code so the child costs the same as a real start.
"""

import os
import sys
import time
from typing import Any

ENTERED = time.monotonic()
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _watch(widget: Any, label: str) -> Any:
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    built = time.monotonic()

    def stamp() -> None:
        import json

        record = {
            "mono": time.monotonic(),
            "epoch": time.time(),
            "entered": ENTERED,
            "built": built,
            "torch": "torch" in sys.modules,
            "platform": QApplication.platformName(),
            "subject": label,
        }
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
        os._exit(0)

    class FirstPaint(QObject):
        def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt override
            if event.type() == QEvent.Type.Paint:
                obj.removeEventFilter(self)
                QTimer.singleShot(0, stamp)
            return False

    watcher = FirstPaint(widget)
    widget.installEventFilter(watcher)
    return watcher


def run_studio() -> None:
    import runpy

    sys.path[0] = REPO_ROOT  # what `python main.py` would have

    import studio.app

    original = studio.app.create_window

    def create_window(settings: Any = None) -> Any:
        window = original(settings)
        _watch(window.canvas.viewport(), "studio")
        return window

    studio.app.create_window = create_window
    main_py = os.path.join(REPO_ROOT, "main.py")
    sys.argv = [main_py]
    runpy.run_path(main_py, run_name="__main__")


def run_bare() -> None:
    from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

    app = QApplication(sys.argv)
    window = QMainWindow()
    central = QWidget()
    window.setCentralWidget(central)
    window.resize(1400, 900)
    _watch(central, "bare")
    window.show()
    sys.exit(app.exec())


if __name__ == "__main__":
    {"studio": run_studio, "bare": run_bare}[sys.argv[1]]()
