"""Test set-up: headless Qt, an isolated Studio home, the installed default models."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Under pytest-xdist each test process gets its share of the cores for torch's thread pool
# (and passes it on to the worker processes it starts): two processes of two threads each on
# two cores spend a fifth of the run waiting on one another.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(_share))

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
    from studio.core import cluster

    # Ray runs its workers at niceness 15 and Studio's local ones 5 lower still, below the
    # window. Here the "window" is the other test processes, and workers that yield to them
    # make these tests the run's slowest by far: they run at normal priority instead.
    # (test_cluster.py checks Studio's part with its usual niceness.)
    os.environ["RAY_worker_niceness"] = "0"  # noqa: SIM112 - Ray spells it so
    niceness, cluster.NICENESS = cluster.NICENESS, 0
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR, object_store_memory=300 * 2**20)  # fmt: skip
    yield ray
    cluster.NICENESS = niceness
    ray.shutdown()


RAY_GROUP = "cluster"  # the word every test on the local Ray has in its id


def pytest_collection_modifyitems(items):
    """A test on the local Ray must say "cluster" in its id: `--dist loadgroup` (./test.sh)
    runs all of those in one test process, so Ray starts once in the run."""
    for item in items:
        if "local_ray" in getattr(item, "fixturenames", ()) and RAY_GROUP not in item.nodeid:
            raise pytest.UsageError(
                f"{item.nodeid} uses the local Ray: say {RAY_GROUP!r} in its name"
            )


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup` with the tests on Ray as one group. pytest-xdist 3.8 groups by a
    suffix it writes into node ids, which pytest 9.2 no longer lets it change
    (pytest-dev/pytest-xdist#1386), so the group is told from the id here."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return RAY_GROUP if RAY_GROUP in nodeid else nodeid

    return Scheduling(config, log)
