"""Leaderboard decisions: tiers from neighbour tests, Holm over the tested comparisons, the baseline."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from membench.errors import ConfigError
from membench.report.collect import _baseline, _holm, _ranks


def pairs(*separated: bool) -> Any:
    return [SimpleNamespace(separated=s) for s in separated]


def run(system: str, mode: str = "extractive · rule") -> Any:
    return SimpleNamespace(system=system, label=f"{system} ({mode})")


def test_unseparated_neighbours_share_the_rank_of_the_first() -> None:
    assert _ranks(pairs()) == [(1, False)]
    assert _ranks(pairs(True, True)) == [(1, False), (2, False), (3, False)]
    assert _ranks(pairs(False, True, False)) == [(1, True), (1, True), (3, True), (3, True)]
    # A chain of ties is one tier, even if its ends might be separable: the rule is stated in the report.
    assert _ranks(pairs(False, False, True)) == [(1, True), (1, True), (1, True), (4, False)]


def test_holm_skips_untested_comparisons() -> None:
    assert _holm([0.01, None, 0.04]) == [0.02, None, 0.04]
    assert _holm([None, None]) == [None, None]


def test_baseline_by_label_by_system_by_default_and_ambiguous() -> None:
    ordered = [run("bm25"), run("no-memory"), run("bm25", "llm:gpt · rule")]
    assert _baseline(ordered, "bm25 (llm:gpt · rule)")[0] == "bm25 (llm:gpt · rule)"
    assert _baseline(ordered, "no-memory") == ("no-memory (extractive · rule)", "chosen with --baseline")
    label, note = _baseline(ordered, None)
    assert label == "no-memory (extractive · rule)" and "remembers nothing" in note
    label, note = _baseline([run("a"), run("b")], "mem0")
    assert label == "a (extractive · rule)" and note.startswith("--baseline mem0 did not run")
    assert _baseline([run("a")], None)[0] is None
    with pytest.raises(ConfigError, match="matches several runs"):
        _baseline(ordered, "bm25")
