from __future__ import annotations

import threading

from studio.core.devices import CPU
from studio.core.generator import GeneratorError
from studio.core.jobs import Executor, Job, JobQueue, JobState
from tests.fakes import Failing, Slow, SolidColour


def executor_for(*generators):
    table = {g.id: g for g in generators}

    def lookup(generator_id):
        return table[generator_id]

    return Executor(lookup, lambda: CPU, "/nonexistent")


def job(generator, **values):
    return Job(generator.make_request(values), title=generator.title)


def test_queue_is_fifo_and_marks_running():
    queue = JobQueue()
    gen = SolidColour()
    jobs = [queue.submit(job(gen, seed=i)) for i in range(3)]
    taken = [queue.take() for _ in range(3)]
    assert taken == jobs
    assert all(j.state is JobState.RUNNING for j in taken)
    assert queue.take() is None


def test_queue_remove_move_and_clear():
    queue = JobQueue()
    gen = SolidColour()
    a, b, c = (queue.submit(job(gen, seed=i)) for i in range(3))
    assert queue.remove(b.id) is b and b.state is JobState.CANCELLED and b.token.cancelled
    assert queue.remove(b.id) is None
    assert queue.move(c.id, 0)
    assert queue.waiting() == [c, a]
    assert queue.clear() == [c, a] and len(queue) == 0
    assert a.state is JobState.CANCELLED


def test_executor_runs_and_loads_once():
    gen = SolidColour()
    ex = executor_for(gen)
    seen = []
    first = ex.execute(job(gen, count=3, seed=10), lambda j, _p, _m: seen.append((j.step, j.total)))
    second = ex.execute(job(gen, count=1, seed=1))
    assert first.state is JobState.DONE and len(first.results) == 3
    assert [r.seed for r in first.results] == [10, 11, 12]
    assert seen[-1] == (3, 3)
    assert second.state is JobState.DONE
    assert gen.loads == 1


def test_executor_turns_an_exception_into_a_failed_job():
    gen = Failing()
    result = executor_for(gen).execute(job(gen))
    assert result.state is JobState.FAILED
    assert "RuntimeError: the model exploded" in result.error
    assert result.results == []


def test_generator_error_message_is_kept_verbatim():
    gen = Failing(GeneratorError("Weights missing: run install"))
    result = executor_for(gen).execute(job(gen))
    assert result.state is JobState.FAILED and result.error == "Weights missing: run install"


def test_cancel_stops_at_a_step_boundary_and_leaves_no_result():
    gen = Slow(delay=0.005)
    running = job(gen, steps=10_000)
    ex = executor_for(gen)
    thread = threading.Thread(target=ex.execute, args=(running,))
    thread.start()
    assert gen.started.wait(5)
    running.token.cancel()
    thread.join(5)
    assert not thread.is_alive()
    assert running.state is JobState.CANCELLED
    assert running.results == []
    assert gen.steps_done < 10_000


def test_a_job_cancelled_before_it_starts_never_runs():
    gen = SolidColour()
    pending = job(gen)
    pending.token.cancel()
    assert executor_for(gen).execute(pending).state is JobState.CANCELLED
    assert gen.runs == []


def test_unknown_generator_fails_the_job():
    gen = SolidColour()
    orphan = Job(gen.make_request({}))
    result = executor_for().execute(orphan)
    assert result.state is JobState.FAILED and "solid" in result.error


def test_a_plugin_returning_something_else_fails_its_job_clearly():
    gen = SolidColour()
    gen.run = lambda request, ctx: None
    result = executor_for(gen).execute(job(gen))
    assert result.state is JobState.FAILED
    assert "returned NoneType, not a list of Results" in result.error


def test_results_record_the_device():
    gen = SolidColour()
    done = executor_for(gen).execute(job(gen, count=1))
    assert done.results[0].device == "CPU" and done.device == "CPU"


def test_rerun_of_one_image_of_a_batch_is_a_batch_of_one():
    gen = SolidColour()
    request, index = gen.rerun({"count": 5, "seed": 10, "size": 16}, seed=13, index=3)
    assert (request.params["count"], request.params["seed"], index) == (1, 13, 0)


def test_rerun_keeps_one_result_when_the_batch_cannot_be_split():
    gen = Slow()
    request, index = gen.rerun({"steps": 2, "seed": 5}, seed=5, index=0)
    assert request.params == {"steps": 2, "seed": 5} and index == 0
    solid = SolidColour()
    full = job(solid, count=4, seed=20)
    full.keep = 2
    executor_for(solid).execute(full)
    assert [r.seed for r in full.results] == [22] and full.results[0].index == 2
