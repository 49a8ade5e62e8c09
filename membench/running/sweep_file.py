"""A sweep file (``membench sweep FILE.toml``): tasks with their options, systems with theirs, and the
settings every run of the sweep shares, read into a ``SweepConfig`` (see ``examples/sweep.toml``).

    limit = 2
    [llm.reader]
    model = "openai/gpt-4o-mini"
    [tasks.halumem]
    users = 2
    [systems.bm25]
    [systems.no-memory]

``tasks`` and ``systems`` are tables of tables (each name with its options) or lists of names (no
options). An option's value may be a string or a number (``users = 2`` is ``-T users=2``); a boolean
is written ``true``/``false``. Paths are read as the command line reads them, from the current
directory. A file is checked whole before anything runs: a bad one is a ConfigError of one line
naming the file, the table or key and what is wrong (the command exits 2).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from membench.core.config import LLMSpec
from membench.core.errors import ConfigError, MembenchError
from membench.core.suggest import unknown_name
from membench.registry import Registry
from membench.running.sweep import SweepConfig

#: top-level keys naming a run setting (the RunConfig field of that name), by the kind of value.
NAMES = ("reader", "judge", "executor", "ray_address")
NUMBERS = ("limit", "seed", "max_episodes", "max_probes", "max_connections", "max_consecutive_errors")
PATHS = ("results_dir", "data_dir")
#: the ``[llm.ROLE]`` tables and the RunConfig field each sets.
LLM_ROLES: Mapping[str, str] = {"reader": "reader_llm", "judge": "judge_llm", "system": "system_llm"}
KEYS = ("tasks", "systems", "llm", "plugins", *NAMES, *NUMBERS, *PATHS)
HINT = "see examples/sweep.toml"
#: a name to show in the error for an empty table.
EXAMPLE = {"tasks": "halumem", "systems": "bm25"}


def load_sweep_file(path: Path, plugins: tuple[str, ...] = ()) -> SweepConfig:
    """The sweep ``path`` describes, its names and options checked (tasks and systems resolved with the
    file's ``plugins`` and ``plugins``); every error names ``path``. The settings hold only what the
    file sets: the caller adds the run-time ones (display, --fresh, the endpoint check)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such sweep file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        sweep = _sweep(document, plugins)
        sweep.runs()  # the values RunConfig refuses (a limit of 0, a results_dir that is a file)
    except MembenchError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return sweep


def _sweep(document: dict[str, Any], plugins: tuple[str, ...]) -> SweepConfig:
    for key in document:
        if key not in KEYS:
            raise ConfigError(unknown_name("sweep file key", key, KEYS, HINT))
    file_plugins = _strings(document.get("plugins", []), "plugins")
    registry = Registry([*file_plugins, *plugins])
    tasks = _members(document, "tasks", lambda name: registry.get("task", name).default_options)
    systems = _members(document, "systems", lambda name: registry.get("system", name).default_options)
    settings: dict[str, Any] = {"plugins": (*file_plugins, *plugins)}
    for key in (*NAMES, *PATHS):
        if key in document:
            text = _string(key, document[key])
            settings[key] = Path(text) if key in PATHS else text
    for key in NUMBERS:
        if key in document:
            settings[key] = _number(key, document[key])
    llms = document.get("llm", {})
    if not isinstance(llms, dict):
        raise ConfigError(f"[llm] must be a table of roles ({', '.join(LLM_ROLES)}), got {_kind(llms)}")
    for role, spec in llms.items():
        if role not in LLM_ROLES:
            raise ConfigError(f"[llm] {unknown_name('LLM role', role, LLM_ROLES, HINT)}")
        settings[LLM_ROLES[role]] = _llm(f"llm.{role}", spec)
    return SweepConfig(tasks, systems, settings)


def _members(
    document: dict[str, Any], table: str, options_of: Callable[[str], Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """The ``[tasks]`` or ``[systems]`` of the file: each name resolved (``options_of`` gives its
    options, or raises for an unknown name) and each option known to it."""
    given = document.get(table)
    if given is None or given == {} or given == []:
        raise ConfigError(f"no {table}: name at least one, e.g. [{table}.{EXAMPLE[table]}]")
    if isinstance(given, list):
        given = {name: {} for name in _strings(given, table)}
    if not isinstance(given, dict):
        raise ConfigError(f"{table} must be a table ([{table}.NAME]) or a list of names, got {_kind(given)}")
    members: dict[str, dict[str, str]] = {}
    for name, options in given.items():
        where = f"[{table}.{name}]"
        if not isinstance(options, dict):
            raise ConfigError(f"{where} must be a table of options, got {_kind(options)}")
        try:
            known = options_of(name)
        except ConfigError as exc:
            raise ConfigError(f"{where} {exc}") from None
        for key in options:
            if key not in known:
                problem = unknown_name(f"{name} option", key, known, f"membench list {table}")
                raise ConfigError(f"{where} {problem}")
        members[name] = {key: _option(f"{where} {key}", value) for key, value in options.items()}
    return members


def _option(where: str, value: object) -> str:
    """An option's value as ``-T``/``-S`` would give it: a string, a number written out, a boolean
    as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ConfigError(f"{where}: expected a string or a number, got {_kind(value)}")


def _string(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {_kind(value)}")
    return value


def _number(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}: expected a whole number, got {_kind(value)}")
    return value


def _llm(table: str, spec: object) -> LLMSpec:
    if not isinstance(spec, dict):
        raise ConfigError(f"[{table}] must be a table with model (and api_base), got {_kind(spec)}")
    for key in spec:
        if key not in ("model", "api_base"):
            raise ConfigError(f"[{table}] {unknown_name('key', key, ('model', 'api_base'), HINT)}")
    model, api_base = spec.get("model"), spec.get("api_base")
    if not isinstance(model, str) or not model:
        raise ConfigError(f"[{table}] model: expected a model name, e.g. openai/gpt-4o-mini")
    if api_base is not None and not isinstance(api_base, str):
        raise ConfigError(f"[{table}] api_base: expected a URL, got {_kind(api_base)}")
    return LLMSpec(model, api_base or None)


def _strings(value: object, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{key}: expected a list of strings, got {_kind(value)}")
    return list(value)


def _kind(value: object) -> str:
    """What a TOML value is, as a person names it ("a list", "a table", "the number 3")."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string '{value}'"
    return f"{type(value).__name__} {value!r}"
