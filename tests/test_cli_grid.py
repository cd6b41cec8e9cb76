"""`studio grid` over the real GAN faces: cells kept, one labelled grid written and stored,
bad axes refused before anything runs, the same grid on a local Ray cluster."""

from __future__ import annotations

from contextlib import closing

import numpy as np
import pytest
from PIL import Image

from studio.cli import EXIT_USAGE, main
from studio.core.grid_image import GridImage
from studio.core.metadata import read_studio_record
from studio.core.project import Project

AXES = ["--x", "seed=1-4", "--y", "truncation=0.5,0.8,1"]


def grid_file(out) -> Image.Image:
    (path,) = out.glob("*.png")
    image = Image.open(path)
    image.load()
    return image


def cell_box(image: Image.Image, record: dict, ix: int, iy: int) -> tuple[int, int, int, int]:
    """Where cell (ix, iy) of 64-px cells sits, by the same layout the grid was drawn with."""
    axes = record["grid"]["axes"]
    grid = GridImage(tuple(record["grid"]["shape"]), axes["X"]["labels"], axes["Y"]["labels"])
    layout = grid._layout(64, 64)
    assert image.size == layout.size
    left, top = layout.pad_left + ix * 64, layout.pad_top + iy * 64
    return (left, top, left + 64, top + 64)


@pytest.mark.slow  # ~8 s of it is the plugin finding its typical face for truncation
def test_a_seed_by_truncation_grid_keeps_every_cell_and_the_grid(models_dir, tmp_path, capsys):
    out, project = tmp_path / "grids", tmp_path / "faces.studio"
    code = main(["grid", "gan_faces", *AXES, "--set", "size=64", "--out", str(out),
                 "--project", str(project), "-q"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "12 of 12 cell(s)" in capsys.readouterr().out
    picture = grid_file(out)
    record = read_studio_record(picture)
    assert record["grid"]["axes"]["X"]["values"] == [1, 2, 3, 4]
    assert record["grid"]["axes"]["Y"]["values"] == [0.5, 0.8, 1.0]
    assert record["infotext"]["X Type"] == "Seed" and record["infotext"]["Y Values"] == "0.5,0.8,1"
    with closing(Project.open(project)) as opened:
        assert opened.count() == 13 and len(opened.queue) == 0
        (grid_item,) = [r.id for r in opened.items() if "grid" in opened.record(r.id)]
        stored = opened.record(grid_item)
        cells = stored["grid"]["cells"]
        assert len(set(cells)) == 12 and grid_item not in cells
        for ix, iy in [(0, 0), (3, 1), (2, 2)]:
            cell = opened.record(cells[ix + iy * 4])
            assert cell["seed"] == ix + 1 and cell["params"]["truncation"] == [0.5, 0.8, 1.0][iy]
            assert cell["params"]["count"] == 1  # one face per cell
            face = np.asarray(opened.image(cells[ix + iy * 4]).convert("RGB"))
            pasted = np.asarray(picture.crop(cell_box(picture, record, ix, iy)))
            assert np.array_equal(face, pasted)  # the cell's own pixels, where its labels say
        assert np.array_equal(np.asarray(opened.image(grid_item)), np.asarray(picture))


def test_an_outside_reader_sees_a1111s_grid_keys(models_dir, tmp_path):
    from sd_parsers import ParserManager

    out = tmp_path / "grids"
    axes = ["--x", "seed=5-6", "--y", "size=64,128"]
    assert main(["grid", "gan_faces", *axes, "--out", str(out), "-q"]) == 0
    (path,) = out.glob("*.png")
    info = ParserManager().parse(str(path))
    assert info.metadata["Script"] == "X/Y/Z plot"  # A1111's own keys for an X/Y/Z plot
    assert info.metadata["X Type"] == "Seed" and info.metadata["X Values"] == "5-6"
    assert info.metadata["Y Type"] == "Size"
    # A1111 quotes a value holding a comma (infotext_utils.quote), as written here; sd-parsers
    # cuts such a value at its comma, so only the text itself is checked:
    assert 'Y Type: Size, Y Values: "64,128"' in info.raw_parameters["parameters"]
    with Image.open(path) as picture:  # the 128-px row sets the cell size
        assert picture.height > 2 * 128


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--x", "truncation=0.5,1.5"], "X axis: Truncation (truncation): 1.5 is out of range"),
        (["--y", "nope=1,2"], "Y axis: there is no parameter 'nope'; choose one of: model,"),
        (["--x", "seed"], "--x expects PARAM=VALUES, got 'seed'"),
        (["--x", "seed=1,2", "--y", "seed=3"], "'Seed' is on two axes"),
        (["--x", "frames=2,3"], "X axis: Frames does not apply with these settings"),
        ([], "Choose at least one axis"),
        (["--x", "seed=1-10000"], "under 16 px per cell"),
    ],
)
def test_bad_axes_are_refused_before_anything_is_stored(models_dir, tmp_path, capsys, args,
                                                         message):  # fmt: skip
    project = tmp_path / "p.studio"
    code = main(["grid", "gan_faces", *args, "--out", str(tmp_path / "o"), "--project",
                 str(project), "-q"])  # fmt: skip
    assert code == EXIT_USAGE
    assert message in capsys.readouterr().err
    assert not project.exists()


@pytest.mark.slow
def test_the_same_grid_on_a_local_cluster(local_ray, models_dir, tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    common = ["grid", "gan_faces", *AXES, "--device", "cpu", "-q"]
    assert main([*common, "--out", str(here)]) == 0
    # one worker: sharing jobs out among several is test_cluster.py's
    assert main([*common, "--out", str(there), "--cluster", "local", "--workers", "1",
                 "--project", str(tmp_path / "p.studio")]) == 0  # fmt: skip
    assert np.array_equal(np.asarray(grid_file(here)), np.asarray(grid_file(there)))


def test_ctrl_c_keeps_the_cells_made_and_leaves_the_rest_queued(models_dir, tmp_path, capsys,
                                                                monkeypatch):  # fmt: skip
    import os
    import signal

    from studio.cli import EXIT_INTERRUPTED
    from studio.cli import grid as grid_command

    made = []
    real = grid_command._cell_done

    def cell_done(grid, job):  # noqa: ANN001, ANN202 - Ctrl+C after the second cell
        real(grid, job)
        made.append(job)
        if len(made) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(grid_command, "_cell_done", cell_done)
    out, project = tmp_path / "grids", tmp_path / "p.studio"
    code = main(["grid", "gan_faces", "--x", "seed=1-5", "--out", str(out), "--project",
                 str(project), "-q"])  # fmt: skip
    assert code == EXIT_INTERRUPTED
    assert "interrupted after 2 of 5 cell(s); the rest stay queued" in capsys.readouterr().err
    assert not list(out.glob("*.png"))
    with closing(Project.open(project)) as opened:
        assert opened.count() == 2 and len(opened.queue) == 3
        assert sorted(s.entry.request.seed for s in opened.queue.entries()) == [3, 4, 5]
