"""Arguments several commands share, and the parsing of their values (argparse only: ``--help`` is fast)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from membench.core.config import LLMSpec


#: the help of ``-T`` wherever it sets a task's options.
TASK_OPTION_HELP = "task option (repeatable), e.g. -T users=5; each task's: membench list tasks"


def add_key_values(parser: argparse.ArgumentParser, flag: str, dest: str, help: str) -> None:
    """A repeatable ``KEY=VALUE`` option (``-T``, ``-S``), read back with ``key_values``. A pair without
    a key and an ``=`` is refused while parsing, as argparse refuses any bad value (exit 2)."""
    parser.add_argument(
        flag, dest=dest, action="append", default=[], metavar="KEY=VALUE", type=key_value, help=help
    )


def key_value(text: str) -> str:
    """An argparse type: ``text`` unchanged when it is a ``key=value`` pair (``key_values`` splits it)."""
    _split_pair(text)
    return text


def key_values(pairs: list[str], flag: str) -> dict[str, str]:
    """``-T key=value`` pairs as a dict (a later pair wins); anything without a key and an ``=`` is a
    usage error naming ``flag``."""
    from membench.core.errors import ConfigError

    options: dict[str, str] = {}
    for pair in pairs:
        try:
            key, value = _split_pair(pair)
        except argparse.ArgumentTypeError as exc:
            raise ConfigError(f"{flag} {exc}") from None
        options[key] = value
    return options


def _split_pair(text: str) -> tuple[str, str]:
    """``key=value`` as (key, value), both stripped; the one rule for ``-T`` and ``-S`` pairs."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"takes KEY=VALUE, got '{text}'")
    return key.strip(), value.strip()


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (counts of things that must happen at least once)."""
    return _whole_number(text, minimum=1)


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number >= 0 (seeds; bootstrap resamples, where 0 means no interval)."""
    return _whole_number(text, minimum=0)


def _whole_number(text: str, minimum: int) -> int:
    """``text`` as an int of at least ``minimum``; otherwise a usage error (argparse exits with 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def llm_spec(model: str | None, api_base: str | None) -> LLMSpec | None:
    """``--X-llm MODEL [--X-api-base URL]`` as an LLMSpec, or None when no model is given."""
    from membench.core.config import LLMSpec

    return LLMSpec(model, api_base) if model else None


def add_common(parser: argparse.ArgumentParser, results_dir: bool = True, data_dir: bool = True) -> None:
    """``--results-dir`` (for a command that writes runs), ``--data-dir`` (for one that reads or builds
    datasets) and ``--plugin`` (every command that resolves names)."""
    if results_dir:
        parser.add_argument(
            "--results-dir",
            type=Path,
            default=Path("results"),
            help="where runs are written (default: results)",
        )
    if data_dir:
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=Path("data"),
            help="where datasets are built/kept (default: data)",
        )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE:OBJECT",
        help="load a system, task, reader or judge class (repeatable); also 'path/file.py:Class'",
    )
