"""A project's stored queue: the jobs not yet finished, with their requests and order.

A job is stored when it is submitted and taken off in the same transaction that commits its
results (or when it fails, or the user cancels or removes it). So after a crash, a kill or a
quit with work queued, what is stored is exactly what is still to do: a batch of N inputs
interrupted after k results holds the other N−k, no more, no less.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.core.batch_run import Output
from studio.core.generator import Request

if TYPE_CHECKING:
    from studio.core.project import Project


@dataclass(frozen=True)
class QueueEntry:
    """What a job needs to run again later: its request, title, lineage and output."""

    request: Request
    title: str = ""
    parent: int | None = None  # the item it re-renders or was made from
    keep: int | None = None  # keep only this result (a re-run of one image of a batch)
    output: Output | None = None  # also write the result here (a batch over files)
    batch: str | None = None  # jobs queued together share this id
    batch_index: int | None = None
    group: str | None = None  # parts of one whole (`Job.group`); not stored: a resumed job
    # is placed on its own


@dataclass(frozen=True)
class StoredJob:
    """One stored queue row."""

    id: int
    position: float
    created: float
    entry: QueueEntry


class StoredQueue:
    """The `queue` table of one project; every change is one transaction."""

    def __init__(self, project: Project) -> None:
        self._project = project

    def add(self, entries: Sequence[QueueEntry]) -> list[int]:
        """Store jobs at the end of the queue, all in one transaction; returns their ids."""
        now = time.time()
        ids = []
        with self._project.transaction() as db:
            last = db.execute("SELECT max(position) FROM queue").fetchone()[0] or 0.0
            for n, entry in enumerate(entries, start=1):
                output = json.dumps(entry.output.to_json()) if entry.output else None
                cursor = db.execute(
                    "INSERT INTO queue (position, created, title, request, parent, keep, output,"
                    " batch, batch_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (last + n, now, entry.title, entry.request.to_json(), entry.parent,
                     entry.keep, output, entry.batch, entry.batch_index),
                )  # fmt: skip
                ids.append(int(cursor.lastrowid))
            self._changed()
        return ids

    def entries(self) -> list[StoredJob]:
        """Every stored job in queue order."""
        with self._project._lock:
            rows = (
                self._project._open_db()
                .execute(
                    "SELECT id, position, created, title, request, parent, keep, output, batch,"
                    " batch_index FROM queue ORDER BY position, id"
                )
                .fetchall()
            )
        return [_stored(row) for row in rows]

    def remove(self, ids: Iterable[int]) -> None:
        ids = [(int(i),) for i in ids]
        with self._project.transaction() as db:
            db.executemany("DELETE FROM queue WHERE id = ?", ids)
            self._changed()

    def reorder(self, ids: Sequence[int]) -> None:
        """Put these stored jobs first, in this order; the others keep theirs after them."""
        wanted = [int(i) for i in ids]
        rest = [s.id for s in self.entries() if s.id not in set(wanted)]
        with self._project.transaction() as db:
            db.executemany(
                "UPDATE queue SET position = ? WHERE id = ?",
                [(n, i) for n, i in enumerate([*wanted, *rest], start=1)],
            )
            self._changed()

    def __len__(self) -> int:
        with self._project._lock:
            return self._project._open_db().execute("SELECT count(*) FROM queue").fetchone()[0]

    def _changed(self) -> None:
        self._project._after_commit(self._project.events.queue_changed)


def _stored(row: tuple) -> StoredJob:
    ident, position, created, title, request, parent, keep, output, batch, index = row
    entry = QueueEntry(
        request=Request.from_json(request),
        title=title,
        parent=parent,
        keep=keep,
        output=Output.from_json(json.loads(output)) if output else None,
        batch=batch,
        batch_index=index,
    )
    return StoredJob(ident, position, created, entry)
