"""SFR: red cells as frames, set recall as the score, checked against the official trial schema."""

from __future__ import annotations

import json
import random
from math import comb
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import DataError
from membench.core.jsonl_input import Where
from membench.testing.worm import trial_memories
from membench_tasks.worm.variants.spatial_free_recall import LIST_LENGTHS, VARIANT

AT = Where(Path("Spatial_Free_Recall/data_rand_trials.json"), None).key("test").item(0)
VISIBLE = [0, 9, 23, 99, *range(40, 66)]


def official(**changes: Any) -> dict[str, Any]:
    """A trial as the official generator writes it (file names included)."""
    trial = {
        "grid_size": 10,
        "set_size": 30,
        "list_length": 3,
        "visible_cells": list(VISIBLE),
        "recall_gt": [23, 0, 99],
        "trial_type": "test",
        "trial_id": "test_000000",
        "memory_stim_fnames": [f"test_000000_memory_0{i}.png" for i in range(3)],
        "probe_stim_fnames": ["test_000000_probe.png"],
    }
    trial.update(changes)
    return trial


@pytest.mark.parametrize("cell", VARIANT.cells(), ids=str)
def test_every_cell_round_trips_and_the_solver_is_exact(cell: dict[str, Any]) -> None:
    rng = random.Random(cell["list_length"])
    trial = VARIANT.check(json.loads(json.dumps(VARIANT.generate(cell, True, rng))), AT)
    assert len(trial["visible_cells"]) == 30 and len(trial["recall_gt"]) == cell["list_length"]
    encoded = VARIANT.encode(trial)
    assert len(encoded.frames) == cell["list_length"] + 1
    (question,) = encoded.questions
    assert question.labels == {"list_length": str(cell["list_length"])}
    answer = VARIANT.solve(question.text, question.inputs, trial_memories(encoded, random.Random(7)))
    scores = VARIANT.score(question.format, question.gold, answer)
    assert scores["f1"] == scores["recall"] == scores["precision"] == 1.0 and scores["invalid"] == 0.0
    assert [scores[f"pos_{i}"] for i in range(1, cell["list_length"] + 1)] == [1.0] * cell["list_length"]
    nothing = VARIANT.score(question.format, question.gold, VARIANT.solve(question.text, question.inputs, []))
    assert nothing["f1"] == 0.0 and nothing["invalid"] == 1.0


def test_an_official_trial_becomes_a_visible_frame_and_one_frame_per_red_cell() -> None:
    encoded = VARIANT.encode(VARIANT.check(official(), AT))
    assert encoded.frames[0].startswith(
        "Frame 1: a 10x10 grid (rows A-J from the top, columns 1-10 from the left) shows 30 green cells: "
        "A1, A10, C4, E1, E2,"
    )
    assert encoded.frames[0].endswith("G6, J10.")
    assert encoded.frames[1:] == [
        "Frame 2: cell C4 turns red.",
        "Frame 3: cell A1 turns red.",
        "Frame 4: cell J10 turns red.",
    ]
    (question,) = encoded.questions
    assert question.format == "set" and question.gold == {"items": ["C4", "A1", "J10"]}
    assert "C4" not in question.text and not encoded.retention


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grid_size": 8}, "test[0].grid_size"),
        ({"set_size": 29}, "test[0].set_size"),
        ({"visible_cells": [*VISIBLE[:-1], 0]}, "test[0].visible_cells"),
        ({"recall_gt": [23, 1, 99]}, "test[0].recall_gt[1]"),
        ({"recall_gt": [23, "A1", 99]}, "test[0].recall_gt[1]"),
        ({"list_length": 4}, "test[0].list_length"),
        ({"recall_gt": None}, "test[0].recall_gt"),
    ],
)
def test_check_names_the_broken_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DataError) as bad:
        VARIANT.check(official(**changes), AT)
    assert bad.value.field == field


def test_a_trial_without_a_field_the_encoder_reads_is_refused() -> None:
    trial = official()
    del trial["visible_cells"]
    with pytest.raises(DataError, match="is missing"):
        VARIANT.check(trial, AT)


GOLD = {"items": ["C4", "A1", "J10"]}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("c4, A1 and J10", {"recall": 1.0, "precision": 1.0, "f1": 1.0, "pos": [1, 1, 1], "invalid": 0.0}),
        ("C4, B2", {"recall": 1 / 3, "precision": 1 / 2, "f1": 0.4, "pos": [1, 0, 0], "invalid": 0.0}),
        ("A10, J10", {"recall": 1 / 3, "precision": 1 / 2, "f1": 0.4, "pos": [0, 0, 1], "invalid": 0.0}),
        ("B2", {"recall": 0.0, "precision": 0.0, "f1": 0.0, "pos": [0, 0, 0], "invalid": 0.0}),
        ("Unknown.", {"recall": 0.0, "precision": 0.0, "f1": 0.0, "pos": [0, 0, 0], "invalid": 1.0}),
    ],
)
def test_set_scores_by_hand(answer: str, expected: dict[str, Any]) -> None:
    scores = VARIANT.score("set", GOLD, answer)
    assert [scores[f"pos_{i}"] for i in (1, 2, 3)] == expected.pop("pos")
    assert {k: scores[k] for k in expected} == pytest.approx(expected)


def test_chance_is_l_over_30_at_list_length_l_so_no_single_level_is_declared() -> None:
    def expected_f1(length: int) -> float:  # H hits ~ hypergeometric(30 visible, L targets, L picks)
        total = comb(30, length)
        return sum(
            h / length * comb(length, h) * comb(30 - length, length - h) / total for h in range(length + 1)
        )

    assert [expected_f1(n) for n in LIST_LENGTHS] == pytest.approx([n / 30 for n in LIST_LENGTHS])
    assert VARIANT.chance is None


def test_generation_is_deterministic_in_the_rng() -> None:
    cells = VARIANT.cells()
    first = [VARIANT.generate(c, True, random.Random(3)) for c in cells]
    assert first == [VARIANT.generate(c, True, random.Random(3)) for c in cells]
    assert first != [VARIANT.generate(c, True, random.Random(4)) for c in cells]
