"""Test set-up: headless Qt, an isolated Studio home, the installed default models."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from studio.core import models  # noqa: E402

# The real default models (installed by set-up) stay where they are; everything else a test
# writes (logs, settings, plugins) goes to a throwaway home.
os.environ.setdefault("STUDIO_MODELS_DIR", str(models.models_dir()))
os.environ["STUDIO_HOME"] = tempfile.mkdtemp(prefix="studio-test-home-")
MODELS_DIR = Path(os.environ["STUDIO_MODELS_DIR"])


@pytest.fixture(autouse=True)
def _stop_worker_threads():
    """A failing test must not leave a worker running: Qt aborts the whole run at exit."""
    yield
    if "studio.ui.job_runner" in sys.modules:
        sys.modules["studio.ui.job_runner"].shutdown_all()


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The folder holding the installed default models; fails loudly if set-up was skipped."""
    from plugins.gan_faces import install

    if not install.installed(MODELS_DIR):
        pytest.fail(
            f"The GAN face weights are not installed in {MODELS_DIR}. "
            "Run the set-up (scripts/setup.sh) or `studio models install-defaults` first."
        )
    return MODELS_DIR


@pytest.fixture(scope="session")
def local_ray():
    """One Ray on this machine for the whole run (it takes seconds to start): 2 CPUs, no
    dashboard. Studio's cluster code finds it started and uses it as its "local" cluster."""
    import logging

    import ray

    root = str(Path(__file__).resolve().parent.parent)  # workers import tests.fakes too
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH", "")) if p
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR, object_store_memory=300 * 2**20)  # fmt: skip
    yield ray
    ray.shutdown()
