"""Where systems, tasks and judges come from, loaded lazily so a broken plugin cannot break the CLI.

Resolution order for a name: built-ins, then tasks discovered as ``tasks/<name>/task.py`` (installed
as the ``membench_tasks`` package, plus folders listed in ``MEMBENCH_TASKS_PATH``), then ``--plugin
module:object`` objects (a MemorySystem, Task, Reader or Judge subclass), then the entry-point groups
``membench.systems``, ``membench.tasks``, ``membench.readers`` and ``membench.judges``. Nothing heavy is
imported until a name is actually used, and a lookup returns a class of the kind asked for or a
ConfigError naming the culprit.

Readers and judges a task ships are not registered here: the task builds them (``Task.make_reader``,
``Task.make_judge``) and only its runs use them; ``names("reader")`` lists them with the task as origin.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from membench.core.errors import ConfigError
from membench.core.plugins import import_object
from membench.core.suggest import unknown_name

if TYPE_CHECKING:
    from membench.core.task import Task
    from membench.judges.base import Judge
    from membench.readers.base import Reader
    from membench.systems.base import MemorySystem

BUILTIN_SYSTEMS: dict[str, str] = {
    "no-memory": "membench.systems.baselines:NoMemorySystem",
    "full-context": "membench.systems.baselines:FullContextSystem",
    "bm25": "membench.systems.bm25:BM25System",
    "dense": "membench.systems.dense:DenseSystem",
    "mem0": "membench.systems.mem0:Mem0System",
    "oracle": "membench.systems.oracle:OracleSystem",
    "memos": "membench.systems.memos:MemOSSystem",
    "langmem": "membench.systems.langmem:LangMemSystem",
    "amem": "membench.systems.amem:AMemSystem",
    "cognee": "membench.systems.cognee:CogneeSystem",
    "zep": "membench.systems.zep:ZepSystem",
    "supermemory": "membench.systems.supermemory:SupermemorySystem",
    "memobase": "membench.systems.memobase:MemobaseSystem",
    "letta": "membench.systems.letta:LettaSystem",
}

BUILTIN_READERS: dict[str, str] = {
    "extractive": "membench.readers.extractive:ExtractiveReader",
    "llm": "membench.readers.llm:LLMReader",
    "system": "membench.readers.system:SystemReader",
}

#: the installed name of the repository's ``tasks/`` folder (pyproject maps it; see setup.py).
TASKS_PACKAGE = "membench_tasks"

Kind = Literal["system", "task", "reader", "judge"]

GROUPS: dict[Kind, str] = {
    "system": "membench.systems",
    "task": "membench.tasks",
    "reader": "membench.readers",
    "judge": "membench.judges",
}


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
        self._entries: dict[Kind, dict[str, Entry]] = {kind: {} for kind in GROUPS}
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

    def _add(self, kind: Kind, name: str, origin: str, load: Callable[[], Any]) -> None:
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
            raise ConfigError(f"plugin '{spec}' is not a MemorySystem, Task, Reader or Judge subclass")
        self._add(kind, obj.name, f"--plugin {spec}", partial(_constant, obj))

    def _add_entry_points(self) -> None:
        for kind, group in GROUPS.items():
            for point in entry_points(group=group):
                if point.name in self._entries[kind]:
                    self.warnings.append(f"entry point {group}:{point.name} ignored: the name is taken")
                    continue
                self._add(kind, point.name, f"entry point {point.value}", point.load)

    # ------------------------------------------------------------------ lookup

    def names(self, kind: Kind) -> list[tuple[str, str]]:
        """(name, origin) of every ``kind``; readers include each task's own (origin ``task <name>``)."""
        found = [(e.name, e.origin) for e in self._entries[kind].values()]
        if kind == "reader":
            found += self._task_readers()
        return sorted(found)

    def _task_readers(self) -> list[tuple[str, str]]:
        found = []
        for task_name in sorted(self._entries["task"]):
            try:
                task_cls = self.get("task", task_name)
            except ConfigError as exc:
                self.warnings.append(f"readers of task '{task_name}' not listed: {exc}")
                continue
            found += [(reader, f"task {task_name}") for reader in task_cls.reader_names]
        return found

    @overload
    def get(self, kind: Literal["system"], name: str, also: Iterable[str] = ()) -> type[MemorySystem]: ...
    @overload
    def get(self, kind: Literal["task"], name: str, also: Iterable[str] = ()) -> type[Task]: ...
    @overload
    def get(self, kind: Literal["reader"], name: str, also: Iterable[str] = ()) -> type[Reader]: ...
    @overload
    def get(self, kind: Literal["judge"], name: str, also: Iterable[str] = ()) -> type[Judge]: ...

    def get(self, kind: Kind, name: str, also: Iterable[str] = ()) -> type[Any]:
        """The class registered as ``name``, a subclass of ``kind``'s seam; else a ConfigError saying why.

        An unknown name is answered with the closest known ones ("did you mean"); ``also`` are more
        names a typo may have meant, resolved by the caller (a task's own readers and judges).
        """
        entry = self._entries[kind].get(name)
        if entry is None:
            raise ConfigError(
                unknown_name(kind, name, self._entries[kind], f"membench list {kind}s", also=also)
            )
        try:
            loaded = entry.get()
        except ConfigError:
            raise
        except ImportError as exc:
            # Built-in systems import their heavy libraries lazily and name their own install hint; an
            # import that fails here is a plugin's.
            raise ConfigError(
                f"{kind} '{name}' from {entry.origin} cannot be imported: a package it needs is not "
                f"installed ({exc})"
            ) from exc
        seam = _seams()[kind]
        if not (isinstance(loaded, type) and issubclass(loaded, seam)):
            raise ConfigError(f"{kind} '{name}' from {entry.origin} is not a {seam.__name__} subclass")
        if inspect.isabstract(loaded):
            # Refused here, before any work: instantiating it later fails with a bare TypeError.
            missing = ", ".join(sorted(getattr(loaded, "__abstractmethods__", ())))
            raise ConfigError(
                f"{kind} '{name}' from {entry.origin} is abstract: it does not implement {missing}"
            )
        return loaded


def _constant(value: Any) -> Any:
    return value


def _task_from_package(name: str) -> Any:
    module = importlib.import_module(f"{TASKS_PACKAGE}.{name}.task")
    return module.TASK


def _seams() -> dict[Kind, type]:
    """The base class of each kind (imported when first needed: the registry itself stays light)."""
    from membench.core.task import Task
    from membench.judges.base import Judge
    from membench.readers.base import Reader
    from membench.systems.base import MemorySystem

    return {"system": MemorySystem, "task": Task, "reader": Reader, "judge": Judge}


def _kind_of(obj: Any) -> Kind | None:
    if isinstance(obj, type):
        for kind, seam in _seams().items():
            if issubclass(obj, seam):
                return kind
    return None
