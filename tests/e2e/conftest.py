"""A real main window over a registry of the built-in plugins plus test fakes."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from studio.core.devices import CPU
from studio.core.jobs import Executor
from studio.core.project import Project
from studio.core.registry import Registry
from studio.ui.main_window import MainWindow
from tests.fakes import Failing, Slow, SolidColour
from tests.t2i_tiny import build_pipeline


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny random SD pipeline folder, one per test module."""
    return build_pipeline(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture
def clean_config(monkeypatch, tmp_path):
    """No settings, model folders or Hugging Face cache of the machine's own."""
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-cache"))
    monkeypatch.delenv("STUDIO_MODEL_PATHS", raising=False)


@pytest.fixture
def fakes():
    return {"solid": SolidColour(), "slow": Slow(delay=0.01), "failing": Failing()}


@pytest.fixture
def project(tmp_path):
    return Project.open(tmp_path / "test.studio", create=True)


@pytest.fixture
def window(qtbot, models_dir, fakes, project):
    registry = Registry().discover(use_entry_points=False)
    for generator in fakes.values():
        registry.register(generator)
    executor = Executor(registry.get, lambda: CPU, models_dir)
    main = MainWindow(registry, executor, models_dir, project=project)
    qtbot.addWidget(main, before_close_func=lambda w: w.jobs.shutdown())
    main.show()
    qtbot.waitExposed(main)
    main.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is main)
    yield main
    main.close()
