"""The stored queue: what is still to do survives the process, in order."""

from __future__ import annotations

import time

import pytest

from studio.core.batch_run import Output
from studio.core.generator import Request
from studio.core.jobs import CancelReason, Job, JobState, settle
from studio.core.project import Project
from studio.core.project_queue import QueueEntry
from tests.core.test_project import results


@pytest.fixture
def project(tmp_path):
    opened = Project.open(tmp_path / "q.studio", create=True)
    yield opened
    opened.close()


def request(seed):
    return Request("solid", {"count": 1, "seed": seed, "size": 16}, seed)


def test_entries_round_trip_with_their_lineage_and_output(project, tmp_path):
    output = Output(str(tmp_path), "{source}-x", 3, 1_800_000_000.5)
    entries = [QueueEntry(request(1), "a", parent=7, keep=2, output=output, batch="b1",
                          batch_index=3), QueueEntry(request(2), "b")]  # fmt: skip
    ids = project.queue.add(entries)
    project.close()
    reopened = Project.open(project.path)
    try:
        stored = reopened.queue.entries()
        assert [s.id for s in stored] == ids
        assert [s.entry for s in stored] == entries
    finally:
        reopened.close()


def test_reorder_puts_the_given_ids_first(project):
    a, b, c = project.queue.add([QueueEntry(request(i)) for i in range(3)])
    project.queue.reorder([c, a])
    assert [s.id for s in project.queue.entries()] == [c, a, b]


def test_settle_keeps_a_stopped_job_and_forgets_failed_and_cancelled_ones(project):
    ids = project.queue.add([QueueEntry(request(i)) for i in range(4)])

    def job(queue_id, state, reason=CancelReason.USER):
        made = Job(request(1), project=project, queue_id=queue_id, state=state)
        made.token.cancel(reason)
        return made

    settle(job(ids[0], JobState.FAILED))
    settle(job(ids[1], JobState.CANCELLED))
    settle(job(ids[2], JobState.CANCELLED, CancelReason.SHUTDOWN))
    done = Job(request(1), project=project, queue_id=ids[3], state=JobState.DONE)
    done.results = results(1)
    settle(done)
    assert [s.id for s in project.queue.entries()] == [ids[2]]
    assert project.count() == 1 and done.item_ids


def test_a_done_job_whose_commit_fails_fails_and_stays_stored(project, tmp_path):
    (queued,) = project.queue.add([QueueEntry(request(1))])
    project._db.execute(
        "CREATE TRIGGER full BEFORE INSERT ON images BEGIN SELECT RAISE(ABORT, 'full'); END"
    )
    job = Job(request(1), project=project, queue_id=queued, state=JobState.DONE)
    job.results = results(1)
    settle(job)
    assert job.state is JobState.FAILED and "could not be saved" in job.error
    # A job that failed is finished: its row goes, so it is not offered again.
    assert project.queue.entries() == [] and project.count() == 0


def test_settle_writes_the_output_file_after_the_commit(project, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    job = Job(request(1), project=project, state=JobState.DONE,
              output=Output(str(out), "{index}-{seed}", 4, time.time()))  # fmt: skip
    job.results = results(1, seed=9)
    settle(job)
    assert [p.name for p in out.iterdir()] == ["0004-9.png"] and project.count() == 1
