"""Every write that spans statements is one transaction: a failure half-way leaves nothing."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from studio.core.generator import Request
from studio.core.project import Layer, Project, ProjectError
from studio.core.project_queue import QueueEntry
from tests.core.test_project import results


@pytest.fixture
def project(tmp_path):
    opened = Project.open(tmp_path / "t.studio", create=True)
    yield opened
    opened.close()


def raise_on_insert(project, table):
    # A trigger that fails the insert: the failure lands between two statements of a write.
    project._db.execute(
        f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END"
    )


def counts(project):
    db = project._db
    return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("items", "images")}


def test_a_failure_between_the_item_and_its_pixels_leaves_no_item(project):
    project.add_results(results(1, seed=1))
    raise_on_insert(project, "images")
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        project.add_results(results(3, seed=5))
    assert counts(project) == {"items": 1, "images": 1}
    assert project.integrity_ok()


def test_a_jobs_results_commit_all_or_nothing(project, monkeypatch):
    import studio.core.project as store

    real, calls = store._Encoded.of, []

    def third_fails(*args):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("no space left on device")
        return real(*args)

    monkeypatch.setattr(store._Encoded, "of", third_fails)
    with pytest.raises(OSError):
        project.add_results(results(4, seed=1))
    assert project.count() == 0


def test_a_failing_save_layout_keeps_the_canvas_it_had(project):
    ids = project.add_results(results(2))
    project.save_layout([Layer(ids[0], 1, 2), Layer(ids[1], 3, 4)])
    raise_on_insert(project, "canvas")
    with pytest.raises(sqlite3.IntegrityError):
        project.save_layout([Layer(ids[0], 9, 9)])
    assert [(la.item_id, la.x) for la in project.layout()] == [(ids[0], 1), (ids[1], 3)]


def test_writes_inside_a_transaction_commit_together_or_not_at_all(project):
    with pytest.raises(RuntimeError), project.transaction():
        project.add_results(results(1, seed=1))
        project.add_results(results(1, seed=2))
        raise RuntimeError("changed my mind")
    assert project.count() == 0
    with project.transaction():
        project.add_results(results(1, seed=1))
        project.add_results(results(1, seed=2))
    assert project.count() == 2


def test_a_result_commit_takes_its_stored_queue_row_off_in_the_same_transaction(project):
    request = Request("solid", {"count": 1, "seed": 1, "size": 16}, 1)
    (queued,) = project.queue.add([QueueEntry(request, "one")])
    raise_on_insert(project, "images")
    with pytest.raises(sqlite3.IntegrityError):
        project.add_results(results(1), queue_id=queued)
    assert [s.id for s in project.queue.entries()] == [queued]  # still to do
    project._db.execute("DROP TRIGGER fail_images")
    project.add_results(results(1), queue_id=queued)
    assert project.queue.entries() == [] and project.count() == 1


def test_events_are_announced_after_the_commit_and_never_after_a_rollback(project):
    seen = []
    project.events.items_added.connect(lambda added: seen.append(added))
    raise_on_insert(project, "images")
    with pytest.raises(sqlite3.IntegrityError):
        project.add_results(results(2))
    assert seen == []
    project._db.execute("DROP TRIGGER fail_images")
    ids = project.add_results(results(2, seed=3), parent=None)
    (added,) = seen
    assert [row.id for row in added.rows] == ids and [row.seed for row in added.rows] == [3, 4]


def test_favourite_delete_and_restore_are_announced(project):
    ids = project.add_results(results(2))
    seen = []
    for name in ("items_changed", "items_removed", "items_restored"):
        getattr(project.events, name).connect(lambda ids, name=name: seen.append((name, ids)))
    project.set_favourite([ids[0]], True)
    project.delete(ids)
    project.restore([ids[1]])
    assert seen == [("items_changed", [ids[0]]), ("items_removed", ids),
                    ("items_restored", [ids[1]])]  # fmt: skip


def test_a_broken_subscriber_does_not_undo_or_fail_the_commit(project):
    project.events.items_added.connect(lambda _added: 1 / 0)
    assert len(project.add_results(results(1))) == 1 and project.count() == 1


def test_closing_is_explicit_and_with_is_not_a_close(project):
    with pytest.raises(TypeError), project:  # no context manager: closing is `close()`
        pass
    assert not project.closed
    project.close()
    with pytest.raises(ProjectError, match="closed"):
        project.add_results(results(1))


def test_two_threads_commit_without_mixing_their_transactions(project):
    errors = []

    def commit(seed):
        try:
            for n in range(10):
                project.add_results(results(2, seed=seed * 100 + n * 2))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=commit, args=(s,)) for s in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and project.count() == 40 and project.integrity_ok()
