"""The one "did you mean" rule every unknown-name error uses (``membench.core.suggest``)."""

from __future__ import annotations

import pytest

from membench.core.suggest import close_matches, did_you_mean, unknown_name

SYSTEMS = ["no-memory", "full-context", "bm25", "dense", "mem0", "memos", "oracle", "zep"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("bm52", ["bm25"]),
        ("mem", ["mem0", "memos"]),
        ("MEM0", ["mem0"]),  # case does not hide a match, and the known spelling is returned
        ("fullcontext", ["full-context"]),
        ("xyz", []),
    ],
)
def test_close_matches_are_the_similar_known_names_best_first(typed: str, expected: list[str]) -> None:
    assert close_matches(typed, SYSTEMS) == expected


def test_at_most_three_suggestions() -> None:
    assert close_matches("task", ["task1", "task2", "task3", "task4"]) == ["task4", "task3", "task2"]


def test_did_you_mean_quotes_one_or_joins_several() -> None:
    assert did_you_mean("halumen", ["halumem", "sort"]) == "did you mean 'halumem'?"
    assert did_you_mean("mem", SYSTEMS) == "did you mean 'mem0' or 'memos'?"
    assert did_you_mean("task", ["task1", "task2", "task3"]) == "did you mean 'task3', 'task2' or 'task1'?"
    assert did_you_mean("xyz", SYSTEMS) == ""


def test_an_unknown_name_gets_the_suggestion_or_else_every_known_name() -> None:
    tasks = ["sort", "halumem", "worm"]
    assert (
        unknown_name("task", "halumen", tasks, "membench list tasks")
        == "unknown task 'halumen'; did you mean 'halumem'? (membench list tasks)"
    )
    assert (
        unknown_name("task", "qq", tasks, "membench list tasks")
        == "unknown task 'qq'; known: halumem, sort, worm (membench list tasks)"
    )
    assert unknown_name("judge", "qq", [], "membench list judges") == (
        "unknown judge 'qq'; known: none (membench list judges)"
    )


def test_names_resolved_elsewhere_are_suggested_but_not_listed() -> None:
    said = unknown_name("judge", "lexcal", [], "membench list judges", also=("rule", "lexical"))
    assert said == "unknown judge 'lexcal'; did you mean 'lexical'? (membench list judges)"
    said = unknown_name("judge", "qq", ["custom"], "membench list judges", also=("rule",))
    assert said == "unknown judge 'qq'; known: custom (membench list judges)"
