"""``membench list``: the tasks, systems, judges or readers this installation (and its plugins) offers.

``list tasks`` is where a user finds a task's ``-T`` options (each with its default and one line of
``Task.option_help``); ``list systems`` is ``membench systems list``'s table (one implementation).
Everything printed fits 80 columns.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import TYPE_CHECKING, Any

from membench.cli.options import add_common
from membench.cli.systems import print_systems

if TYPE_CHECKING:
    from membench.core.task import Task
    from membench.registry import Kind

WIDTH = 80
KINDS = ("tasks", "systems", "judges", "readers")
#: where an option's help starts at most; a longer ``key=default`` puts its help on the next line.
OPTION_COLUMN = 26


def add_parser(sub: Any) -> None:
    lister = sub.add_parser("list", help="list tasks (with their -T options), systems, judges or readers")
    lister.add_argument(
        "kind",
        choices=KINDS,
        help="tasks: description and -T options with defaults; systems: how each runs and what it "
        "needs; judges: each task's; readers: built-in, the tasks' and plugins'",
    )
    add_common(lister, results_dir=False, data_dir=False)


def cmd_list(args: argparse.Namespace) -> int:
    from membench.core.errors import ConfigError
    from membench.registry import Registry

    if args.kind == "systems":
        print_systems(args.plugin)
        return 0
    registry = Registry(args.plugin)
    if args.kind == "tasks":
        blocks = []
        for name, origin in registry.names("task"):
            try:
                blocks.append(task_lines(registry.get("task", name), origin))
            except ConfigError as exc:
                blocks.append([f"{name}  ({origin})", *_wrapped(f"cannot be loaded: {exc}", "  ")])
        print("\n\n".join("\n".join(block) for block in blocks))
    else:
        kind: Kind = "judge" if args.kind == "judges" else "reader"
        if kind == "judge":
            for name, _origin in registry.names("task"):
                task_cls = registry.get("task", name)
                print(f"{name}: {', '.join(task_cls.judge_names)}  (task judges; the first is the default)")
        for name, origin in registry.names(kind):
            print(f"{name}  [{origin}]")
    for warning in registry.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def task_lines(task_cls: type[Task], origin: str) -> list[str]:
    """One task as ``list tasks`` prints it: name and origin, description, judges and default reader,
    then each ``-T`` option as ``key=default`` with its help, wrapped and indented."""
    lines = [f"{task_cls.name}  ({origin})"]
    if task_cls.description:
        lines += _wrapped(task_cls.description, "  ")
    judges = ", ".join(task_cls.judge_names)
    lines += _wrapped(f"judges: {judges} (first: default); reader: {task_cls.default_reader}", "  ")
    if not task_cls.default_options:
        return [*lines, "  -T options: none"]
    lines.append("  -T options (KEY=DEFAULT):")
    cells = {key: f"{key}={default}" for key, default in task_cls.default_options.items()}
    column = min(max(len(cell) for cell in cells.values()) + 6, OPTION_COLUMN)
    for key, cell in cells.items():
        help_lines = textwrap.wrap(task_cls.option_help.get(key, ""), WIDTH - column, break_on_hyphens=False)
        head = f"    {cell}"
        if len(head) + 2 > column:  # too long to share a line with its help
            lines.append(head)
        else:
            first = help_lines.pop(0) if help_lines else ""
            lines.append(f"{head.ljust(column)}{first}".rstrip())
        lines += [" " * column + line for line in help_lines]
    return lines


def _wrapped(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)
