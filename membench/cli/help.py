"""The examples ``membench COMMAND --help`` ends with: one place for every command's, applied by
``main.build_parser`` to each (sub)command's parser, so a command module declares only its options.

Examples are plain strings (``--help`` stays fast) and each line fits 80 columns with its indent.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

#: examples per command, keyed by its words after ``membench`` ("data build"; "" is ``membench`` itself).
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": (
        "membench list tasks",
        "membench run --task halumem --system bm25",
        "membench compare --task halumem --systems no-memory,bm25 --baseline no-memory",
        "membench report results --out site",
    ),
    "run": (
        "membench run --task halumem --system bm25",
        "membench run --task halumem --system mem0 --limit 2 --dry-run",
        "membench run --task sort --system dense -T n=20 --llm openai/gpt-4o-mini",
        "membench run --task halumem,sort --system bm25,no-memory,dense --limit 2",
    ),
    "sweep": (
        "membench sweep examples/sweep.toml",
        "membench sweep examples/sweep.toml --dry-run",
        "membench sweep my-sweep.toml --retry-errors --display plain",
    ),
    "list": (
        "membench list tasks                # each task's -T options and defaults",
        "membench list systems              # how each runs, and what it needs",
        "membench list judges",
    ),
    "data": (
        "membench data build halumem -T users=20 -T sessions=10",
        "membench data pull halumem -T variant=medium",
    ),
    "data build": (
        "membench data build halumem -T users=20 -T sessions=10",
        "membench data build episodic --llm openai/gpt-4o-mini",
    ),
    "data pull": (
        "membench data pull halumem -T variant=medium --sha256 DIGEST",
        "membench data pull convomem -T parts=evidence,pre_mixed",
    ),
    "compare": (
        "membench compare --task halumem --systems no-memory,bm25 --baseline no-memory",
        "membench compare results/runs/halumem__bm25__* results/runs/halumem__mem0__*",
        "membench compare RUN_A RUN_B --allow-different reader --format markdown",
    ),
    "score": (
        "membench score results/runs/halumem__bm25__ID --judge lexical",
        "membench score RUN_DIR --judge llm --judge-llm openai/gpt-4o-mini",
    ),
    "report": (
        "membench report results --out site",
        "membench report results --out site --baseline no-memory",
    ),
    "systems": (
        "membench systems list",
        "membench systems install memos",
    ),
    "systems list": (
        "membench systems list",
        "membench systems list --plugin my_package.memory:MySystem",
    ),
    "systems install": (
        "membench systems install memos",
        "membench systems install cognee --force",
    ),
    "export": (
        "membench export results/runs/halumem__bm25__* --format csv > probes.csv",
        "membench export RUN_A RUN_B --format parquet --out probes.parquet",
    ),
}


def epilog(command: str) -> str:
    """The ``examples:`` block of ``command``'s help, or "" when it has none."""
    lines = EXAMPLES.get(command, ())
    return "examples:\n" + "\n".join(f"  {line}" for line in lines) if lines else ""


def commands(
    parser: argparse.ArgumentParser, words: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """``parser`` and every (sub)command parser under it, depth first, with its words ("data build")."""
    yield words, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from commands(child, f"{words} {name}".strip())


def add_examples(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and every (sub)command its examples, with line breaks kept as written."""
    for words, child in commands(parser):
        child.epilog = epilog(words) or None
        child.formatter_class = argparse.RawDescriptionHelpFormatter
