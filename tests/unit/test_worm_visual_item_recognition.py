"""WorM Visual Item Recognition and the pattern rules the visual variants share."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import DataError
from membench.core.jsonl_input import Where
from membench.testing.worm import trial_memories
from membench_tasks.worm.variant import ABSTAIN, Memory
from membench_tasks.worm.variants.visual_item_recognition import (
    VARIANT,
    bits,
    distractor,
    nearest,
    parse_choice,
    remembered,
    study_list,
)

AT = Where(Path("data_rand_trials.json"), None)
EVENS, ODDS = list(range(0, 36, 2)), list(range(1, 36, 2))
TOP, BOTTOM = list(range(18)), list(range(18, 36))


def official_trial() -> dict[str, Any]:
    """A trial as the official generator writes it: 4 patterns, pattern 3 (index 2, the even cells)
    probed on the right against a distractor that swaps dark cells 0 and 2 for 1 and 3."""
    return {
        "grid_size": 6,
        "list_length": 4,
        "retention_interval": 5,
        "max_list_length": 10,
        "memory_items": {"0": TOP, "1": BOTTOM, "2": EVENS, "3": ODDS},
        "distractor_diff": 4,
        "distractor_item": [*EVENS[2:], 1, 3],
        "recognition_gt": 1,
        "recognition_gt_index": 2,
        "trial_type": "test",
        "trial_id": "test_000000",
        "memory_stim_fnames": [f"test_000000_memory_0{i}.png" for i in range(4)],
        "probe_stim_fnames": ["test_000000_probe.png"],
    }


def test_the_grid_chance_and_human_curves() -> None:
    cells = VARIANT.cells()
    assert len(cells) == 20
    assert cells[:2] == [
        {"list_length": 4, "retention_interval": 0},
        {"list_length": 4, "retention_interval": 2},
    ]
    assert {c["retention_interval"] for c in cells} == {0, 2, 4, 5, 6}
    assert VARIANT.chance == 0.5
    ri_0, ri_5 = VARIANT.references
    assert (ri_0.axis, ri_0.where) == ("serial_position", {"list_length": "4", "retention_interval": "0"})
    assert ri_0.points == ((1, 0.655), (2, 0.66), (3, 0.645), (4, 0.81))
    assert ri_5.where == {"list_length": "4", "retention_interval": "5"}
    assert ri_5.points == ((1, 0.655), (2, 0.705), (3, 0.68), (4, 0.71))


def test_every_cell_solves_from_all_frames_and_abstains_without_memories() -> None:
    rng = random.Random(11)
    for cell in VARIANT.cells():
        for positive in (True, False):
            trial = VARIANT.check(json.loads(json.dumps(VARIANT.generate(cell, positive, rng))), AT)
            encoded = VARIANT.encode(trial)
            (question,) = encoded.questions
            assert question.gold == {"answer": "A" if positive else "B"}  # balanced: one of each per cell
            assert question.labels == {
                "list_length": str(cell["list_length"]),
                "retention_interval": str(cell["retention_interval"]),
                "serial_position": str(trial["recognition_gt_index"] + 1),
                "distractor_diff": "4",
            }
            assert len(encoded.frames) == cell["list_length"]
            ri = cell["retention_interval"]
            assert encoded.retention == ({cell["list_length"] - 1: ri} if ri else {})
            answer = VARIANT.solve(question.text, question.inputs, trial_memories(encoded, rng))
            assert VARIANT.score(question.format, question.gold, answer) == {"correct": 1.0, "invalid": 0.0}
            assert VARIANT.solve(question.text, question.inputs, []) == ABSTAIN
            assert VARIANT.score(question.format, question.gold, ABSTAIN) == {"correct": 0.0, "invalid": 1.0}


def test_an_official_trial_checks_and_encodes_as_bit_strings() -> None:
    trial = official_trial()
    assert VARIANT.check(trial, AT) is trial
    encoded = VARIANT.encode(trial)
    assert encoded.frames[2] == "Pattern 3: " + "10" * 18 + " (6x6 grid read row by row, 1 = dark cell)."
    assert (
        encoded.frames[0]
        == "Pattern 1: " + "1" * 18 + "0" * 18 + " (6x6 grid read row by row, 1 = dark cell)."
    )
    assert encoded.retention == {3: 5}
    (question,) = encoded.questions
    assert question.format == "binary"
    assert question.gold == {"answer": "B"}
    assert question.inputs == {"A": "0101" + "10" * 16, "B": "10" * 18}
    assert question.labels["serial_position"] == "3"
    memories = [Memory(frame, i) for i, frame in enumerate(encoded.frames)]
    assert VARIANT.solve(question.text, question.inputs, memories) == "B"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"grid_size": 5}, "grid_size"),
        ({"list_length": "4"}, "list_length"),
        ({"retention_interval": -2}, "retention_interval"),
        ({"memory_items": {"0": TOP, "1": BOTTOM, "2": EVENS}}, "memory_items"),
        ({"memory_items": {"0": TOP, "1": BOTTOM[1:], "2": EVENS, "3": ODDS}}, "memory_items.1"),
        ({"memory_items": {"0": [36, *TOP[1:]], "1": BOTTOM, "2": EVENS, "3": ODDS}}, "memory_items.0[0]"),
        ({"memory_items": {"0": TOP, "1": BOTTOM, "2": EVENS, "3": EVENS}}, "memory_items"),
        ({"distractor_diff": 3}, "distractor_diff"),
        ({"distractor_diff": 6}, "distractor_item"),
        ({"distractor_item": [*EVENS[1:], 1]}, "distractor_item"),
        ({"recognition_gt": 2}, "recognition_gt"),
        ({"recognition_gt_index": 4}, "recognition_gt_index"),
        ({"recognition_gt_index": None}, "recognition_gt_index"),
    ],
)
def test_check_refuses_a_broken_trial_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(DataError) as refused:
        VARIANT.check(copy.deepcopy(official_trial()) | change, AT)
    assert refused.value.field == field


def test_patterns_and_distractors_keep_half_the_cells_dark() -> None:
    rng = random.Random(2)
    items = study_list(6, rng)
    assert list(items) == ["0", "1", "2", "3", "4", "5"]
    assert len({frozenset(p) for p in items.values()}) == 6
    for diff in (2, 4, 6, 8, 10):
        lure = distractor(items["0"], diff, items.values(), rng)
        assert len(set(lure)) == 18
        assert len(set(lure) ^ set(items["0"])) == diff
    assert bits([0, 35]) == "1" + "0" * 34 + "1"


def test_remembered_patterns_take_their_position_from_the_label_or_the_session() -> None:
    one, two = "10" * 18, "01" * 18
    memories = [
        Memory(f"The user saw pattern 3, which was {one}.", None),
        Memory(f"{two}", 4),
        Memory(f"{two} and Pattern 10: {one}", None),
    ]
    assert remembered(memories) == [(3, one), (5, two), (None, two), (10, one)]


def test_nearest_needs_a_strict_winner() -> None:
    assert nearest({"A": "10" * 18, "B": "01" * 18}, ["10" * 17 + "01"]) == "A"
    assert nearest({"A": "1" * 36, "B": "0" * 36}, ["10" * 18]) is None  # a tie
    assert nearest({"A": "1" * 36, "B": "0" * 36}, []) is None


@pytest.mark.parametrize(
    ("answer", "parsed"),
    [
        ("A", "A"),
        ("b", "B"),
        ("(B)", "B"),
        ("Option B.", "B"),
        ("The answer is A.", "A"),
        ("I choose option B because its cells match.", "B"),
        ("Answer: A", "A"),
        ("A or B", None),
        ("the answer is a guess", None),
        ("Option A, no wait, option B", None),
        ("Unknown.", None),
    ],
)
def test_choice_answers_parse_only_when_unambiguous(answer: str, parsed: str | None) -> None:
    assert parse_choice(answer) == parsed
    verdict = VARIANT.score("binary", {"answer": "B"}, answer)
    assert verdict == {"correct": float(parsed == "B"), "invalid": float(parsed is None)}


def test_generation_is_deterministic_in_the_seed() -> None:
    def trials(seed: int) -> list[dict[str, Any]]:
        return [VARIANT.generate(cell, True, random.Random(seed)) for cell in VARIANT.cells()]

    assert trials(4) == trials(4)
    assert trials(4) != trials(5)
