"""Writes tests/data/project-v2.studio: a project as Studio's second project format stored it
(pixels in their own table, favourites, lineage, a canvas), with no stored queue.

Kept so the fixture can be explained and re-made; the committed file is what the migration
tests read. Run: .venv/bin/python tests/data/make_project_v2.py
"""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

from PIL import Image

from studio.core.project_schema import APPLICATION_ID, _create_v1, _v1_to_v2

OUT = Path(__file__).with_name("project-v2.studio")
# (generator, seed, colour, params, caption and search text as version 2 wrote them)
ITEMS = [
    ("gan_faces", 7, (200, 40, 40), {"mode": "sample", "count": 2, "seed": 7, "size": 64},
     "seed 7", "gan_faces gan faces seed 7 count 2 mode sample size 64"),
    ("gan_faces", 8, (40, 200, 40), {"mode": "sample", "count": 2, "seed": 7, "size": 64},
     "seed 8", "gan_faces gan faces seed 8 count 2 mode sample size 64"),
    ("text_to_image", 123, (40, 40, 200), {"prompt": "a red fox, oil painting", "steps": 20},
     "a red fox, oil painting",
     "text_to_image text to image seed 123 prompt a red fox, oil painting steps 20"),
]  # fmt: skip


def encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def main() -> None:
    OUT.unlink(missing_ok=True)
    db = sqlite3.connect(OUT, isolation_level=None)
    _create_v1(db)
    _v1_to_v2(db)
    for n, (generator, seed, colour, params, caption, search) in enumerate(ITEMS):
        image = Image.new("RGB", (64, 64), colour)
        record = {
            "generator": generator,
            "generator_title": generator.replace("_", " "),
            "params": params,
            "seed": seed,
            "width": 64,
            "height": 64,
            "created": 1_795_000_000.0 + n,
        }
        cursor = db.execute(
            "INSERT INTO items (created, generator, seed, record, width, height, favourite,"
            " parent, caption, search) VALUES (?, ?, ?, ?, 64, 64, ?, ?, ?, ?)",
            (record["created"], generator, seed, json.dumps(record), int(n == 0),
             1 if n == 1 else None, caption, search),
        )  # fmt: skip
        item = cursor.lastrowid
        db.execute(
            "INSERT INTO images VALUES (?, ?, ?)",
            (item, encode(image, "PNG"), encode(image.resize((32, 32)), "JPEG")),
        )
        db.execute(
            "INSERT INTO canvas VALUES (?, ?, 10, 1.0, ?, 1, ?)", (item, n * 80.0, n, caption)
        )
    db.execute("INSERT INTO meta VALUES ('app', '0.1.0')")
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 2")
    db.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
