"""``--help`` as a user reads it: every option explained, its choices shown, every command with
examples that really parse, all within 80 columns."""

from __future__ import annotations

import argparse
import shlex

import pytest

from membench.cli.help import commands
from membench.cli.main import build_parser
from membench.registry import Registry

COMMANDS = [words for words, _ in commands(build_parser())]


def parser_of(words: str) -> argparse.ArgumentParser:
    return dict(commands(build_parser()))[words]


def test_the_walk_finds_every_command_and_its_verbs() -> None:
    for expected in ("", "run", "list", "data build", "data pull", "systems install", "export"):
        assert expected in COMMANDS


@pytest.mark.parametrize("words", COMMANDS)
def test_every_option_has_help_and_shows_its_choices(words: str) -> None:
    parser = parser_of(words)
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            missing += [
                f"verb {verb.dest}" for verb in action._choices_actions if not (verb.help or "").strip()
            ]
            continue
        name = "/".join(action.option_strings) or action.dest
        if not (action.help or "").strip():
            missing.append(name)
        if action.choices is not None and action.metavar is not None:
            # a metavar hides the choices from the usage line: the help must list them instead
            unlisted = [str(c) for c in action.choices if str(c) not in (action.help or "")]
            missing += [f"{name} (choice {c} not in its help)" for c in unlisted]
    assert missing == [], f"membench {words}: options without help: {', '.join(missing)}"


@pytest.mark.parametrize("words", COMMANDS)
def test_every_command_ends_with_examples(words: str) -> None:
    parser = parser_of(words)
    assert parser.formatter_class is argparse.RawDescriptionHelpFormatter
    epilog = parser.epilog or ""
    assert epilog.startswith("examples:\n"), f"membench {words} --help has no examples"
    lines = epilog.splitlines()[1:]
    assert sum(line.startswith("  membench ") for line in lines) >= 2
    if words:
        assert all(f"{line} ".startswith(f"  membench {words} ") for line in lines), "its own examples"


@pytest.mark.parametrize("words", COMMANDS)
def test_help_fits_80_columns(words: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps at the terminal's width, read from COLUMNS
    text = parser_of(words).format_help()
    too_long = [line for line in text.splitlines() if len(line) > 80]
    assert too_long == []


def example_argv(line: str) -> list[str]:
    """An example's words after ``membench``, without its comment or output redirection."""
    words = shlex.split(line.split("  #")[0])
    if ">" in words:
        words = words[: words.index(">")]
    assert words[0] == "membench"
    return words[1:]


@pytest.mark.parametrize("words", COMMANDS)
def test_every_example_parses_and_names_real_task_options(words: str) -> None:
    """An example that would fail is worse than none: each parses, and each -T key is an option of
    the task it names."""
    registry = Registry()
    for line in (parser_of(words).epilog or "").splitlines()[1:]:
        argv = example_argv(line)
        args = build_parser().parse_args(argv)
        task = getattr(args, "task", None)
        pairs = getattr(args, "task_options", [])
        if task and pairs:
            options = registry.get("task", task).default_options
            keys = [pair.partition("=")[0] for pair in pairs]
            assert [k for k in keys if k not in options] == [], line


def test_top_level_help_lists_every_command_with_its_help(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = build_parser().format_help()
    for words in COMMANDS:
        if words and " " not in words:
            assert f"\n    {words} " in text, words
    assert "\nexamples:\n  membench list tasks\n  membench run --task halumem --system bm25\n" in text
