"""Finds generator plugins: built-ins in plugins/, the user's plugin folder, entry points.

A plugin is a module (or package) with a function `generators()` returning Generator
instances. An entry point in the group "studio.plugins" names such a function or module.
A plugin that fails to import or to list its generators is recorded as unavailable with
its reason; the others carry on.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from studio.core.generator import Generator

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "studio.plugins"
BUILTIN_DIR = Path(__file__).resolve().parents[2] / "plugins"


@dataclass(frozen=True)
class Unavailable:
    """A plugin or generator that cannot be used, and why (shown to the user)."""

    name: str
    source: str
    reason: str


class Registry:
    """The generators this session can use, plus those that failed and why."""

    def __init__(self) -> None:
        self._generators: dict[str, Generator] = {}
        self._sources: dict[str, str] = {}
        self.unavailable: list[Unavailable] = []

    # -- registration

    def register(self, generator: Generator, source: str = "code") -> None:
        problem = _contract_problem(generator)
        if problem:
            self._fail(getattr(generator, "id", "") or type(generator).__name__, source, problem)
            return
        if generator.id in self._generators:
            first = self._sources[generator.id]
            self._fail(generator.id, source, f"id '{generator.id}' is already used by {first}")
            return
        self._generators[generator.id] = generator
        self._sources[generator.id] = source

    def discover(
        self,
        builtin_dir: Path | None = BUILTIN_DIR,
        user_dir: Path | None = None,
        use_entry_points: bool = True,
    ) -> Registry:
        """Load every plugin found; returns self for chaining."""
        if builtin_dir is not None and builtin_dir.is_dir():
            for path in _plugin_paths(builtin_dir):
                self._load(path.stem if path.is_file() else path.name, path, "studio_builtin")
        if user_dir is not None and user_dir.is_dir():
            for path in _plugin_paths(user_dir):
                self._load(path.stem if path.is_file() else path.name, path, "studio_user")
        if use_entry_points:
            for ep in _entry_points(ENTRY_POINT_GROUP):
                self._add_from(f"entry point {ep.name}", lambda ep=ep: ep.load())
        return self

    # -- queries

    def get(self, generator_id: str) -> Generator:
        try:
            return self._generators[generator_id]
        except KeyError:
            known = ", ".join(sorted(self._generators)) or "none"
            down = [u for u in self.unavailable if u.name == generator_id]
            if down:
                raise KeyError(
                    f"Generator '{generator_id}' is unavailable: {down[0].reason}"
                ) from None
            raise KeyError(f"Unknown generator '{generator_id}'. Available: {known}") from None

    def generators(self) -> list[Generator]:
        return list(self._generators.values())

    def unavailable_reasons(self, models_dir: Any) -> dict[str, str]:
        """Why each plugin or generator that cannot run here cannot (cheap checks only)."""
        reasons = {u.name: u.reason for u in self.unavailable}
        for generator in self.generators():
            reason = generator.unavailable_reason(models_dir)
            if reason:
                reasons[generator.id] = reason
        return reasons

    def __contains__(self, generator_id: object) -> bool:
        return generator_id in self._generators

    # -- internals

    def _load(self, name: str, path: Path, namespace: str) -> None:
        source = f"{path}"
        self._add_from(source, lambda: _import_path(f"{namespace}.{name}", path))

    def _add_from(self, source: str, load: Callable[[], Any]) -> None:
        try:
            target = load()
            factory = (
                getattr(target, "generators", target) if isinstance(target, ModuleType) else target
            )
            if not callable(factory):
                raise TypeError("it has no generators() function")
            made = factory()
            found = list(made if isinstance(made, Iterable) else [made])
        except Exception as exc:  # noqa: BLE001 - any plugin failure is isolated and reported
            log.debug("plugin %s failed to load", source, exc_info=True)
            self._fail(Path(source).name if "/" in source else source, source, _describe(exc))
            return
        for generator in found:
            self.register(generator, source)

    def _fail(self, name: str, source: str, reason: str) -> None:
        log.warning("plugin %s (%s) unavailable: %s", name, source, reason)
        self.unavailable.append(Unavailable(name, source, reason))


def _entry_points(group: str) -> Any:
    from importlib.metadata import entry_points  # ~25 ms: only when discovery asks for it

    return entry_points(group=group)


def _plugin_paths(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if (path.is_dir() and (path / "__init__.py").is_file()) or path.suffix == ".py":
            found.append(path)
    return found


def _import_path(module_name: str, path: Path) -> ModuleType:
    if module_name in sys.modules:
        return sys.modules[module_name]
    parent = module_name.rpartition(".")[0]
    if parent and parent not in sys.modules:  # relative imports inside the plugin need it
        namespace = ModuleType(parent)
        namespace.__path__ = []
        sys.modules[parent] = namespace
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            module_name, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _contract_problem(generator: Any) -> str | None:
    if not isinstance(generator, Generator):
        return f"{generator!r} is not a studio Generator"
    if not generator.id or not generator.id.isidentifier():
        return f"generator id {generator.id!r} is not a valid identifier"
    if not generator.title:
        return f"generator '{generator.id}' has no title"
    names = [p.name for p in generator.params]
    if len(names) != len(set(names)):
        return f"generator '{generator.id}' declares a parameter twice"
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return f"needs the Python package '{exc.name}', which is not installed"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def default_registry() -> Registry:
    """Built-ins, the user's plugin folder and installed entry points."""
    from studio.core.paths import plugins_dir

    return Registry().discover(BUILTIN_DIR, plugins_dir(), use_entry_points=True)
