"""Starts the window. Imports no torch: heavy modules load on the worker thread later."""

from __future__ import annotations

import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

from studio.core.devices import DEVICE_CHOICES
from studio.core.paths import data_dir

WARM_UP_DELAY_MS = 400  # after the first paint, before a user can reach Generate


def setup_logging(folder: Path) -> Path | None:
    """Log to a rotating file (tracebacks go there) and warnings to stderr."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    path = folder / "logs" / "studio.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)  # the terminal gets warnings; the file keeps details
    root.addHandler(console)
    return path


def create_window(settings=None, open_project=False):  # noqa: ANN001, ANN201 - Qt stays lazy
    """Discover plugins and build the main window (the QApplication must exist).

    With `open_project`, reopen the last project (or make a new one) before returning; the
    app itself does that just after the first paint instead, so the window shows at once.
    """
    from studio.core.paths import models_dir
    from studio.core.registry import default_registry
    from studio.ui.main_window import MainWindow

    registry = default_registry()
    preference = os.environ.get("STUDIO_DEVICE", "auto")
    problem = None
    if preference not in DEVICE_CHOICES:
        problem = (
            f"STUDIO_DEVICE={preference!r} is not a device Studio knows "
            f"({', '.join(DEVICE_CHOICES)}); using auto."
        )
        preference = "auto"
    from studio.ui.preferences import threads_setting

    threads = threads_setting(settings)
    executor = make_executor(registry, preference, threads)
    window = MainWindow(registry, executor, models_dir(), settings)
    if open_project:
        open_last_project(window)
    if problem:
        window.banner.show_message(problem, "warning")
    return window


def make_executor(registry, preference: str, threads: int):  # noqa: ANN001, ANN201
    """Generators run in a process of their own (STUDIO_WORKER=thread: on a thread here).

    A worker thread importing torch or diffusers holds the interpreter lock for up to a
    second, stalling the window; a process does not, survives a plugin crash, and frees a
    model's memory by ending."""
    from studio.core import devices
    from studio.core.jobs import Executor
    from studio.core.paths import models_dir
    from studio.core.worker_process import ProcessExecutor

    if os.environ.get("STUDIO_WORKER", "process") == "thread":
        resolve = lambda: devices.resolve(preference)  # noqa: E731
        return Executor(registry.get, resolve, models_dir(), threads)
    return ProcessExecutor(preference, models_dir(), threads)


def open_first_project(window, project: Path | None = None) -> None:  # noqa: ANN001
    """`project` (`studio PROJECT.studio`, a double-click on one; made if it is new), else the
    last project."""
    if project is None:
        open_last_project(window)
    elif not window.session.open(project, create=not project.exists()):
        open_last_project(window)  # the banner says why; work goes on in the last one


def open_last_project(window) -> None:  # noqa: ANN001
    from studio.core.paths import projects_dir
    from studio.core.project import SUFFIX

    window.session.open_startup(projects_dir() / f"Untitled{SUFFIX}")


def run(argv: list[str] | None = None, project: Path | None = None) -> int:
    """Open the window (on `project`, else the last project) and run until it closes."""
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from studio.ui.job_runner import abandoned_workers
    from studio.ui.theme import apply_dark

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # read when huggingface_hub is imported
    log_path = setup_logging(data_dir())
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Studio")
    app.setOrganizationName("studio")
    app.setDesktopFileName("studio")
    apply_dark(app)
    settings = QSettings(str(data_dir() / "settings.ini"), QSettings.Format.IniFormat)
    window = create_window(settings)
    sys.excepthook = window.banner.report_unexpected  # a slot's exception must not end the session
    window.show()
    QTimer.singleShot(0, lambda: open_first_project(window, project))  # after the first paint
    if log_path:
        logging.getLogger(__name__).info("log file: %s", log_path)
    app.aboutToQuit.connect(window.jobs.shutdown)
    QTimer.singleShot(WARM_UP_DELAY_MS, window.runner.warm_up)
    code = app.exec()
    if abandoned_workers():  # a plugin step ignored cancel; Qt would abort on thread teardown
        logging.shutdown()
        os._exit(code)
    return code
