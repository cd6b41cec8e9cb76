"""The project file's schema, its version history, and the migrations between versions.

A new project is built by running every step from version 1, so the path an old file takes
is the same path every new file took: each step is exercised by every test that makes a
project, and committed fixtures of every earlier version (tests/data/) prove the upgrade.

A step never calls today's code: what it computes (a caption, a search text) is frozen inside
it as it was when that version was current, so an old file upgrades to the same thing forever.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import PurePath

APPLICATION_ID = 0x53545544  # "STUD": marks a SQLite file as a Studio project
SCHEMA_VERSION = 3


def _create_v1(db: sqlite3.Connection) -> None:
    # v1: results only: their record, image and thumbnail.
    _run(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            created REAL NOT NULL,
            generator TEXT NOT NULL,
            seed INTEGER NOT NULL,
            record TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            png BLOB NOT NULL,
            thumb BLOB NOT NULL
        );
        CREATE INDEX items_created ON items (created);
        """,
    )


def _v1_to_v2(db: sqlite3.Connection) -> None:
    # v2: pixels move to their own table, so listing, filtering and searching items never
    # reads past image data; items gain favourites, soft delete (undo), lineage, a stored
    # caption and search text; and the canvas is kept.
    db.create_function("search_text_v2", 1, lambda text: _search_text_v2(json.loads(text)))
    db.create_function("caption_of_v2", 1, lambda text: _caption_of_v2(json.loads(text)))
    _run(
        db,
        """
        CREATE TABLE images (id INTEGER PRIMARY KEY, png BLOB NOT NULL, thumb BLOB NOT NULL);
        INSERT INTO images (id, png, thumb) SELECT id, png, thumb FROM items;
        CREATE TABLE items_v2 (
            id INTEGER PRIMARY KEY,
            created REAL NOT NULL,
            generator TEXT NOT NULL,
            seed INTEGER NOT NULL,
            record TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            favourite INTEGER NOT NULL DEFAULT 0,
            deleted INTEGER NOT NULL DEFAULT 0,
            parent INTEGER,
            tags TEXT NOT NULL DEFAULT '',
            caption TEXT NOT NULL DEFAULT '',
            search TEXT NOT NULL DEFAULT ''
        );
        INSERT INTO items_v2 (id, created, generator, seed, record, width, height, caption, search)
            SELECT id, created, generator, seed, record, width, height,
                   caption_of_v2(record), search_text_v2(record)
            FROM items;
        DROP TABLE items;
        ALTER TABLE items_v2 RENAME TO items;
        CREATE INDEX items_created ON items (created);
        CREATE INDEX items_generator ON items (generator);
        CREATE TABLE canvas (
            item_id INTEGER PRIMARY KEY REFERENCES items (id),
            x REAL NOT NULL,
            y REAL NOT NULL,
            scale REAL NOT NULL DEFAULT 1.0,
            z REAL NOT NULL DEFAULT 0.0,
            visible INTEGER NOT NULL DEFAULT 1,
            name TEXT NOT NULL DEFAULT ''
        )
        """,
    )


def _search_text_v2(record: dict) -> str:
    # Frozen: the search text as version 2 stored it.
    words = [record.get(k, "") for k in ("generator", "generator_title", "model", "method")]
    words.append(f"seed {record.get('seed', '')}")
    for key, value in sorted(record.get("params", {}).items()):
        if key != "seed":
            words.append(f"{key} {value}")
    return " ".join(str(w) for w in words if w != "").lower()


def _caption_of_v2(record: dict) -> str:
    # Frozen: the gallery caption as version 2 stored it.
    params = record.get("params", {})
    if record.get("generator") == "imported":
        return str(params.get("name", "imported"))
    sequence = record.get("sequence")
    if sequence:
        return f"frame {sequence['index'] + 1}/{sequence['length']}"
    prompt = str(params.get("prompt", "")).strip()
    if prompt:
        return prompt[:40]
    source = params.get("image")
    if isinstance(source, str) and source:
        style = params.get("style_image") if params.get("model") != "builtin" else None
        text = PurePath(source.replace("\\", "/")).stem
        if isinstance(style, str) and style:
            text += " · " + PurePath(style.replace("\\", "/")).stem
        return text[:40]
    return f"seed {record.get('seed', '')}"


def _v2_to_v3(db: sqlite3.Connection) -> None:
    # v3: jobs not yet finished are kept with the project (their request and order), so a
    # crash, a kill or a quit with work queued loses none of it: reopening offers to resume.
    _run(
        db,
        """
        CREATE TABLE queue (
            id INTEGER PRIMARY KEY,
            position REAL NOT NULL,
            created REAL NOT NULL,
            title TEXT NOT NULL,
            request TEXT NOT NULL,
            parent INTEGER,
            keep INTEGER,
            output TEXT,
            batch TEXT,
            batch_index INTEGER
        );
        CREATE INDEX queue_position ON queue (position)
        """,
    )


def _run(db: sqlite3.Connection, script: str) -> None:
    # executescript would COMMIT first, breaking the all-or-nothing upgrade.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: _create_v1,
    1: _v1_to_v2,
    2: _v2_to_v3,
}


def upgrade(db: sqlite3.Connection, current: int) -> int:
    """Run every step from `current` to SCHEMA_VERSION in one transaction; returns the new
    version. The caller holds no open transaction."""
    if current == SCHEMA_VERSION:
        return current
    db.execute("BEGIN IMMEDIATE")
    try:
        for version in range(current, SCHEMA_VERSION):
            STEPS[version](db)
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION
