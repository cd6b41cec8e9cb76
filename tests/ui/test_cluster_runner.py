"""A batch on a local Ray through the window's controller: the same messages as the local
runner, jobs running side by side, a batch cancel that commits nothing more, and the local
queue carrying on beside it."""

from __future__ import annotations

import pytest

from studio.core.cluster import ClusterSpec
from studio.core.devices import CPU
from studio.core.jobs import Executor, JobState
from studio.core.project import Project
from studio.core.project_queue import QueueEntry
from studio.ui.cluster_runner import ClusterRunner
from studio.ui.job_controller import JobController
from studio.ui.job_runner import JobRunner
from tests import fakes

pytestmark = pytest.mark.slow

SPEC = ClusterSpec(workers=2, device="cpu", registry="tests.fakes:registry")


@pytest.fixture
def project(tmp_path):
    opened = Project.open(tmp_path / "p.studio", create=True)
    yield opened
    opened.close()


@pytest.fixture
def controller(qtbot, project):
    gens = fakes.registry()
    made = JobController(JobRunner(Executor(gens.get, lambda: CPU, None)))
    made.set_project(project)
    yield made
    made.shutdown()


def test_a_cluster_batch_beside_the_local_queue_and_its_cancel(qtbot, local_ray, controller,
                                                               project):  # fmt: skip
    slow = fakes.Slow()
    steps = (3, 3, 3000, 3000, 3000, 3000)
    entries = [QueueEntry(slow.make_request({"steps": n, "seed": k}), f"slow {k}", batch="b")
               for k, n in enumerate(steps)]  # fmt: skip
    workers = []
    runner = ClusterRunner(SPEC, fakes.registry().get, len(entries))
    runner.workers_changed.connect(workers.append)
    statuses = controller.submit_many(entries, runner=runner)
    assert len(statuses) == 6 and len(project.queue) == 6
    local = controller.submit(fakes.SolidColour().make_request({"count": 1, "seed": 3}), "here")
    qtbot.waitUntil(lambda: local.state is JobState.DONE, timeout=10_000)  # not behind the batch
    qtbot.waitUntil(lambda: sum(s.state is JobState.DONE for s in statuses) == 2, timeout=60_000)
    qtbot.waitUntil(lambda: [s.state for s in statuses[2:4]] == [JobState.RUNNING] * 2,
                    timeout=10_000)  # fmt: skip
    qtbot.waitUntil(lambda: statuses[2].step > 0 and statuses[3].step > 0, timeout=10_000)
    assert set(controller.waiting_ids()) == {statuses[4].id, statuses[5].id}
    committed = project.count()
    assert committed == 3  # the two short ones and the local job
    controller.cancel_batch("b")
    qtbot.waitUntil(lambda: all(s.state.finished for s in statuses), timeout=10_000)
    assert [s.state for s in statuses[2:]] == [JobState.CANCELLED] * 4
    assert project.count() == committed and len(project.queue) == 0
    assert workers and sum(w.done for w in workers[-1]) == 2
    controller.retire(runner)
    assert controller.runners == [controller.runner] and runner.stopped


def test_a_cluster_that_cannot_be_reached_fails_its_batch_with_the_reason(qtbot, controller,
                                                                          project):  # fmt: skip
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there
    runner = ClusterRunner(ClusterSpec(f"127.0.0.1:{port}"), fakes.registry().get, 2)
    failed = []
    runner.failed.connect(failed.append)
    solid = fakes.SolidColour()
    statuses = controller.submit_many(
        [QueueEntry(solid.make_request({"seed": n}), f"solid {n}", batch="x") for n in (1, 2)],
        runner=runner,
    )
    qtbot.waitUntil(lambda: all(s.state.finished for s in statuses), timeout=10_000)
    assert [s.state for s in statuses] == [JobState.FAILED] * 2
    assert all("Nothing answers at" in s.error for s in statuses)
    assert failed and "ray start --head" in failed[0]
    assert project.count() == 0 and len(project.queue) == 0
    controller.retire(runner)
    assert runner.stopped
