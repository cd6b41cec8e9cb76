"""The worker: order, queueing while running, removal, cancel, failure, commit, messages."""

from __future__ import annotations

import threading

import pytest

from studio.core.devices import CPU
from studio.core.jobs import Executor, Job, JobFinished, JobState
from studio.core.project import Project
from studio.ui.job_runner import JobRunner
from tests.fakes import Failing, Slow, SolidColour


@pytest.fixture
def gens():
    return {"solid": SolidColour(), "slow": Slow(delay=0.005), "failing": Failing()}


@pytest.fixture
def runner(qtbot, gens):
    runner = JobRunner(Executor(gens.__getitem__, lambda: CPU, "/nonexistent"))
    yield runner
    runner.shutdown()


@pytest.fixture
def project(tmp_path):
    opened = Project.open(tmp_path / "r.studio", create=True)
    yield opened
    opened.close()


def collect(runner):
    events = []
    runner.job_started.connect(lambda m: events.append(("start", m.job_id)))
    runner.job_finished.connect(lambda m: events.append((m.state.value, m.job_id)))
    return events


def submit(runner, generator, project=None, **values):
    return runner.submit(Job(generator.make_request(values), project=project))


def finished(events, job):
    return any(e[1] == job.id and e[0] != "start" for e in events)


def test_jobs_run_one_at_a_time_in_order(qtbot, runner, gens):
    events = collect(runner)
    jobs = [submit(runner, gens["solid"], seed=i) for i in range(4)]
    qtbot.waitUntil(lambda: len(events) == 8, timeout=10_000)
    expected = [e for j in jobs for e in (("start", j.id), ("done", j.id))]
    assert events == expected
    assert [r.params["seed"] for r in gens["solid"].runs] == [0, 1, 2, 3]


def test_only_frozen_messages_reach_the_main_thread(qtbot, runner, gens):
    seen = []
    runner.job_finished.connect(seen.append)
    runner.progress_changed.connect(seen.append)
    submit(runner, gens["slow"], steps=3)
    qtbot.waitUntil(lambda: any(isinstance(m, JobFinished) for m in seen), timeout=10_000)
    for message in seen:
        with pytest.raises(AttributeError):  # frozen dataclasses
            message.job_id = 0
        assert not isinstance(message, Job)


def test_new_jobs_queue_while_one_runs_and_queued_ones_can_be_removed(qtbot, runner, gens):
    events = collect(runner)
    slow = submit(runner, gens["slow"], steps=10_000)
    assert gens["slow"].started.wait(5)
    queued = submit(runner, gens["solid"], seed=1)
    kept = submit(runner, gens["solid"], seed=2)
    with qtbot.waitSignal(runner.job_finished) as removed:
        assert runner.cancel(queued.id)
    assert removed.args[0].job_id == queued.id and removed.args[0].state is JobState.CANCELLED
    runner.cancel(slow.id)
    qtbot.waitUntil(lambda: finished(events, kept), timeout=10_000)
    assert slow.state is JobState.CANCELLED and slow.results == []
    assert [r.params["seed"] for r in gens["solid"].runs] == [2]


def test_cancel_stops_the_running_job_at_a_step_boundary(qtbot, runner, gens):
    job = submit(runner, gens["slow"], steps=10_000)
    qtbot.waitUntil(lambda: job.step > 3, timeout=10_000)
    with qtbot.waitSignal(runner.job_finished, timeout=5_000) as done:
        assert runner.cancel_running()
    assert done.args[0].state is JobState.CANCELLED and not done.args[0].stopped
    assert gens["slow"].steps_done < 10_000


def test_a_failing_generator_fails_its_job_and_the_runner_carries_on(qtbot, runner, gens):
    events = collect(runner)
    failed = submit(runner, gens["failing"])
    after = submit(runner, gens["solid"], seed=3)
    qtbot.waitUntil(lambda: finished(events, after), timeout=10_000)
    assert failed.state is JobState.FAILED and "the model exploded" in failed.error


def test_progress_reaches_the_main_thread_throttled(qtbot, runner, gens):
    seen = []
    runner.progress_changed.connect(lambda m: seen.append((m.step, m.total)))
    submit(runner, gens["slow"], steps=20)
    qtbot.waitUntil(lambda: bool(seen) and seen[-1] == (20, 20), timeout=10_000)
    assert len(seen) < 20  # throttled, yet the last step always arrives


def test_pause_lets_the_running_job_finish_and_starts_no_other(qtbot, runner, gens):
    events = collect(runner)
    first = submit(runner, gens["slow"], steps=20)
    assert gens["slow"].started.wait(5)
    runner.pause()
    second = submit(runner, gens["solid"], seed=1)
    qtbot.waitUntil(lambda: finished(events, first), timeout=10_000)
    qtbot.wait(100)
    assert second.state is JobState.QUEUED and runner.paused
    runner.resume()
    qtbot.waitUntil(lambda: finished(events, second), timeout=10_000)


def test_move_changes_the_order_of_waiting_jobs(qtbot, runner, gens):
    events = collect(runner)
    submit(runner, gens["slow"], steps=30)
    assert gens["slow"].started.wait(5)
    a, b, c = (submit(runner, gens["solid"], seed=s) for s in (1, 2, 3))
    assert runner.move(c.id, 0)
    qtbot.waitUntil(lambda: all(finished(events, j) for j in (a, b, c)), timeout=10_000)
    assert [r.params["seed"] for r in gens["solid"].runs] == [3, 1, 2]


def test_shutdown_stops_jobs_and_leaves_them_stored(qtbot, gens, project):
    from studio.core.project_queue import QueueEntry

    runner = JobRunner(Executor(gens.__getitem__, lambda: CPU, "/nonexistent"))
    requests = [gens["slow"].make_request({"steps": 10_000}), gens["solid"].make_request({})]
    ids = project.queue.add([QueueEntry(r) for r in requests])
    running, waiting = (
        runner.submit(Job(r, project=project, queue_id=i))
        for r, i in zip(requests, ids, strict=True)
    )
    assert gens["slow"].started.wait(5)
    runner.shutdown()
    assert waiting.state is JobState.CANCELLED and running.state is JobState.CANCELLED
    assert runner.stopped
    assert [s.id for s in project.queue.entries()] == ids  # both stay, to resume


def test_the_runner_is_idle_again_after_a_broken_plugin(qtbot, runner, gens):
    events = collect(runner)
    gens["solid"].run = lambda request, ctx: "not a list"
    job = submit(runner, gens["solid"])
    qtbot.waitUntil(lambda: finished(events, job), timeout=10_000)
    assert job.state is JobState.FAILED
    qtbot.waitUntil(lambda: not runner.busy)
    again = submit(runner, gens["slow"], steps=2)
    qtbot.waitUntil(lambda: finished(events, again), timeout=10_000)


def test_shutdown_survives_a_step_that_ignores_cancel(qtbot, gens):
    import time as clock

    from studio.ui.job_runner import abandoned_workers

    def stubborn(request, ctx):
        clock.sleep(1.0)  # never calls check_cancelled
        return []

    gens["solid"].run = stubborn
    runner = JobRunner(Executor(gens.__getitem__, lambda: CPU, "/nonexistent"))
    job = submit(runner, gens["solid"])
    qtbot.waitUntil(lambda: runner.running is job, timeout=5_000)
    runner.shutdown(timeout_ms=50)
    assert abandoned_workers()  # left to end on its own rather than blocking the exit
    qtbot.waitUntil(lambda: not abandoned_workers(), timeout=5_000)


def test_warm_up_resolves_the_device_off_the_main_thread(qtbot, gens, request):
    threads = []

    def device():
        threads.append(threading.current_thread())
        return CPU

    runner = JobRunner(Executor(gens.__getitem__, device, "/nonexistent"))
    request.addfinalizer(runner.shutdown)  # also when an assertion fails
    runner.warm_up()
    qtbot.waitUntil(lambda: bool(threads), timeout=5_000)
    assert threads[0] is not threading.main_thread()
    events = collect(runner)
    job = submit(runner, gens["solid"])
    qtbot.waitUntil(lambda: finished(events, job), timeout=5_000)
    assert len(threads) == 1  # resolved once, reused by the job


def test_results_are_committed_on_the_worker_into_the_jobs_project(qtbot, runner, gens, project):
    seen = []
    project.events.items_added.connect(lambda _added: seen.append(threading.current_thread()))
    with qtbot.waitSignal(runner.job_finished, timeout=10_000) as done:
        submit(runner, gens["solid"], project=project, count=2)
    assert len(done.args[0].item_ids) == 2 and project.count() == 2
    assert seen and seen[0] is not threading.main_thread()


def test_a_failed_commit_fails_the_job_with_its_reason(qtbot, runner, gens, project):
    project._db.execute(
        "CREATE TRIGGER full BEFORE INSERT ON images "
        "BEGIN SELECT RAISE(ABORT, 'No space left on device'); END"
    )
    with qtbot.waitSignal(runner.job_finished, timeout=10_000) as done:
        job = submit(runner, gens["solid"], project=project)
    assert done.args[0].state is JobState.FAILED and "No space left on device" in done.args[0].error
    assert job.results == [] and project.count() == 0
