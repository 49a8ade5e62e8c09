"""Where systems, tasks and judges come from, loaded lazily so a broken plugin cannot break the CLI.

Resolution order for a name: built-ins, then tasks discovered as ``tasks/<name>/task.py`` (the ``tasks``
package, plus folders listed in ``MEMBENCH_TASKS_PATH``), then ``--plugin module:object`` objects, then
the entry-point groups ``membench.systems``, ``membench.tasks`` and ``membench.judges``. Nothing heavy is
imported until a name is actually used.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from membench.core.errors import ConfigError

BUILTIN_SYSTEMS: dict[str, str] = {
    "no-memory": "membench.systems.baselines:NoMemorySystem",
    "full-context": "membench.systems.baselines:FullContextSystem",
    "bm25": "membench.systems.bm25:BM25System",
    "dense": "membench.systems.dense:DenseSystem",
    "mem0": "membench.systems.mem0:Mem0System",
}

BUILTIN_READERS: dict[str, str] = {
    "extractive": "membench.readers.extractive:ExtractiveReader",
    "llm": "membench.readers.llm:LLMReader",
    "order": "membench.readers.order:OrderReader",
    "session-match": "membench.readers.session_match:SessionMatchReader",
}

#: the installed name of the repository's ``tasks/`` folder (pyproject maps it; see setup.py).
TASKS_PACKAGE = "membench_tasks"

GROUPS = {"system": "membench.systems", "task": "membench.tasks", "judge": "membench.judges"}


def import_object(spec: str) -> Any:
    """Import ``package.module:attribute`` (or a file path ``path/to/file.py:attribute``)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not attribute:
        raise ConfigError(f"plugin '{spec}' must look like 'module:object' or 'path/file.py:object'")
    try:
        if module_name.endswith(".py"):
            module = _import_file(Path(module_name))
        else:
            module = importlib.import_module(module_name)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"cannot import '{module_name}' for '{spec}': {type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise ConfigError(f"module '{module_name}' has no attribute '{attribute}'") from exc


def _import_file(path: Path) -> Any:
    if not path.exists():
        raise ConfigError(f"plugin file not found: {path}")
    name = f"membench_plugin_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load plugin file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Entry:
    """A name the registry knows: where it comes from, and how to load it (only when asked)."""

    name: str
    origin: str
    load: Callable[[], Any]
    _loaded: Any = field(default=None, repr=False)

    def get(self) -> Any:
        if self._loaded is None:
            self._loaded = self.load()
        return self._loaded


class Registry:
    def __init__(self, plugins: list[str] | None = None) -> None:
        self._entries: dict[str, dict[str, Entry]] = {"system": {}, "task": {}, "judge": {}, "reader": {}}
        self.warnings: list[str] = []
        for name, spec in BUILTIN_SYSTEMS.items():
            self._add("system", name, "built-in", partial(import_object, spec))
        for name, spec in BUILTIN_READERS.items():
            self._add("reader", name, "built-in", partial(import_object, spec))
        self._discover_tasks()
        for spec in plugins or []:
            self._add_plugin(spec)
        self._add_entry_points()

    # ------------------------------------------------------------------ population

    def _add(self, kind: str, name: str, origin: str, load: Callable[[], Any]) -> None:
        existing = self._entries[kind].get(name)
        if existing is not None:
            raise ConfigError(f"{kind} '{name}' from {origin} clashes with the one from {existing.origin}")
        self._entries[kind][name] = Entry(name, origin, load)

    def _discover_tasks(self) -> None:
        # The built-in tasks are found by package name, like any plugin: the registry imports no task.
        found = importlib.util.find_spec(TASKS_PACKAGE)
        for info in pkgutil.iter_modules((found.submodule_search_locations or []) if found else []):
            if info.ispkg:
                self._add("task", info.name, f"tasks/{info.name}", partial(_task_from_package, info.name))
        for folder in filter(None, os.environ.get("MEMBENCH_TASKS_PATH", "").split(os.pathsep)):
            for task_file in sorted(Path(folder).glob("*/task.py")):
                name = task_file.parent.name
                self._add("task", name, str(task_file), partial(import_object, f"{task_file}:TASK"))

    def _add_plugin(self, spec: str) -> None:
        obj = import_object(spec)
        kind = _kind_of(obj)
        if kind is None:
            raise ConfigError(f"plugin '{spec}' is not a MemorySystem, Task or Judge subclass")
        self._add(kind, obj.name, f"--plugin {spec}", partial(_constant, obj))

    def _add_entry_points(self) -> None:
        for kind, group in GROUPS.items():
            for point in entry_points(group=group):
                if point.name in self._entries[kind]:
                    self.warnings.append(f"entry point {group}:{point.name} ignored: the name is taken")
                    continue
                self._add(kind, point.name, f"entry point {point.value}", point.load)

    # ------------------------------------------------------------------ lookup

    def names(self, kind: str) -> list[tuple[str, str]]:
        return sorted((e.name, e.origin) for e in self._entries[kind].values())

    def get(self, kind: str, name: str) -> Any:
        entry = self._entries[kind].get(name)
        if entry is None:
            known = ", ".join(sorted(self._entries[kind])) or "none"
            raise ConfigError(f"unknown {kind} '{name}'; known: {known} (see `membench list {kind}s`)")
        try:
            return entry.get()
        except ConfigError:
            raise
        except ImportError as exc:
            raise ConfigError(
                f"{kind} '{name}' needs a package that is not installed ({exc}); "
                f"for mem0 and dense: pip install 'membench[mem0]'"
            ) from exc


def _constant(value: Any) -> Any:
    return value


def _task_from_package(name: str) -> Any:
    module = importlib.import_module(f"{TASKS_PACKAGE}.{name}.task")
    return module.TASK


def _kind_of(obj: Any) -> str | None:
    from membench.core.task import Task
    from membench.judges.base import Judge
    from membench.systems.base import MemorySystem

    if isinstance(obj, type):
        if issubclass(obj, MemorySystem):
            return "system"
        if issubclass(obj, Task):
            return "task"
        if issubclass(obj, Judge):
            return "judge"
    return None
