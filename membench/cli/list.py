"""``membench list``: the tasks, systems, judges or readers this installation (and its plugins) offers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from membench.cli.options import add_common


def add_parser(sub: Any) -> None:
    lister = sub.add_parser("list", help="list tasks, systems, judges or readers")
    lister.add_argument("kind", choices=["tasks", "systems", "judges", "readers"])
    add_common(lister)


def cmd_list(args: argparse.Namespace) -> int:
    from membench.registry import Registry

    registry = Registry(args.plugin)
    kind = args.kind.rstrip("s")
    if kind == "judge":
        for name, _origin in registry.names("task"):
            task_cls = registry.get("task", name)
            print(f"{name}: {', '.join(task_cls.judge_names)}  (task judges; the first is the default)")
    for name, origin in registry.names(kind):
        print(f"{name}  [{origin}]")
    for warning in registry.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0
