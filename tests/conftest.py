"""Test set-up: headless Qt, an isolated Studio home, the installed default models."""

from __future__ import annotations

import gc
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


def _freeze_what_is_alive() -> None:
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session):
    """What is alive once the tests are collected (torch, Qt, the test modules) lives for the
    whole run: frozen, Python's garbage collector no longer walks it at each full collection.
    Unfrozen, those walks took 4 % of the run's time."""
    _freeze_what_is_alive()


@pytest.fixture(autouse=True)
def _freeze_big_imports():
    """The same for a library a test imports (diffusers: about 280,000 objects)."""
    before = len(sys.modules)
    yield
    if len(sys.modules) - before > 200:
        _freeze_what_is_alive()


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


# `--dist loadgroup` (./test.sh) runs each of these groups in one test process, told from
# the test's id: Ray starts once in the run, and diffusers (about 8 s to import) is imported
# by one process only.
RAY_GROUP = "cluster"  # the word every test on the local Ray has in its id
DIFFUSERS_GROUP = ("t2i", "text_to_image")  # one of these words: a test that imports diffusers


def group_of(nodeid: str) -> str:
    if RAY_GROUP in nodeid:
        return RAY_GROUP
    if any(word in nodeid for word in DIFFUSERS_GROUP):
        return DIFFUSERS_GROUP[0]
    return nodeid


def pytest_collection_modifyitems(items):
    """A test on the local Ray must say "cluster" in its id."""
    for item in items:
        if "local_ray" in getattr(item, "fixturenames", ()) and RAY_GROUP not in item.nodeid:
            raise pytest.UsageError(
                f"{item.nodeid} uses the local Ray: say {RAY_GROUP!r} in its name"
            )


@pytest.fixture(autouse=True)
def _diffusers_in_its_group(request):
    """A test outside the diffusers group that imports diffusers would make a second test
    process import it too: it fails, and says how to put it in the group."""
    grouped = getattr(request.config, "workerinput", {}).get("grouped", False)
    before = "diffusers" in sys.modules
    yield
    nodeid = request.node.nodeid
    if grouped and not before and "diffusers" in sys.modules and group_of(nodeid) == nodeid:
        pytest.fail(f"{nodeid} imports diffusers: say {DIFFUSERS_GROUP[0]!r} in its name")


def pytest_configure_node(node):
    """Tells each test process whether the groups are in force."""
    node.workerinput["grouped"] = node.config.getvalue("dist") == "loadgroup"


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup` with the groups above. pytest-xdist 3.8 groups by a suffix it
    writes into node ids, which pytest 9.2 no longer lets it change
    (pytest-dev/pytest-xdist#1386), so the group is told from the id here. The biggest
    groups go out first (xdist orders scopes by their number of tests), to different
    processes."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return Scheduling(config, log)
