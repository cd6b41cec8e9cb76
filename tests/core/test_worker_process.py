"""Generators in a process of their own: same pixels, progress, cancel, and a crash contained."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.devices import CPU
from studio.core.jobs import Executor, Job, JobState
from studio.core.worker_process import ProcessExecutor
from tests import fakes


@pytest.fixture(scope="module")
def child():
    executor = ProcessExecutor("cpu", None, registry="tests.fakes:registry")
    executor.start()
    yield executor
    executor.close()


def request(generator, **values):
    return generator.make_request(values)


def test_results_are_the_pixels_of_an_in_process_run(child):
    solid = fakes.SolidColour()
    wanted = request(solid, count=3, seed=41, size=24)
    here = Executor(lambda _id: solid, lambda: CPU, None).execute(Job(wanted))
    there = child.execute(Job(wanted))
    assert there.state is JobState.DONE and there.device == "CPU"
    assert [r.seed for r in there.results] == [41, 42, 43]
    for a, b in zip(here.results, there.results, strict=True):
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
        assert a.params == b.params and a.generator == b.generator


def test_progress_and_previews_cross_the_pipe(child):
    seen = []
    job = child.execute(
        Job(request(fakes.Slow(), steps=5)), lambda j, preview, _m: seen.append((j.step, preview))
    )
    assert job.state is JobState.DONE
    assert seen[-1][0] == 5 and seen[-1][1].size == (16, 16)


def test_cancel_reaches_the_child_at_its_next_step(child):
    def cancel_at_three(job, _preview, _metrics):
        if job.step >= 3:
            job.token.cancel()

    job = child.execute(Job(request(fakes.Slow(), steps=10_000)), cancel_at_three)
    assert job.state is JobState.CANCELLED and job.results == [] and job.step < 100


def test_a_plugin_error_fails_its_job_with_the_message_and_the_traceback(child):
    job = child.execute(Job(request(fakes.Failing())))
    assert job.state is JobState.FAILED and "the model exploded" in job.error
    assert "Traceback" in job.details


def test_a_crashing_plugin_fails_its_job_and_the_next_gets_a_fresh_process(child):
    first = child.pid
    job = child.execute(Job(request(fakes.Crashing())))
    assert job.state is JobState.FAILED and "stopped unexpectedly (exit code 9)" in job.error
    after = child.execute(Job(request(fakes.SolidColour(), count=1, seed=1)))
    assert after.state is JobState.DONE and child.pid != first


def test_the_child_runs_below_the_windows_priority(child):
    import os

    child.start()
    assert os.getpriority(os.PRIO_PROCESS, child.pid) > os.getpriority(os.PRIO_PROCESS, 0)
