"""The project store: commits, queries, layout, locking, bad files and migrations."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from PIL import Image

from studio.core.metadata import read_studio_record
from studio.core.project import Layer, Project, ProjectError, ProjectLockedError
from studio.core.project_schema import SCHEMA_VERSION
from tests.fakes import SolidColour

DATA = Path(__file__).resolve().parents[1] / "data"


def results(count=3, seed=1, **params):
    gen = SolidColour()
    request = gen.make_request({"count": count, "seed": seed, **params})
    out = gen.run(request, _Ctx())
    for i, r in enumerate(out):
        r.created = 1000.0 + seed + i
    return out


class _Ctx:
    def progress(self, *args):
        pass


@pytest.fixture
def project(tmp_path):
    with closing(Project.open(tmp_path / "p.studio", create=True)) as opened:
        yield opened


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_results_are_committed_with_their_record_and_metadata(project):
    ids = project.add_results(results(3, seed=10))
    assert len(ids) == 3 and project.count() == 3
    record = project.record(ids[1])
    assert record["seed"] == 11 and record["generator"] == "solid"
    png = Image.open(__import__("io").BytesIO(project.png(ids[1])))
    assert read_studio_record(png)["seed"] == 11
    assert project.image(ids[1]).getpixel((0, 0)) == (11, 77, 143)
    thumb = Image.open(__import__("io").BytesIO(project.thumbnail(ids[1])))
    assert thumb.format == "JPEG" and max(thumb.size) <= 160


def test_items_are_newest_first_and_filter(project):
    older = project.add_results(results(2, seed=1))
    newer = project.add_results(results(2, seed=50))
    assert [i.id for i in project.items()] == [newer[1], newer[0], older[1], older[0]]
    project.set_favourite([older[0]], True)
    assert [i.id for i in project.items(favourites=True)] == [older[0]]
    assert project.items(generator="nothing") == []
    assert {i.id for i in project.items(search="seed 51")} == {newer[1]}  # this image's seed
    assert len(project.items(search="count 2")) == 4  # and every parameter
    assert project.generators() == ["solid"]


def test_imported_images_are_kept_and_searchable(project):
    item = project.add_image(Image.new("RGBA", (30, 20), (0, 0, 0, 0)), "holiday.png", "/x")
    (row,) = project.items(search="holiday")
    assert row.id == item and row.caption == "holiday.png" and (row.width, row.height) == (30, 20)


def test_delete_restore_and_purge_on_reopen(tmp_path):
    path = tmp_path / "p.studio"
    with closing(Project.open(path, create=True)) as project:
        ids = project.add_results(results(3))
        project.save_layout([Layer(i, 10.0 * n, 0.0) for n, i in enumerate(ids)])
        project.delete(ids[:2])
        assert [i.id for i in project.items()] == [ids[2]]
        assert [la.item_id for la in project.layout()] == [ids[2]]
        project.restore([ids[0]])
        assert {i.id for i in project.items()} == {ids[0], ids[2]}
    with closing(Project.open(path)) as project:
        assert {i.id for i in project.items()} == {ids[0], ids[2]}
        with pytest.raises(KeyError):
            project.png(ids[1])


def test_layout_round_trips(project):
    ids = project.add_results(results(2))
    layers = [Layer(ids[0], 1.5, -2.0, 2.0, 3.0, False, "a"), Layer(ids[1], 0.0, 0.0)]
    project.save_layout(layers)
    assert sorted(project.layout(), key=lambda la: la.item_id) == sorted(
        layers, key=lambda la: la.item_id
    )


def test_save_as_copies_everything(project, tmp_path):
    ids = project.add_results(results(2))
    copy = project.save_as(tmp_path / "copy.studio")
    project.add_results(results(1, seed=99))  # the original carries on
    with closing(Project.open(copy)) as other:
        assert sorted(i.id for i in other.items()) == sorted(ids)
        assert other.integrity_ok()


def test_a_second_writer_is_refused_and_read_only_works(tmp_path):
    path = tmp_path / "p.studio"
    with closing(Project.open(path, create=True)) as project:
        project.add_results(results(1))
        with pytest.raises(ProjectLockedError, match="open in another Studio window"):
            Project.open(path)
        with closing(Project.open(path, read_only=True)) as viewer:
            assert viewer.count() == 1
            with pytest.raises(ProjectError, match="read-only"):
                viewer.add_results(results(1))
    with closing(Project.open(path)) as again:  # the lock went with the first project
        assert again.count() == 1


def test_the_lock_holds_across_processes(tmp_path):
    path = tmp_path / "p.studio"
    Project.open(path, create=True).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from studio.core.project import Project;"
            f" p = Project.open({str(path)!r}); print('open', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(ProjectLockedError):
            Project.open(path)
    finally:
        holder.kill()
        holder.wait()
    Project.open(path).close()  # a killed holder leaves no stale lock


def test_a_newer_project_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "new.studio"
    Project.open(path, create=True).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    before = digest(path)
    with pytest.raises(ProjectError, match="newer Studio"):
        Project.open(path)
    assert digest(path) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"just some text", "not a Studio project"),
        (b"", "not a Studio project"),
        (b"SQLite format 3\x00" + b"\xff" * 4000, "damaged"),
    ],
)
def test_bad_files_give_a_clear_message_and_stay_untouched(tmp_path, content, message):
    path = tmp_path / "bad.studio"
    path.write_bytes(content)
    with pytest.raises(ProjectError, match=message):
        Project.open(path)
    assert path.read_bytes() == content


def test_another_sqlite_file_is_not_a_project(tmp_path):
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    before = digest(path)
    with pytest.raises(ProjectError, match="not a Studio project"):
        Project.open(path)
    assert digest(path) == before


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        Project.open(tmp_path / "nope.studio")
    with pytest.raises(ProjectError, match="folder"):
        Project.open(tmp_path, create=True)


def test_every_earlier_version_migrates_forward(tmp_path):
    fixtures = sorted(DATA.glob("project-v*.studio"))
    versions = {int(p.stem.split("-v")[1]) for p in fixtures}
    assert versions == set(range(1, SCHEMA_VERSION)), "commit a fixture of every earlier version"
    for fixture in fixtures:
        path = tmp_path / fixture.name
        shutil.copy(fixture, path)
        with closing(Project.open(path)) as project:
            assert project.count() == 3 and project.integrity_ok()
            (fox,) = project.items(search="fox painting")
            assert project.record(fox.id)["params"]["prompt"] == "a red fox, oil painting"
            assert project.image(fox.id).getpixel((5, 5)) == (40, 40, 200)
            ids = project.add_results(results(1))  # and it works as a current project
            project.save_layout([Layer(ids[0], 0, 0)])
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        db.close()
        backup = path.with_name(f"{path.stem}.v{fixture.stem[-1]}.backup.studio")
        assert backup.exists()


# What version 2 stored for the v1 fixture's items (caption, search text): an upgrade must
# give exactly this forever, whatever today's captions and search look like.
V1_UPGRADED = {
    7: ("seed 7", "gan_faces seed 7 count 2 mode sample size 64"),
    8: ("seed 8", "gan_faces seed 8 count 2 mode sample size 64"),
    123: (
        "a red fox, oil painting",
        "text_to_image seed 123 prompt a red fox, oil painting steps 20",
    ),
}


def test_a_v1_project_upgrades_to_the_captions_and_search_text_of_its_time(tmp_path):
    path = tmp_path / "old.studio"
    shutil.copy(DATA / "project-v1.studio", path)
    project = Project.open(path)
    try:
        db = project._db
        rows = db.execute("SELECT seed, caption, search FROM items ORDER BY id").fetchall()
        assert {seed: (caption, search) for seed, caption, search in rows} == V1_UPGRADED
        assert project.queue.entries() == []
    finally:
        project.close()


def test_a_v2_project_keeps_its_canvas_favourites_and_lineage(tmp_path):
    path = tmp_path / "v2.studio"
    shutil.copy(DATA / "project-v2.studio", path)
    project = Project.open(path)
    try:
        rows = {row.seed: row for row in project.items()}
        assert rows[7].favourite and not rows[8].favourite
        assert rows[8].parent == rows[7].id
        assert [(la.x, la.name) for la in project.layout()] == [
            (0.0, "seed 7"),
            (80.0, "seed 8"),
            (160.0, "a red fox, oil painting"),
        ]
        assert len(project.queue) == 0
    finally:
        project.close()
