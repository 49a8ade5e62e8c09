"""Leaderboard decisions: tiers from neighbour tests, Holm over the tested comparisons, the baseline."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from membench.analysis.runs import load_run
from membench.core.errors import ConfigError
from membench.registry import Registry
from membench.reporting.collect import Settings, _baseline, _ranks, collect
from membench.testing.toy_runs import write_toy_run

PLUGIN = str(Path(__file__).parents[1] / "fixtures" / "toy_plugin.py") + ":ToyTask"


def pairs(*separated: bool) -> Any:
    return [SimpleNamespace(separated=s) for s in separated]


def run(system: str, mode: str = "extractive · rule") -> Any:
    return SimpleNamespace(
        system=system, label=f"{system} ({mode})", manifest=SimpleNamespace(run_id=f"id-{system}-{mode}")
    )


def test_unseparated_neighbours_share_the_rank_of_the_first() -> None:
    assert _ranks(pairs()) == [(1, False)]
    assert _ranks(pairs(True, True)) == [(1, False), (2, False), (3, False)]
    assert _ranks(pairs(False, True, False)) == [(1, True), (1, True), (3, True), (3, True)]
    # A chain of ties is one tier, even if its ends might be separable: the rule is stated in the report.
    assert _ranks(pairs(False, False, True)) == [(1, True), (1, True), (1, True), (4, False)]


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


def test_a_paired_difference_against_the_order_does_not_separate(tmp_path: Path) -> None:
    """A errors on the hard probes (left out of its own estimate), so it ranks first by point estimate,
    while on the probes both scored B is right far more often: the ranking must not claim A > B."""
    a: dict[str, float | None] = {}
    b: dict[str, float | None] = {}
    for e in range(20):
        for q in range(5):
            probe = f"e{e}:q{q}"
            a[probe], b[probe] = (None, 0.0) if q < 2 else (float(q != 2), 1.0)
    registry = Registry([PLUGIN])
    runs = [
        load_run(write_toy_run(tmp_path, name, outcomes), registry) for name, outcomes in (("A", a), ("B", b))
    ]
    (board,) = collect(runs, Settings(n_boot=100))
    assert [e.run.system for e in board.entries] == ["A", "B"], "2/3 on its own probes beats 3/5"
    (pair,) = board.neighbours
    assert pair.comparison.difference == pytest.approx(1 / 3) and pair.p_holm < 0.001
    assert [(e.rank, e.tied) for e in board.entries] == [(1, True), (1, True)]
    assert not pair.separated and pair.verdict == "no: tied (the paired Δ favours the lower)"


def test_a_system_without_a_value_does_not_tie_with_one_that_has_it(tmp_path: Path) -> None:
    answered = {f"e{e}:q{q}": float(q % 2) for e in range(3) for q in range(4)}
    registry = Registry([PLUGIN])
    runs = [
        load_run(write_toy_run(tmp_path, "some", answered), registry),
        load_run(write_toy_run(tmp_path, "failed", dict.fromkeys(answered)), registry),
        load_run(write_toy_run(tmp_path, "empty", {}), registry),
    ]
    (board,) = collect(runs, Settings(n_boot=50))
    assert [(e.run.system, e.rank, e.tied) for e in board.entries] == [
        ("some", 1, False),
        ("empty", 2, True),
        ("failed", 2, True),
    ]
    assert [p.verdict for p in board.neighbours] == ["yes: the lower has no value", "no: tied"]


def test_runs_judged_differently_go_on_separate_boards(tmp_path: Path) -> None:
    answered = {f"e{e}:q{q}": float(q % 2) for e in range(3) for q in range(4)}
    registry = Registry([PLUGIN])
    runs = [
        load_run(write_toy_run(tmp_path, "a", answered), registry),
        load_run(write_toy_run(tmp_path, "b", answered), registry),
        load_run(write_toy_run(tmp_path, "b", answered, judge="lexical"), registry),
    ]
    boards = collect(runs, Settings(n_boot=50))
    assert sorted((b.roles[1], [e.run.system for e in b.entries]) for b in boards) == [
        ("exact", ["a", "b"]),
        ("lexical", ["b"]),
    ]
    assert len({b.key for b in boards}) == 2
    # 3 episodes: no paired difference could be significant, and the board says so.
    exact = next(b for b in boards if b.roles[1] == "exact")
    assert any("with 3 episode(s)" in note for note in exact.notes)
