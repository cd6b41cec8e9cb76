"""Start-up paths import nothing heavy (the layers themselves are import-linter's contracts,
run by ./test.sh)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QT_FREE = [ROOT / "studio" / "core", ROOT / "plugins"]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_core_and_discovering_plugins_loads_no_torch_and_no_qt():
    out = run_python(
        "import sys, importlib, pkgutil, studio.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__):\n"
        "    importlib.import_module('studio.core.' + m.name)\n"
        "from studio.core.registry import default_registry\n"
        "r = default_registry()\n"
        "assert r.generators(), r.unavailable\n"
        "heavy = ('torch', 'PySide6', 'diffusers', 'onnxruntime')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    assert out == "[]"


def test_building_the_window_imports_nothing_heavy():
    out = run_python(
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from studio.app import create_window\n"
        "w = create_window(); w.show(); app.processEvents()\n"
        "heavy = ('torch', 'numpy', 'PIL.Image', 'onnxruntime', 'diffusers')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "w.close()"
    )
    assert out.splitlines()[-1] == "[]"


def test_only_the_ui_layer_imports_pyqtgraph():
    offenders = [
        str(path.relative_to(ROOT))
        for folder in (ROOT / "studio", ROOT / "plugins")
        for path in folder.rglob("*.py")
        if "pyqtgraph" in imported_modules(path) and not path.is_relative_to(ROOT / "studio" / "ui")
    ]
    assert offenders == []
    assert "pyqtgraph" in imported_modules(ROOT / "studio" / "ui" / "charts.py")
