"""A plugin from the user's plugin folder gets everything a built-in gets, through the
contract's hooks alone: nothing in studio/ knows it by name."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QMenu

from studio.core.devices import CPU
from studio.core.jobs import Executor, JobState
from studio.core.project import Project
from studio.core.registry import Registry
from studio.ui.main_window import MainWindow

PLUGIN = """
from pathlib import Path
from PIL import Image
from studio.core.generator import (
    Generator, ImageParam, IntParam, Kind, ModelParam, SeedParam, TextParam,
)

class Space:
    def manifold(self, n): return Image.new("L", (n * 4, n * 4), 80)
    def grid_extent(self, n): return (-1.0, 1.0)
    def decode(self, points): return [Image.new("L", (8, 8), 100) for _ in points]
    def encode(self, image): return (0.0, 0.0)
    def reconstruct(self, image): return image
    def heldout_points(self): return [(0.0, 0.0, 3)]

class Painter(Generator):
    id = "painter"
    title = "Painter"
    offers_latent_space = True
    params = (
        ModelParam(name="brush", optional=True),
        ImageParam(name="canvas", role="content", optional=True),
        ImageParam(name="look", role="style", optional=True),
        ImageParam(name="under", role="init", optional=True),
        ImageParam(name="where", role="mask", optional=True),
        TextParam(name="mode", default="plain"),
        IntParam(name="grain", default=1, minimum=1, maximum=9),
        SeedParam(name="seed"),
    )

    def accepts_model(self, path):
        return Path(path).suffix == ".brush"

    def complete(self, values):
        values = dict(values)
        if values.get("look"):
            values["mode"] = "styled"
        return values

    def caption(self, result):
        return f"painted {result.params['mode']}"

    def describe_models(self, models_dir):
        return ["Painter brushes: none yet"]

    def suggested_values(self, values, models_dir):
        return {"grain": 5} if values.get("brush") else {}

    def restore(self, values, models_dir, carried=None):
        return dict(values), ["Painter read this image its own way"]

    def find_install(self, path):
        from studio.core.generator import ExistingInstall

        folder = Path(path) / "brushes"
        found = [("brushes", folder)] if folder.is_dir() else []
        return ExistingInstall("Painter Pro", Path(path), found) if found else None

    def latent_space(self, models_dir):
        return Space()

    def run(self, request, ctx):
        ctx.progress(1, 1)
        return [self.result(request, Image.new("RGB", (24, 24), "orange"), request.seed)]

class Teacher(Generator):
    id = "teacher"
    title = "Teach the painter"
    kind = Kind.TRAIN
    params = (IntParam(name="rounds", default=2, minimum=1, maximum=5), SeedParam(name="seed"))

    def run(self, request, ctx):
        for n in range(request.params["rounds"]):
            ctx.check_cancelled()
            figures = {"epoch": n + 1, "train_recon": 1.0 / (n + 1)}
            ctx.progress(n + 1, request.params["rounds"], None, figures)
        return [self.result(request, Image.new("RGB", (8, 8)), request.seed, note="Taught")]

def generators():
    return [Painter(), Teacher()]
"""


@pytest.fixture
def plugin_window(qtbot, tmp_path, models_dir):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "painter_plugin.py").write_text(PLUGIN)
    registry = Registry().discover(builtin_dir=None, user_dir=folder, use_entry_points=False)
    assert [g.id for g in registry.generators()] == ["painter", "teacher"]
    project = Project.open(tmp_path / "p.studio", create=True)
    window = MainWindow(registry, Executor(registry.get, lambda: CPU, models_dir), models_dir,
                        project=project)  # fmt: skip
    qtbot.addWidget(window, before_close_func=lambda w: w.jobs.shutdown())
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    return window, project


def test_a_third_party_plugin_gets_every_place_a_built_in_gets(plugin_window, qtbot, tmp_path):
    window, project = plugin_window
    # Kind: the trainer is in the Train panel, not the picker; offers_latent_space: a map.
    picker = [
        window.prompt_panel.picker.itemData(i) for i in range(window.prompt_panel.picker.count())
    ]
    assert picker == ["painter"] and window.train_panel is not None
    assert window.latent_map is not None
    # caption: its results carry the plugin's own line.
    with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000) as done:
        window.prompt_panel.request_generate()
    assert done.args[0].state is JobState.DONE
    assert project.items()[0].caption == "painted plain"
    # image roles + complete: dragging one picture onto another runs it, completed.
    first, second = (project.add_image(_picture(), f"{n}.png") for n in "ab")
    source, target = window.canvas.item_for_key(first), window.canvas.item_for_key(second)
    with qtbot.waitSignal(window.jobs.job_finished, timeout=10_000) as restyled:
        window.canvas.item_dropped_on.emit(source, target)
    status = restyled.args[0]
    assert status.request.params["mode"] == "styled" and status.parent == second
    # roles init + mask: the item menu offers mask painting for it.
    menu = QMenu(window)
    window.inputs.fill_menu(target, menu, window.canvas.delete_action)
    texts = [a.text() for a in menu.actions()]
    assert "Paint a mask for inpainting (Painter)…" in texts
    assert "Use as Canvas (Painter)" in texts and "Use as Look (Painter)" in texts
    # accepts_model: a dropped file of its kind becomes one of the user's models.
    brush = tmp_path / "soft.brush"
    brush.write_text("brush")
    window.files.drop([brush], None)
    assert "Added soft.brush to your models" in window.status_label.text()
    # suggested_values: the form follows the model the user picks.
    form = window.prompt_panel.form("painter")
    form.set_values({"brush": str(brush)})
    qtbot.waitUntil(lambda: form.values()["grain"] == 5, timeout=2_000)
    # find_install: "Add an existing install…" finds its folders.
    from studio.ui.preferences import PreferencesDialog

    (tmp_path / "pro" / "brushes").mkdir(parents=True)
    prefs = PreferencesDialog(None, window.executor, window, window.registry.generators())
    assert prefs.add_install(tmp_path / "pro")
    assert str(tmp_path / "pro" / "brushes") in [str(p) for p in prefs.model_paths()]


def test_restoring_an_image_asks_the_plugin(plugin_window, qtbot, tmp_path):
    from studio.core.metadata import save_options

    window, project = plugin_window
    record = {"generator": "painter", "params": {"mode": "plain", "seed": 4}, "seed": 4,
              "width": 8, "height": 8}  # fmt: skip
    path = tmp_path / "made.png"
    _picture().save(path, "PNG", **save_options(record, "PNG"))
    window.restorer.restore(path)
    qtbot.waitUntil(lambda: "its own way" in window.banner.label.text(), timeout=10_000)


def test_its_models_are_listed_by_the_command_line(tmp_path, monkeypatch, capsys):
    from studio.cli import main

    home = tmp_path / "home"
    (home / "plugins").mkdir(parents=True)
    (home / "plugins" / "painter_plugin.py").write_text(PLUGIN)
    monkeypatch.setenv("STUDIO_HOME", str(home))
    assert main(["models", "list"]) == 0
    assert "Painter brushes: none yet" in capsys.readouterr().out
    assert main(["train", "teacher", "--set", "rounds=2", "-q"]) == 0
    assert "Taught" in capsys.readouterr().out


def _picture():
    from PIL import Image

    return Image.new("RGB", (40, 30), "navy")
