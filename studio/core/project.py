"""The project store: one SQLite file per project, every result committed as it arrives.

Write-ahead logging makes each commit one append, and a process killed at any moment leaves
the last committed state. A lock file beside the project keeps a second Studio from writing
to it at the same time (it may open it read-only). All access goes through one connection
guarded by a lock, so the worker thread can commit while the window reads.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from studio.core.project_schema import APPLICATION_ID, SCHEMA_VERSION, upgrade

if TYPE_CHECKING:
    from PIL.Image import Image

    from studio.core.generator import Result

SUFFIX = ".studio"
THUMB_SIZE = 160
IMPORTED = "imported"  # the generator name of images a user dropped in


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
    """An open project file. Use `Project.open`; close it (or use `with`) when done."""

    def __init__(self, path: Path, db: sqlite3.Connection, lock: Any, read_only: bool) -> None:
        self.path = path
        self.read_only = read_only
        self._db = db
        self._file_lock = lock
        self._lock = threading.RLock()

    # -- opening

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

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    @property
    def name(self) -> str:
        return self.path.stem

    # -- writing

    def add_results(self, results: Sequence[Result], parent: int | None = None) -> list[int]:
        """Commit each result at once (its own transaction); returns the new item ids."""
        from studio.core.metadata import result_record

        return [self._add(result_record(r), r.image, r.generator, r.seed, parent) for r in results]

    def add_image(self, image: Image, name: str, source: str = "") -> int:
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
        return self._add(record, image, IMPORTED, 0, None)

    def _add(
        self, record: dict, image: Image, generator: str, seed: int, parent: int | None
    ) -> int:
        self._check_writable()
        png, thumb = _encode(image, record)
        text = json.dumps(record, sort_keys=True)
        search = search_text(record)
        # SQLite integers are signed 64-bit: a seed past 2**63 is stored as its two's complement.
        stored_seed = seed - 2**64 if seed >= 2**63 else seed
        row = (record.get("created", time.time()), generator, stored_seed, text, image.width)
        row += (image.height, parent, caption_of(record), search)
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT INTO items (created, generator, seed, record, width, height, parent,"
                " caption, search) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            item = int(cursor.lastrowid)
            self._db.execute("INSERT INTO images VALUES (?, ?, ?)", (item, png, thumb))
        return item

    def set_favourite(self, ids: Iterable[int], favourite: bool) -> None:
        self._update("UPDATE items SET favourite = ? WHERE id = ?", favourite, ids)

    def delete(self, ids: Iterable[int]) -> None:
        """Hide items (undoable with `restore` until the project is closed)."""
        self._update("UPDATE items SET deleted = ? WHERE id = ?", True, ids)

    def restore(self, ids: Iterable[int]) -> None:
        self._update("UPDATE items SET deleted = ? WHERE id = ?", False, ids)

    def _update(self, sql: str, value: bool, ids: Iterable[int]) -> None:
        self._check_writable()
        with self._lock, self._db:
            self._db.executemany(sql, [(int(value), int(i)) for i in ids])

    def save_layout(self, layers: Sequence[Layer]) -> None:
        """Replace the stored canvas with `layers`, in one transaction."""
        self._check_writable()
        rows = [(la.item_id, la.x, la.y, la.scale, la.z, int(la.visible), la.name) for la in layers]
        with self._lock, self._db:
            self._db.execute("DELETE FROM canvas")
            self._db.executemany("INSERT INTO canvas VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

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
        self, generator: str | None = None, search: str = "", favourites: bool = False
    ) -> list[ItemRow]:
        """Items newest first, optionally filtered; no pixels are read."""
        sql = "SELECT id, created, generator, seed, width, height, favourite, caption FROM items"
        where, args = ["NOT deleted"], []
        if generator:
            where.append("generator = ?")
            args.append(generator)
        if favourites:
            where.append("favourite")
        for word in search.lower().split():
            where.append("instr(search, ?) > 0")
            args.append(word)
        sql += " WHERE " + " AND ".join(where) + " ORDER BY created DESC, id ASC"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [ItemRow(r[0], r[1], r[2], r[3] % 2**64, r[4], r[5], bool(r[6]), r[7]) for r in rows]

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM items WHERE NOT deleted").fetchone()[0]

    def generators(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT generator FROM items WHERE NOT deleted ORDER BY generator"
            )
            return [r[0] for r in rows]

    def record(self, item_id: int) -> dict:
        return json.loads(self._one("items", "record", item_id))

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
            rows = self._db.execute(
                "SELECT c.item_id, c.x, c.y, c.scale, c.z, c.visible, c.name FROM canvas c"
                " JOIN items i ON i.id = c.item_id WHERE NOT i.deleted ORDER BY c.z"
            ).fetchall()
        return [Layer(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6]) for r in rows]

    def integrity_ok(self) -> bool:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def _one(self, table: str, column: str, item_id: int) -> Any:
        with self._lock:
            row = self._db.execute(
                f"SELECT {column} FROM {table} WHERE id = ?", (item_id,)
            ).fetchone()
        if row is None:
            raise KeyError(f"No item {item_id} in '{self.path.name}'")
        return row[0]

    def _check_writable(self) -> None:
        if self.read_only:
            raise ProjectError(f"'{self.path.name}' is open read-only.")
        if self._db is None:
            raise ProjectError(f"'{self.path.name}' is closed.")


def search_text(record: dict) -> str:
    """What a gallery search matches: names, model, this image's seed and every parameter
    value (not timestamps or hashes, which would match almost any number)."""
    words = [record.get(k, "") for k in ("generator", "generator_title", "model", "method")]
    words.append(f"seed {record.get('seed', '')}")
    for key, value in sorted(record.get("params", {}).items()):
        if key != "seed":
            words.append(f"{key} {value}")
    return " ".join(str(w) for w in words if w != "").lower()


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
    if read_only:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)
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


def caption_of(record: dict) -> str:
    """The short line the gallery shows under a thumbnail."""
    params = record.get("params", {})
    if record.get("generator") == IMPORTED:
        return str(params.get("name", "imported"))
    sequence = record.get("sequence")
    if sequence:
        return f"frame {sequence['index'] + 1}/{sequence['length']}"
    prompt = str(params.get("prompt", "")).strip()
    if prompt:
        return prompt[:40]
    source = params.get("image")
    if isinstance(source, str) and source:  # made from an input image: name it
        style = params.get("style_image") if params.get("model") != "builtin" else None
        text = PurePath(source.replace("\\", "/")).stem
        if isinstance(style, str) and style:
            text += " · " + PurePath(style.replace("\\", "/")).stem
        return text[:40]
    return f"seed {record.get('seed', '')}"


def _app_version() -> str:
    from studio import __version__

    return __version__
