"""The worker thread: order, queueing while running, removal, cancel, failure."""

from __future__ import annotations

import pytest

from studio.core.devices import CPU
from studio.core.jobs import Executor, JobState
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


def collect(runner):
    events = []
    runner.job_started.connect(lambda job: events.append(("start", job.id)))
    runner.job_finished.connect(lambda job: events.append((job.state.value, job.id)))
    return events


def test_jobs_run_one_at_a_time_in_order(qtbot, runner, gens):
    events = collect(runner)
    jobs = [runner.submit(gens["solid"].make_request({"seed": i})) for i in range(4)]
    qtbot.waitUntil(lambda: all(j.state is JobState.DONE for j in jobs), timeout=10_000)
    qtbot.waitUntil(lambda: len(events) == 8)
    expected = [e for j in jobs for e in (("start", j.id), ("done", j.id))]
    assert events == expected
    assert [r.params["seed"] for r in gens["solid"].runs] == [0, 1, 2, 3]


def test_new_jobs_queue_while_one_runs_and_queued_ones_can_be_removed(qtbot, runner, gens):
    slow = runner.submit(gens["slow"].make_request({"steps": 10_000}))
    assert gens["slow"].started.wait(5)
    queued = runner.submit(gens["solid"].make_request({"seed": 1}))
    kept = runner.submit(gens["solid"].make_request({"seed": 2}))
    assert slow.state is JobState.RUNNING and queued.state is JobState.QUEUED
    with qtbot.waitSignal(runner.job_finished) as removed:
        runner.cancel(queued)
    assert removed.args[0] is queued and queued.state is JobState.CANCELLED
    runner.cancel(slow)
    qtbot.waitUntil(lambda: kept.state is JobState.DONE, timeout=10_000)
    assert slow.state is JobState.CANCELLED and slow.results == []
    assert [r.params["seed"] for r in gens["solid"].runs] == [2]


def test_cancel_stops_the_running_job_at_a_step_boundary(qtbot, runner, gens):
    job = runner.submit(gens["slow"].make_request({"steps": 10_000}))
    qtbot.waitUntil(lambda: job.step > 3, timeout=10_000)
    with qtbot.waitSignal(runner.job_finished, timeout=5_000):
        assert runner.cancel_running()
    assert job.state is JobState.CANCELLED and job.results == []
    assert gens["slow"].steps_done < 10_000


def test_a_failing_generator_fails_its_job_and_the_runner_carries_on(qtbot, runner, gens):
    failed = runner.submit(gens["failing"].make_request({}))
    after = runner.submit(gens["solid"].make_request({"seed": 3}))
    qtbot.waitUntil(lambda: after.state is JobState.DONE, timeout=10_000)
    assert failed.state is JobState.FAILED and "the model exploded" in failed.error


def test_progress_reaches_the_main_thread(qtbot, runner, gens):
    seen = []
    runner.progress_changed.connect(lambda job, _preview: seen.append((job.step, job.total)))
    job = runner.submit(gens["slow"].make_request({"steps": 20}))
    qtbot.waitUntil(lambda: job.state is JobState.DONE, timeout=10_000)
    qtbot.waitUntil(lambda: seen and seen[-1] == (20, 20))
    assert len(seen) < 20  # throttled, yet the last step always arrives


def test_shutdown_cancels_queued_and_running_jobs(qtbot, gens):
    runner = JobRunner(Executor(gens.__getitem__, lambda: CPU, "/nonexistent"))
    running = runner.submit(gens["slow"].make_request({"steps": 10_000}))
    waiting = runner.submit(gens["solid"].make_request({}))
    assert gens["slow"].started.wait(5)
    runner.shutdown()
    assert waiting.state is JobState.CANCELLED
    assert running.state is JobState.CANCELLED
    assert runner.stopped


def test_the_runner_is_idle_again_after_a_broken_plugin(qtbot, runner, gens):
    gens["solid"].run = lambda request, ctx: "not a list"
    job = runner.submit(gens["solid"].make_request({}))
    qtbot.waitUntil(lambda: job.state is JobState.FAILED, timeout=10_000)
    qtbot.waitUntil(lambda: not runner.busy)
    again = runner.submit(gens["slow"].make_request({"steps": 2}))
    qtbot.waitUntil(lambda: again.state is JobState.DONE, timeout=10_000)


def test_shutdown_survives_a_step_that_ignores_cancel(qtbot, gens):
    import time as clock

    from studio.ui.job_runner import abandoned_workers

    def stubborn(request, ctx):
        clock.sleep(1.0)  # never calls check_cancelled
        return []

    gens["solid"].run = stubborn
    runner = JobRunner(Executor(gens.__getitem__, lambda: CPU, "/nonexistent"))
    job = runner.submit(gens["solid"].make_request({}))
    qtbot.waitUntil(lambda: runner.running is job, timeout=5_000)
    runner.shutdown(timeout_ms=50)
    assert abandoned_workers()  # kept alive rather than destroyed while running
    qtbot.waitUntil(lambda: not abandoned_workers(), timeout=5_000)


def test_warm_up_resolves_the_device_on_the_worker(qtbot, gens, request):
    import threading

    threads = []

    def device():
        threads.append(threading.current_thread())
        return CPU

    runner = JobRunner(Executor(gens.__getitem__, device, "/nonexistent"))
    request.addfinalizer(runner.shutdown)  # also when an assertion fails
    runner.warm_up()
    qtbot.waitUntil(lambda: bool(threads), timeout=5_000)
    assert threads[0] is not threading.main_thread()
    job = runner.submit(gens["solid"].make_request({}))
    qtbot.waitUntil(lambda: job.state is JobState.DONE, timeout=5_000)
    assert len(threads) == 1  # resolved once, reused by the job


def test_results_are_committed_on_the_worker_before_the_job_is_announced(qtbot, runner, gens):
    import threading

    seen = []

    def commit(job):
        seen.append(threading.current_thread() is threading.main_thread())
        return [100 + r.index for r in job.results]

    runner.set_commit(commit)
    with qtbot.waitSignal(runner.job_finished, timeout=10_000) as done:
        runner.submit(gens["solid"].make_request({"count": 2}))
    assert done.args[0].item_ids == [100, 101] and seen == [False]


def test_a_failed_commit_fails_the_job_with_its_reason(qtbot, runner, gens):
    def commit(job):
        raise OSError(28, "No space left on device")

    runner.set_commit(commit)
    with qtbot.waitSignal(runner.job_finished, timeout=10_000) as done:
        runner.submit(gens["solid"].make_request({}))
    job = done.args[0]
    assert job.state is JobState.FAILED and "No space left on device" in job.error
    assert job.results == []
