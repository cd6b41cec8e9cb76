"""The job path without a window: submit → store → run → commit → announce, and switching
projects while jobs run."""

from __future__ import annotations

import pytest

from studio.core.devices import CPU
from studio.core.jobs import Executor, JobState
from studio.core.project import Project
from studio.core.project_queue import QueueEntry
from studio.ui.job_controller import JobController
from studio.ui.job_runner import JobRunner
from tests.fakes import Slow, SolidColour


@pytest.fixture
def gens():
    return {"solid": SolidColour(), "slow": Slow(delay=0.01)}


@pytest.fixture
def controller(qtbot, gens, projects):  # after the projects, so it stops before they close
    runner = JobRunner(Executor(gens.__getitem__, lambda: CPU, "/nonexistent"))
    made = JobController(runner)
    yield made
    made.shutdown()


@pytest.fixture
def projects(tmp_path):
    opened = [Project.open(tmp_path / f"{n}.studio", create=True) for n in "ab"]
    yield opened
    for project in opened:
        project.close()


def test_a_submitted_job_is_stored_then_committed_and_unstored(qtbot, controller, gens, projects):
    a, _ = projects
    controller.set_project(a)
    with qtbot.waitSignal(controller.job_finished, timeout=10_000) as done:
        status = controller.submit(gens["slow"].make_request({"steps": 30}), "slow one")
        assert [s.entry.title for s in a.queue.entries()] == ["slow one"]  # stored at once
    assert done.args[0] is status and status.state is JobState.DONE
    assert len(status.item_ids) == 1 and a.count() == 1 and a.queue.entries() == []


def test_a_job_lands_in_the_project_it_was_submitted_to(qtbot, controller, gens, projects):
    a, b = projects
    controller.set_project(a)
    (made,) = a.add_results(gens["solid"].run(gens["solid"].make_request({"count": 1}), _Ctx()))
    b.add_results(gens["solid"].run(gens["solid"].make_request({"count": 1}), _Ctx()))
    status = controller.submit(gens["slow"].make_request({"steps": 40}), "re-run", parent=made)
    qtbot.waitUntil(lambda: status.state is JobState.RUNNING, timeout=5_000)
    controller.release(a)  # the user opens b meanwhile
    controller.set_project(b)
    qtbot.waitUntil(lambda: status.state.finished, timeout=10_000)
    assert status.state is JobState.DONE and status.project is a
    assert a.closed  # kept open for its job, closed once it committed
    reopened = Project.open(a.path)
    try:
        assert reopened.count() == 2 and reopened.rows(status.item_ids)[0].parent == made
    finally:
        reopened.close()
    assert b.count() == 1 and all(row.parent is None for row in b.items())


def test_waiting_jobs_of_a_project_left_stay_stored_and_are_offered_on_return(
    qtbot, controller, gens, projects
):
    a, b = projects
    controller.set_project(a)
    running = controller.submit(gens["slow"].make_request({"steps": 40}))
    waiting = [
        controller.submit(gens["solid"].make_request({"seed": s, "count": 1})) for s in (1, 2)
    ]
    qtbot.waitUntil(lambda: running.state is JobState.RUNNING, timeout=5_000)
    with qtbot.waitSignal(controller.message) as said:
        controller.release(a)
    assert "2 waiting job(s) stay in 'a'" in said.args[0]
    assert all(s.stopped for s in waiting)
    controller.set_project(b)
    qtbot.waitUntil(lambda: running.state.finished, timeout=10_000)
    again = Project.open(a.path)
    with qtbot.waitSignal(controller.stored_found) as found:
        controller.set_project(again)
    assert found.args[1] == 2 and controller.paused  # offered, not started
    controller.resume()
    qtbot.waitUntil(lambda: len(again.queue) == 0, timeout=10_000)
    assert again.count() == 3  # the slow job's result and the two that waited
    again.close()


def test_cancelling_the_running_job_says_so_at_once(qtbot, controller, gens, projects):
    controller.set_project(projects[0])
    status = controller.submit(gens["slow"].make_request({"steps": 10_000}))
    qtbot.waitUntil(lambda: status.state is JobState.RUNNING, timeout=5_000)
    changes = []
    controller.job_changed.connect(lambda s, _p: changes.append(s.cancelling))
    controller.cancel(status.id)
    assert changes[:1] == [True] and status.describe().startswith("Cancelling")
    qtbot.waitUntil(lambda: status.state is JobState.CANCELLED, timeout=5_000)
    assert not status.cancelling and projects[0].queue.entries() == []


def test_a_batch_is_stored_in_one_go_and_queued_a_few_at_a_time(qtbot, controller, gens, projects):
    a = projects[0]
    controller.set_project(a)
    entries = [
        QueueEntry(gens["solid"].make_request({"seed": s, "count": 1}), batch="b")
        for s in range(20)
    ]
    controller.pause()
    first = controller.submit_many(entries)
    assert 0 < len(first) < 20 and len(a.queue) == 20
    controller.resume()
    qtbot.waitUntil(lambda: a.count() == 20, timeout=20_000)
    assert len(a.queue) == 0


def test_cancelling_a_batch_unstores_what_had_not_run(qtbot, controller, gens, projects):
    a = projects[0]
    controller.set_project(a)
    entries = [QueueEntry(gens["slow"].make_request({"steps": 50}), batch="b") for _ in range(20)]
    controller.submit_many(entries)
    qtbot.waitUntil(lambda: controller.runner.running is not None, timeout=5_000)
    controller.cancel_batch("b")
    qtbot.waitUntil(lambda: not controller.runner.busy, timeout=10_000)
    assert len(a.queue) == 0 and a.count() <= 1


def test_a_read_only_project_refuses_with_a_message(qtbot, controller, gens, projects):
    viewer = Project.open(projects[0].path, read_only=True)
    controller.set_project(viewer)
    with qtbot.waitSignal(controller.message) as said:
        assert controller.submit(gens["solid"].make_request({})) is None
    assert "read-only" in said.args[0]
    viewer.close()


class _Ctx:
    def progress(self, *args):
        pass
