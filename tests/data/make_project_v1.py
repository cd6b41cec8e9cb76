"""Writes tests/data/project-v1.studio: a project as Studio's first project format stored it.

Kept so the fixture can be explained and re-made; the committed file is what the migration
tests read. Run: .venv/bin/python tests/data/make_project_v1.py
"""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

from PIL import Image

from studio.core.project_schema import APPLICATION_ID, _create_v1

OUT = Path(__file__).with_name("project-v1.studio")
ITEMS = [
    ("gan_faces", 7, (200, 40, 40), {"mode": "sample", "count": 2, "seed": 7, "size": 64}),
    ("gan_faces", 8, (40, 200, 40), {"mode": "sample", "count": 2, "seed": 7, "size": 64}),
    ("text_to_image", 123, (40, 40, 200), {"prompt": "a red fox, oil painting", "steps": 20}),
]


def encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def main() -> None:
    OUT.unlink(missing_ok=True)
    db = sqlite3.connect(OUT, isolation_level=None)
    _create_v1(db)
    for n, (generator, seed, colour, params) in enumerate(ITEMS):
        image = Image.new("RGB", (64, 64), colour)
        record = {
            "generator": generator,
            "params": params,
            "seed": seed,
            "width": 64,
            "height": 64,
            "created": 1_790_000_000.0 + n,
        }
        db.execute(
            "INSERT INTO items (created, generator, seed, record, width, height, png, thumb)"
            " VALUES (?, ?, ?, ?, 64, 64, ?, ?)",
            (
                record["created"],
                generator,
                seed,
                json.dumps(record),
                encode(image, "PNG"),
                encode(image.resize((32, 32)), "JPEG"),
            ),
        )
    db.execute("INSERT INTO meta VALUES ('app', '0.1.0')")
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 1")
    db.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
