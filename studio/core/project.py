"""The project store: one SQLite file per project, every change one transaction.

Write-ahead logging makes each commit one append, and a process killed at any moment leaves
the last committed state. Every write that spans statements runs in one `BEGIN IMMEDIATE …
COMMIT` (`Project.transaction`), so a failure half-way leaves nothing partial. A lock file
beside the project keeps a second Studio from writing to it at the same time (it may open it
read-only). All access goes through one connection guarded by a lock, so a worker thread can
commit while the window reads. After each commit the project announces what changed
(`Project.events`), on the thread that wrote; views subscribe instead of re-reading.
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psygnal import Signal

from studio.core.item_text import IMPORTED, caption_of, search_text
from studio.core.project_queue import StoredQueue
from studio.core.project_schema import APPLICATION_ID, SCHEMA_VERSION, upgrade

if TYPE_CHECKING:
    from PIL.Image import Image

    from studio.core.generator import Result

__all__ = [
    "IMPORTED",
    "SUFFIX",
    "ItemRow",
    "ItemsAdded",
    "Layer",
    "Project",
    "ProjectError",
    "ProjectLockedError",
]

log = logging.getLogger(__name__)
SUFFIX = ".studio"
THUMB_SIZE = 160
_ROW_COLUMNS = "id, created, generator, seed, width, height, favourite, caption, parent"


class ProjectError(Exception):
    """A project file that cannot be opened or written; the message says why and what to do."""


class ProjectLockedError(ProjectError):
    """The project is open for writing in another Studio window or process."""


@dataclass(frozen=True)
class ItemRow:
    """What the gallery shows of one item; the pixels stay in the file until asked for."""

    id: int
    created: float
    generator: str
    seed: int
    width: int
    height: int
    favourite: bool
    caption: str
    parent: int | None = None


@dataclass(frozen=True)
class ItemsAdded:
    """Items one commit added: a job's results, or images the user brought in.

    parent: the item they were made from (a re-run, a restyled photo), if any.
    at: where the user put them (a drop on the canvas), if anywhere.
    strip: they are the frames of one sequence, shown in one row.
    group: the whole they are parts of (a drop of several files, a grid's cells), if any:
    views place that whole when it is all in, not each part.
    """

    rows: tuple[ItemRow, ...]
    parent: int | None = None
    at: tuple[float, float] | None = None
    strip: bool = False
    group: str | None = None


class ProjectEvents:
    """What a project announces after each commit (on the committing thread)."""

    items_added = Signal(object)  # ItemsAdded
    items_changed = Signal(list)  # ids whose row changed (favourite)
    items_removed = Signal(list)  # ids deleted (undoable until the project closes)
    items_restored = Signal(list)  # ids brought back by undo
    layout_changed = Signal()
    queue_changed = Signal()


@dataclass(frozen=True)
class Layer:
    """One item's place on the canvas."""

    item_id: int
    x: float
    y: float
    scale: float = 1.0
    z: float = 0.0
    visible: bool = True
    name: str = ""


class Project:
    """An open project file. Use `Project.open`; `close()` it when done.

    `with project.transaction():` groups writes into one all-or-nothing commit; nested
    transactions join the outer one.
    """

    def __init__(self, path: Path, db: sqlite3.Connection, lock: Any, read_only: bool) -> None:
        self.path = path
        self.read_only = read_only
        self.events = ProjectEvents()
        self.queue = StoredQueue(self)
        self._db: sqlite3.Connection | None = db
        self._file_lock = lock
        self._lock = threading.RLock()
        self._depth = 0
        self._announce: list[tuple[Any, tuple]] = []

    # -- opening and closing

    @classmethod
    def open(cls, path: str | Path, create: bool = False, read_only: bool = False) -> Project:
        """Open (or with `create`, make) a project.

        Raises ProjectError for a missing file, a file that is not a project, a damaged one, or
        one from a newer Studio (the file is left untouched), and ProjectLockedError when another
        Studio has it open for writing. Older projects are upgraded in place after a backup copy
        is saved beside them.
        """
        from filelock import FileLock, Timeout

        path = Path(path).expanduser().absolute()
        exists = path.exists()
        if not exists and (not create or read_only):
            raise ProjectError(f"'{path}' does not exist.")
        if exists and path.is_dir():
            raise ProjectError(f"'{path}' is a folder, not a project file.")
        version = _inspect(path) if exists else 0
        lock = None
        if not read_only:
            lock = FileLock(str(path.with_name(f".{path.name}.lock")), timeout=0)
            try:
                lock.acquire()
            except Timeout:
                raise ProjectLockedError(
                    f"'{path.name}' is open in another Studio window. Close it there, or open "
                    "this project read-only."
                ) from None
            except OSError as exc:
                raise ProjectError(f"Cannot open '{path}': {exc.strerror or exc}") from None
        try:
            db = _connect(path, read_only)
            if not read_only:
                if 0 < version < SCHEMA_VERSION:
                    _backup(db, path.with_name(f"{path.stem}.v{version}.backup{SUFFIX}"))
                upgrade(db, version)
                db.execute("INSERT OR REPLACE INTO meta VALUES ('app', ?)", (_app_version(),))
                _purge_deleted(db)  # undo does not outlive a session
        except sqlite3.Error as exc:
            if lock is not None:
                lock.release()
            raise ProjectError(f"Cannot open '{path.name}': {exc}") from None
        return cls(path, db, lock, read_only)

    def close(self) -> None:
        with self._lock:
            if self._db is None:
                return
            self._db.close()
            self._db = None
            if self._file_lock is not None:
                self._file_lock.release()

    @property
    def closed(self) -> bool:
        return self._db is None

    @property
    def name(self) -> str:
        return self.path.stem

    # -- transactions

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing write: BEGIN IMMEDIATE … COMMIT, or ROLLBACK if anything raises.

        What the writes announce is emitted after the commit, and dropped on a rollback.
        """
        with self._lock:
            self._check_writable()
            db = self._db
            if self._depth:  # joins the transaction already open on this thread
                self._depth += 1
                try:
                    yield db
                finally:
                    self._depth -= 1
                return
            db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield db
            except BaseException:
                self._depth = 0
                self._announce.clear()
                db.execute("ROLLBACK")
                raise
            self._depth = 0
            db.execute("COMMIT")
            announce, self._announce = self._announce, []
        for signal, args in announce:
            _emit(signal, args)

    def _after_commit(self, signal: Any, *args: Any) -> None:
        self._announce.append((signal, args))

    # -- writing

    def add_results(
        self,
        results: Sequence[Result],
        parent: int | None = None,
        *,
        at: tuple[float, float] | None = None,
        queue_id: int | None = None,
        group: str | None = None,
    ) -> list[int]:
        """Commit a job's results in one transaction (and, with `queue_id`, take its stored
        queue entry off in the same one); returns the new item ids. `group`: they are parts
        of one whole (`ItemsAdded.group`)."""
        from studio.core.metadata import result_record

        encoded = [_Encoded.of(result_record(r), r.image, r.generator, r.seed) for r in results]
        strip = bool(results) and results[0].sequence is not None
        with self.transaction():
            ids = [self._insert(entry, parent) for entry in encoded]
            if queue_id is not None:
                self.queue.remove([queue_id])
            added = ItemsAdded(tuple(self.rows(ids)), parent, at, strip, group)
            self._after_commit(self.events.items_added, added)
        return ids

    def add_image(
        self,
        image: Image,
        name: str,
        source: str = "",
        at: tuple[float, float] | None = None,
        group: str | None = None,
    ) -> int:
        """Keep an image the user brought in, so the canvas never points at a lost file."""
        record = {
            "generator": IMPORTED,
            "generator_title": "Imported image",
            "params": {"name": name, "source": source},
            "seed": 0,
            "width": image.width,
            "height": image.height,
            "created": round(time.time(), 3),
        }
        encoded = _Encoded.of(record, image, IMPORTED, 0)
        with self.transaction():
            item = self._insert(encoded, None)
            added = ItemsAdded(tuple(self.rows([item])), at=at, group=group)
            self._after_commit(self.events.items_added, added)
        return item

    def _insert(self, entry: _Encoded, parent: int | None) -> int:
        record = entry.record
        # SQLite integers are signed 64-bit: a seed past 2**63 is stored as its two's complement.
        seed = entry.seed - 2**64 if entry.seed >= 2**63 else entry.seed
        row = (record.get("created", time.time()), entry.generator, seed)
        row += (json.dumps(record, sort_keys=True), entry.width, entry.height, parent)
        row += (caption_of(record), search_text(record))
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO items (created, generator, seed, record, width, height, parent,"
                " caption, search) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            item = int(cursor.lastrowid)
            db.execute("INSERT INTO images VALUES (?, ?, ?)", (item, entry.png, entry.thumb))
        return item

    def set_favourite(self, ids: Iterable[int], favourite: bool) -> None:
        ids = self._update("UPDATE items SET favourite = ? WHERE id = ?", favourite, ids)
        self._after_commit_now(self.events.items_changed, ids)

    def delete(self, ids: Iterable[int]) -> None:
        """Hide items (undoable with `restore` until the project is closed)."""
        ids = self._update("UPDATE items SET deleted = ? WHERE id = ?", True, ids)
        self._after_commit_now(self.events.items_removed, ids)

    def restore(self, ids: Iterable[int]) -> None:
        ids = self._update("UPDATE items SET deleted = ? WHERE id = ?", False, ids)
        self._after_commit_now(self.events.items_restored, ids)

    def _update(self, sql: str, value: bool, ids: Iterable[int]) -> list[int]:
        ids = [int(i) for i in ids]
        with self.transaction() as db:
            db.executemany(sql, [(int(value), i) for i in ids])
        return ids

    def _after_commit_now(self, signal: Any, ids: list[int]) -> None:
        if ids:
            _emit(signal, (ids,))

    def save_layout(self, layers: Sequence[Layer]) -> None:
        """Replace the stored canvas with `layers`, in one transaction."""
        rows = [(la.item_id, la.x, la.y, la.scale, la.z, int(la.visible), la.name) for la in layers]
        with self.transaction() as db:
            db.execute("DELETE FROM canvas")
            db.executemany("INSERT INTO canvas VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._after_commit(self.events.layout_changed)

    def save_as(self, target: str | Path) -> Path:
        """Copy the project to `target` with SQLite's backup API (safe while it is in use)."""
        target = Path(target).expanduser().absolute()
        if target == self.path:
            raise ProjectError("Choose a different file name to save a copy.")
        tmp = target.with_name(f".{target.name}.saving")
        try:
            with self._lock:
                _backup(self._db, tmp)
            tmp.replace(target)
        except (OSError, sqlite3.Error) as exc:
            tmp.unlink(missing_ok=True)
            raise ProjectError(f"Cannot save '{target}': {exc}") from None
        return target

    # -- reading

    def items(
        self,
        generator: str | None = None,
        search: str = "",
        favourites: bool = False,
        ids: Iterable[int] | None = None,
    ) -> list[ItemRow]:
        """Items newest first, optionally filtered (and only among `ids`); no pixels are read."""
        where, args = ["NOT deleted"], []
        if ids is not None:
            ids = [int(i) for i in ids]
            where.append(f"id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        if generator:
            where.append("generator = ?")
            args.append(generator)
        if favourites:
            where.append("favourite")
        for patterns in self._search_terms(search):
            where.append("(" + " OR ".join("instr(search, ?) > 0" for _ in patterns) + ")")
            args.extend(patterns)
        sql = f"SELECT {_ROW_COLUMNS} FROM items WHERE {' AND '.join(where)}"
        return self._rows(sql + " ORDER BY created DESC, id ASC", args)

    def _search_terms(self, search: str) -> list[list[str]]:
        """A search's terms: `key value` where key is a field some item has (it matches that
        field: its whole value, or the start of it), else each word anywhere."""
        words, terms, n = search.lower().split(), [], 0
        while n < len(words):
            word = words[n]
            if n + 1 < len(words) and self._is_field(word):
                pair = f"{word} {words[n + 1]}"
                terms.append([f"\n{pair}\n", f"\n{pair} "])
                n += 2
            else:
                terms.append([word])
                n += 1
        return terms

    def _is_field(self, word: str) -> bool:
        sql = "SELECT 1 FROM items WHERE instr(search, ?) > 0 LIMIT 1"
        with self._lock:
            return self._open_db().execute(sql, (f"\n{word} ",)).fetchone() is not None

    def rows(self, ids: Iterable[int]) -> list[ItemRow]:
        """The rows of these items (deleted ones included), in the order asked."""
        ids = [int(i) for i in ids]
        sql = f"SELECT {_ROW_COLUMNS} FROM items WHERE id IN ({','.join('?' * len(ids))})"
        found = {r.id: r for r in self._rows(sql, ids)}
        return [found[i] for i in ids if i in found]

    def _rows(self, sql: str, args: Sequence[Any]) -> list[ItemRow]:
        with self._lock:
            rows = self._open_db().execute(sql, args).fetchall()
        return [
            ItemRow(r[0], r[1], r[2], r[3] % 2**64, r[4], r[5], bool(r[6]), r[7], r[8])
            for r in rows
        ]

    def count(self) -> int:
        with self._lock:
            sql = "SELECT count(*) FROM items WHERE NOT deleted"
            return self._open_db().execute(sql).fetchone()[0]

    def generators(self) -> list[str]:
        with self._lock:
            rows = self._open_db().execute(
                "SELECT DISTINCT generator FROM items WHERE NOT deleted ORDER BY generator"
            )
            return [r[0] for r in rows]

    def record(self, item_id: int) -> dict:
        return json.loads(self._one("items", "record", item_id))

    def records(self, ids: Sequence[int]) -> list[dict]:
        """The records of these items, in the order asked (one query)."""
        ids = [int(i) for i in ids]
        sql = f"SELECT id, record FROM items WHERE id IN ({','.join('?' * len(ids))})"
        with self._lock:
            found = dict(self._open_db().execute(sql, ids).fetchall())
        missing = [i for i in ids if i not in found]
        if missing:
            raise KeyError(f"No item {missing[0]} in '{self.path.name}'")
        return [json.loads(found[i]) for i in ids]

    def png(self, item_id: int) -> bytes:
        return self._one("images", "png", item_id)

    def thumbnail(self, item_id: int) -> bytes:
        return self._one("images", "thumb", item_id)

    def image(self, item_id: int) -> Image:
        from PIL import Image as PILImage

        image = PILImage.open(io.BytesIO(self.png(item_id)))
        image.load()
        return image

    def layout(self) -> list[Layer]:
        with self._lock:
            rows = (
                self._open_db()
                .execute(
                    "SELECT c.item_id, c.x, c.y, c.scale, c.z, c.visible, c.name FROM canvas c"
                    " JOIN items i ON i.id = c.item_id WHERE NOT i.deleted ORDER BY c.z"
                )
                .fetchall()
            )
        return [Layer(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6]) for r in rows]

    def integrity_ok(self) -> bool:
        """SQLite's own check, and that every item has its pixels and all pixels an item."""
        with self._lock:
            db = self._open_db()
            if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                return False
            orphans = db.execute(
                "SELECT (SELECT count(*) FROM items WHERE id NOT IN (SELECT id FROM images))"
                " + (SELECT count(*) FROM images WHERE id NOT IN (SELECT id FROM items))"
            ).fetchone()[0]
        return orphans == 0

    def _one(self, table: str, column: str, item_id: int) -> Any:
        with self._lock:
            row = (
                self._open_db()
                .execute(f"SELECT {column} FROM {table} WHERE id = ?", (item_id,))
                .fetchone()
            )
        if row is None:
            raise KeyError(f"No item {item_id} in '{self.path.name}'")
        return row[0]

    def _open_db(self) -> sqlite3.Connection:
        if self._db is None:
            raise ProjectError(f"'{self.path.name}' is closed.")
        return self._db

    def _check_writable(self) -> None:
        if self.read_only:
            raise ProjectError(f"'{self.path.name}' is open read-only.")
        self._open_db()


@dataclass(frozen=True)
class _Encoded:
    """One image ready to insert: encoded before the write lock is taken."""

    record: dict
    png: bytes
    thumb: bytes
    width: int
    height: int
    generator: str
    seed: int

    @classmethod
    def of(cls, record: dict, image: Image, generator: str, seed: int) -> _Encoded:
        png, thumb = _encode(image, record)
        return cls(record, png, thumb, image.width, image.height, generator, seed)


def _emit(signal: Any, args: tuple) -> None:
    # A subscriber's bug must not undo or fail a commit that has already happened.
    try:
        signal.emit(*args)
    except Exception:  # noqa: BLE001
        log.exception("a project event subscriber failed")


def _purge_deleted(db: sqlite3.Connection) -> None:
    gone = "SELECT id FROM items WHERE deleted"
    db.execute("BEGIN IMMEDIATE")
    db.execute(f"DELETE FROM canvas WHERE item_id IN ({gone})")
    db.execute(f"DELETE FROM images WHERE id IN ({gone})")
    db.execute("DELETE FROM items WHERE deleted")
    db.execute("COMMIT")


def _inspect(path: Path) -> int:
    """The schema version of an existing file, read without changing it."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(16)
    except OSError as exc:
        raise ProjectError(f"Cannot read '{path}': {exc.strerror or exc}") from None
    if header != b"SQLite format 3\x00":
        raise ProjectError(f"'{path.name}' is not a Studio project (not an SQLite file).")
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise ProjectError(f"'{path.name}' is damaged and cannot be opened ({exc}).") from None
    if app_id != APPLICATION_ID:
        raise ProjectError(f"'{path.name}' is an SQLite file but not a Studio project.")
    if version > SCHEMA_VERSION:
        raise ProjectError(
            f"'{path.name}' was saved by a newer Studio (project format {version}; this Studio "
            f"reads up to {SCHEMA_VERSION}). Update Studio to open it."
        )
    return version


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    # Autocommit mode: transactions are opened explicitly (Project.transaction), never implied.
    if read_only:
        db = sqlite3.connect(
            f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
    else:
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")  # durable against a killed process
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 5000")
    return db


def _backup(db: sqlite3.Connection, target: Path) -> None:
    copy = sqlite3.connect(str(target))
    try:
        db.backup(copy)
    finally:
        copy.close()


def _encode(image: Image, record: dict) -> tuple[bytes, bytes]:
    from studio.core.metadata import save_options

    png = io.BytesIO()
    image.save(png, "PNG", compress_level=1, **save_options(record, "PNG"))
    thumb = image.copy()
    thumb.thumbnail((THUMB_SIZE, THUMB_SIZE))
    if thumb.mode != "RGB":
        thumb = thumb.convert("RGBA")
        backdrop = _backdrop(thumb.size)
        backdrop.paste(thumb, mask=thumb.getchannel("A"))
        thumb = backdrop
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=85)
    return png.getvalue(), out.getvalue()


def _backdrop(size: tuple[int, int]) -> Image:
    from PIL import Image as PILImage

    return PILImage.new("RGB", size, (43, 46, 51))


def _app_version() -> str:
    from studio import __version__

    return __version__
