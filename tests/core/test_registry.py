from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from studio.core import registry as registry_module
from studio.core.registry import Registry
from tests.fakes import Failing, SolidColour

GOOD = """
from tests.fakes import SolidColour

def generators():
    return [SolidColour()]
"""


def write_plugin(root: Path, name: str, body: str, package: bool = True) -> Path:
    if package:
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text(textwrap.dedent(body))
        return folder
    path = root / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_a_new_registry_is_empty():
    registry = Registry()
    assert registry.generators() == [] and registry.unavailable == []


def test_register_and_get():
    registry = Registry()
    registry.register(SolidColour())
    registry.register(Failing())
    assert "solid" in registry and registry.get("failing").title == "Failing"
    with pytest.raises(KeyError, match="Unknown generator 'nope'. Available: failing, solid"):
        registry.get("nope")


def test_a_duplicate_id_is_reported_not_replaced():
    registry = Registry()
    first = SolidColour()
    registry.register(first, "first")
    registry.register(SolidColour(), "second")
    assert registry.get("solid") is first
    assert "already used by first" in registry.unavailable[0].reason


def test_discover_isolates_broken_plugins(tmp_path):
    write_plugin(tmp_path, "good", GOOD)
    write_plugin(tmp_path, "syntax", "def generators(:\n")
    write_plugin(tmp_path, "missing_dep", "import package_that_is_not_there\n")
    write_plugin(tmp_path, "raises", "def generators():\n    raise RuntimeError('no GPU here')\n")
    write_plugin(tmp_path, "nothing", "X = 1\n")
    write_plugin(
        tmp_path,
        "single_file",
        GOOD.replace("SolidColour()", "Failing()").replace("import SolidColour", "import Failing"),
        package=False,
    )
    registry = Registry().discover(builtin_dir=None, user_dir=tmp_path, use_entry_points=False)
    assert sorted(g.id for g in registry.generators()) == ["failing", "solid"]
    reasons = {u.name: u.reason for u in registry.unavailable}
    assert set(reasons) == {"syntax", "missing_dep", "raises", "nothing"}
    assert "SyntaxError" in reasons["syntax"]
    assert "package_that_is_not_there" in reasons["missing_dep"]
    assert reasons["raises"] == "RuntimeError: no GPU here"
    assert "generators()" in reasons["nothing"]


def test_a_plugin_package_can_use_relative_imports(tmp_path):
    folder = write_plugin(tmp_path, "rel", "from .impl import generators\n")
    (folder / "impl.py").write_text(GOOD)
    registry = Registry().discover(builtin_dir=None, user_dir=tmp_path, use_entry_points=False)
    assert [g.id for g in registry.generators()] == ["solid"]


def test_an_object_that_is_not_a_generator_is_refused(tmp_path):
    write_plugin(tmp_path, "wrong", "def generators():\n    return [object()]\n")
    registry = Registry().discover(builtin_dir=None, user_dir=tmp_path, use_entry_points=False)
    assert registry.generators() == []
    assert "not a studio Generator" in registry.unavailable[0].reason


class FakeEntryPoint:
    def __init__(self, name, target):
        self.name, self._target = name, target

    def load(self):
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def test_entry_points_are_loaded_and_isolated(monkeypatch):
    points = [
        FakeEntryPoint("ok", lambda: [SolidColour()]),
        FakeEntryPoint("broken", ImportError("cannot import name 'x'")),
    ]
    monkeypatch.setattr(registry_module, "_entry_points", lambda group: points)
    registry = Registry().discover(builtin_dir=None, user_dir=None, use_entry_points=True)
    assert [g.id for g in registry.generators()] == ["solid"]
    assert registry.unavailable[0].name == "entry point broken"


def test_the_builtin_plugins_are_found():
    registry = Registry().discover(use_entry_points=False)
    assert "gan_faces" in registry
    assert registry.unavailable == []
