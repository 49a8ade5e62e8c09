"""``membench`` command line: the top-level parser, the dispatch to a command, and the error handling.

Each command is a module of this package with ``add_parser(sub)`` and ``cmd_<name>(args) -> int``. Only
argparse loads at import time: everything else loads when a command runs, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from membench.cli import compare, data, export, report, run, score, sweep, systems
from membench.cli import list as lister
from membench.cli.help import add_examples
from membench.core.version import __version__

#: every command, in the order ``--help`` lists them: how to add its parser, and how to run it.
COMMANDS: dict[str, tuple[Callable[[Any], None], Callable[[argparse.Namespace], int]]] = {
    "run": (run.add_parser, run.cmd_run),
    "sweep": (sweep.add_parser, sweep.cmd_sweep),
    "list": (lister.add_parser, lister.cmd_list),
    "data": (data.add_parser, data.cmd_data),
    "compare": (compare.add_parser, compare.cmd_compare),
    "score": (score.add_parser, score.cmd_score),
    "report": (report.add_parser, report.cmd_report),
    "export": (export.add_parser, export.cmd_export),
    "systems": (systems.add_parser, systems.cmd_systems),
}


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every command of ``COMMANDS``, each with its examples (``cli.help``)."""
    parser = argparse.ArgumentParser(
        prog="membench",
        description="Evaluate long-term memory systems for LLM agents: same episodes, same reader,\n"
        "same judge, with error bars.",
    )
    parser.add_argument("--version", action="version", version=f"membench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add_parser, _ in COMMANDS.values():
        add_parser(sub)
    add_examples(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code: 0 done, 1 a failure at run time (``RunFailure``: an LLM call
    that failed for good, a download cut, a run held by another process), 2 a usage error (argparse's
    own, and every other MembenchError: a bad option or name, bad input data), 130 interrupted."""
    args = build_parser().parse_args(argv)
    from membench.core.errors import MembenchError, RunFailure

    _, command = COMMANDS[args.command]
    try:
        return command(args)
    except RunFailure as exc:
        print(f"membench: error: {exc}", file=sys.stderr)
        return 1
    except MembenchError as exc:
        print(f"membench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("membench: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
