"""``membench systems list | install NAME``: every system, how it runs, whether it can run here.

``list`` imports no system library: it reads what each adapter declares (its environment, modules,
required environment variables and needs) and looks for the modules with ``find_spec``. A system's
mode is ``in process``, ``worker: ENV`` (its own environment, ``systems install ENV``) or ``service``
(a client of a service at ``-S base_url``: hosted, or a server you run; its ``needs`` says which).
``membench list systems`` prints the same table.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

from membench.cli.options import add_common

WIDTH = 80


def add_parser(sub: Any) -> None:
    systems = sub.add_parser("systems", help="list the memory systems, or install one's environment")
    verbs = systems.add_subparsers(dest="verb", required=True)
    lister = verbs.add_parser("list", help="every system: how it runs, installed or not, what it needs")
    add_common(lister, results_dir=False, data_dir=False)
    install = verbs.add_parser("install", help="make a system's own environment from its pinned requirements")
    install.add_argument("name", help="the system (see `membench systems list`)")
    install.add_argument(
        "--force", action="store_true", help="remake the environment even if it is installed"
    )
    add_common(install, results_dir=False, data_dir=False)


def cmd_systems(args: argparse.Namespace) -> int:
    return _install(args) if args.verb == "install" else _list(args)


@dataclass(frozen=True)
class SystemRow:
    name: str
    mode: str
    state: str
    needs: str


def system_rows(plugins: list[str]) -> list[SystemRow]:
    """One row per registered system (a system that cannot be loaded says why in its row)."""
    from membench.core.errors import ConfigError
    from membench.registry import Registry

    registry = Registry(plugins)
    rows = []
    for name, _origin in registry.names("system"):
        try:
            cls = registry.get("system", name)
        except ConfigError as exc:
            rows.append(SystemRow(name, "?", "cannot load", str(exc)))
            continue
        rows.append(_row(cls))
    return rows


def _row(cls: Any) -> SystemRow:
    from membench.systems.envs import env_status

    needs = [cls.needs] if cls.needs else []
    state: str
    if cls.environment:
        mode = f"worker: {cls.environment}"
        status = env_status(cls.environment)
        state = status.state
        if status.problem() is not None:
            needs.insert(0, f"membench systems install {cls.environment}")
    else:
        mode = "service" if "base_url" in cls.default_options else "in process"
        missing = [m for m in cls.modules if importlib.util.find_spec(m) is None]
        state = "installed" if not missing else "missing"
        if missing and cls.install_hint:
            needs.insert(0, cls.install_hint)
    unconfigured = cls.not_configured()
    if state == "installed" and unconfigured is not None:
        state = "not configured"
        needs.insert(0, unconfigured)
    return SystemRow(cls.name, mode, state, "; ".join(needs) or "-")


def _list(args: argparse.Namespace) -> int:
    print_systems(args.plugin)
    return 0


def print_systems(plugins: list[str]) -> None:
    """The table of ``system_rows`` at 80 columns: ``needs`` wraps in its own column."""
    rows = system_rows(plugins)
    widths = (max(len(r.name) for r in rows) + 2, 16, 16)
    head = ("system", "mode", "state")
    print("".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + "needs")
    indent = sum(widths)
    for row in rows:
        cells = "".join(c.ljust(w) for c, w in zip((row.name, row.mode, row.state), widths, strict=True))
        lines = textwrap.wrap(row.needs, max(WIDTH - indent, 20)) or ["-"]
        print(cells + lines[0])
        for more in lines[1:]:
            print(" " * indent + more)


def _install(args: argparse.Namespace) -> int:
    from membench.registry import Registry
    from membench.systems.envs import install

    cls = Registry(args.plugin).get("system", args.name)
    if not cls.environment:
        hint = f": {cls.install_hint}" if cls.install_hint else ""
        missing = [m for m in cls.modules if importlib.util.find_spec(m) is None]
        state = "its packages are installed" if not missing else f"install its packages{hint}"
        print(f"system '{cls.name}' runs in membench's own environment; {state}")
        return 0 if not missing else 1
    status = install(cls.environment, report=lambda line: print(line, flush=True), force=args.force)
    print(f"run it: membench run --task halumem --system {cls.name}", file=sys.stdout)
    return 0 if status.state == "installed" else 1
