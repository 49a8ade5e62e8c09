"""Arguments several commands share, and the parsing of their values (argparse only: ``--help`` is fast)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from membench.core.config import LLMSpec


def add_key_values(parser: argparse.ArgumentParser, flag: str, dest: str, help: str | None = None) -> None:
    """A repeatable ``KEY=VALUE`` option (``-T``, ``-S``), read back with ``key_values``."""
    parser.add_argument(flag, dest=dest, action="append", default=[], metavar="KEY=VALUE", help=help)


def key_values(pairs: list[str], flag: str) -> dict[str, str]:
    """``-T key=value`` pairs as a dict; anything without a key and an ``=`` is a usage error."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"membench: error: {flag} takes key=value, got '{pair}'")
        options[key.strip()] = value.strip()
    return options


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


def add_common(parser: argparse.ArgumentParser, results_dir: bool = True) -> None:
    """``--results-dir`` (unless the command writes beside its input), ``--data-dir`` and ``--plugin``."""
    if results_dir:
        parser.add_argument(
            "--results-dir", type=Path, default=Path("results"), help="where runs are written"
        )
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="where datasets are built/kept")
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE:OBJECT",
        help="load a system, task, reader or judge class (repeatable); also 'path/file.py:Class'",
    )
