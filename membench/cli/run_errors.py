"""The error summary ``membench run`` prints after a run with errors (complete or stopped): what failed,
by stage and type, with a count and one example each, then the command that redoes those probes.

Without it the cause of a run of errors ("Connection error", after 6 attempts) was only inside
records.jsonl, behind a growing error count. The groups come from ``running.failures``; this module
only lays them out at the console's width (``cli.terminal``) and builds the ``--retry-errors`` command
from the options the user gave.
"""

from __future__ import annotations

import argparse
import shlex
import textwrap
from collections.abc import Sequence
from pathlib import Path

from membench.cli.terminal import INDENT, command, make_console
from membench.core.records import read_latest_records
from membench.core.urls import public_url
from membench.llm.env import known_secrets, scrub
from membench.running.failures import ErrorGroup, error_groups

#: lines of an example message at most; the rest is cut with an ellipsis.
EXAMPLE_LINES = 2
#: the count column: its indent, then the count right-aligned in this many characters.
COUNT_WIDTH = 5
#: options the redo command leaves out: --fresh would archive the very run being redone.
NOT_REPEATED = frozenset({"help", "fresh", "dry_run", "retry_errors"})


def print_error_summary(run_dir: Path, retry: str) -> None:
    """Print the error summary of the run in ``run_dir`` (nothing when it has no errored probe)."""
    groups = error_groups(read_latest_records(run_dir))
    if not groups:
        return
    console = make_console()
    for line in error_summary_lines(groups, retry, console.width):
        console.print(line, soft_wrap=True, markup=False, highlight=False)  # a long path stays whole


def error_summary_lines(groups: Sequence[ErrorGroup], retry: str, width: int) -> list[str]:
    """The summary as lines of at most ``width`` (a word longer than a line excepted): a header, then
    per group its count, stage and type, and its example under it; then the ``retry`` command."""
    total = sum(group.count for group in groups)
    noun = "probe" if total == 1 else "probes"
    lines = [f"errors: {total} {noun} errored; by stage and type, with one example each:"]
    pad = " " * (len(INDENT) + COUNT_WIDTH + 2)
    secrets = known_secrets()
    for group in groups:
        lines.append(f"{INDENT}{group.count:>{COUNT_WIDTH}}  {group.stage} {group.type}")
        lines.extend(pad + line for line in _example(scrub(group.example, secrets), width - len(pad)))
    lines.append("redo them with:")
    lines.extend(command(scrub(retry, secrets), width))
    return lines


def _example(message: str, width: int) -> list[str]:
    """``message`` on at most ``EXAMPLE_LINES`` lines of ``width``, cut with " …" when longer."""
    lines = textwrap.wrap(message, width, break_on_hyphens=False) or ["(no message)"]
    if len(lines) <= EXAMPLE_LINES:
        return lines
    kept = lines[:EXAMPLE_LINES]
    kept[-1] = kept[-1][: width - 2].rstrip() + " …"
    return kept


def retry_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """``membench run`` as ``args`` asked for it, plus ``--retry-errors``: every option given (a flag
    set, a value other than its default, each repeat of ``-T``), in the parser's order, quoted for a
    shell, without those in ``NOT_REPEATED``. A URL's credentials are left out (``public_url``): the
    command is printed, and a password in it would be on the screen and in every log of it."""
    words = ["membench", "run"]
    for action in parser._actions:
        if not action.option_strings or action.dest in NOT_REPEATED:
            continue
        flag = max(action.option_strings, key=len)
        value = getattr(args, action.dest, None)
        if isinstance(action, argparse._AppendAction):
            for item in value or []:
                words += [flag, _public(str(item))]
        elif action.nargs == 0:
            if value != action.default:
                words.append(flag)
        elif value is not None and value != action.default:
            words += [flag, _public(str(value))]
    return shlex.join([*words, "--retry-errors"])


def _public(value: str) -> str:
    """``value`` with the credentials of a URL in it left out: the whole value (``--llm-api-base``) or
    the value of a ``key=value`` option (``-S api_base=URL``)."""
    key, equals, rest = value.partition("=")
    if equals and "://" not in key:
        return f"{key}={_public(rest)}"
    return (public_url(value) or value) if "://" in value else value
