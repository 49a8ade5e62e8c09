"""SC: one cell per frame, a yes/no symmetry question, checked against the official trial schema."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import DataError
from membench.core.jsonl_input import Where
from membench.testing.worm import trial_memories
from membench_tasks.worm.variants.grid import mirror
from membench_tasks.worm.variants.spatial_coordination import VARIANT

AT = Where(Path("Spatial_Coordination/data_rand_trials.json"), None).key("test").item(0)


def official(**changes: Any) -> dict[str, Any]:
    """A symmetric trial as the official generator writes it: A1/A10 and C4/C7, A1 drawn twice."""
    trial = {
        "grid_size": 10,
        "list_length": 6,
        "max_list_length": 18,
        "symmetry_offset": 0,
        "gt_item": [23, 0, 9, 26, 0, 9],
        "gt": 1,
        "trial_type": "test",
        "trial_id": "test_000000",
        "gt_pattern_fname": "test_000000_gt_pattern.png",
        "memory_stim_fnames": [f"test_000000_memory_{i:03d}.png" for i in range(6)],
    }
    trial.update(changes)
    return trial


@pytest.mark.parametrize("cell", VARIANT.cells(), ids=str)
@pytest.mark.parametrize("positive", [True, False])
def test_every_cell_round_trips_and_the_solver_is_exact(cell: dict[str, Any], positive: bool) -> None:
    rng = random.Random(cell["list_length"] * 10 + cell["symmetry_offset"])
    trial = VARIANT.check(json.loads(json.dumps(VARIANT.generate(cell, positive, rng))), AT)
    shown = trial["gt_item"]
    assert len(shown) == len(set(shown)) == cell["list_length"]
    assert sum(mirror(c) not in shown for c in shown) == (0 if positive else cell["symmetry_offset"])
    encoded = VARIANT.encode(trial)
    (question,) = encoded.questions
    assert question.gold == {"answer": "yes" if positive else "no"}, "positive decides the answer"
    offset = "0" if positive else str(cell["symmetry_offset"])
    assert question.labels == {"list_length": str(cell["list_length"]), "symmetry_offset": offset}
    answer = VARIANT.solve(question.text, question.inputs, trial_memories(encoded, random.Random(5)))
    assert VARIANT.score(question.format, question.gold, answer) == {"correct": 1.0, "invalid": 0.0}
    nothing = VARIANT.solve(question.text, question.inputs, [])
    assert VARIANT.score(question.format, question.gold, nothing) == {"correct": 0.0, "invalid": 1.0}


def test_an_official_trial_is_one_frame_per_cell_shown() -> None:
    encoded = VARIANT.encode(VARIANT.check(official(), AT))
    assert encoded.frames == [
        f"Frame {n}: cell {name} of the 10x10 grid lights up."
        for n, name in enumerate(["C4", "A1", "A10", "C7", "A1", "A10"], start=1)
    ]
    (question,) = encoded.questions
    assert question.format == "binary" and question.gold == {"answer": "yes"}
    assert question.labels == {"list_length": "6", "symmetry_offset": "0"}
    assert VARIANT.solve(question.text, {}, trial_memories(encoded, random.Random(1))) == "yes"
    asymmetric = VARIANT.encode(
        VARIANT.check(official(gt_item=[23, 0, 9, 27, 0, 9], gt=0, symmetry_offset=2), AT)
    )
    assert VARIANT.solve(question.text, {}, trial_memories(asymmetric, random.Random(1))) == "no"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grid_size": 6}, "test[0].grid_size"),
        ({"gt_item": [23, 0, 9, 100, 0, 9]}, "test[0].gt_item[3]"),
        ({"list_length": 5}, "test[0].list_length"),
        ({"gt": True}, "test[0].gt"),
        ({"gt": 0}, "test[0].gt"),
        ({"gt_item": [23, 0, 9, 27, 0, 9]}, "test[0].gt"),
        ({"symmetry_offset": -2}, "test[0].symmetry_offset"),
    ],
)
def test_check_names_the_broken_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DataError) as bad:
        VARIANT.check(official(**changes), AT)
    assert bad.value.field == field


@pytest.mark.parametrize(
    ("answer", "correct", "invalid"),
    [
        ("Yes.", 1.0, 0.0),
        ("yes, it is symmetric", 1.0, 0.0),
        ("No", 0.0, 0.0),
        ("yes and no", 0.0, 1.0),
        ("?", 0.0, 1.0),
    ],
)
def test_yes_no_scores_by_hand(answer: str, correct: float, invalid: float) -> None:
    assert VARIANT.score("binary", {"answer": "yes"}, answer) == {"correct": correct, "invalid": invalid}


def test_cells_are_list_length_by_offset_and_generation_is_deterministic() -> None:
    cells = VARIANT.cells()
    assert len(cells) == 20 and VARIANT.chance == 0.5
    assert {c["list_length"] for c in cells} == {10, 12, 14, 16, 18}
    assert {c["symmetry_offset"] for c in cells} == {2, 4, 6, 8}
    first = [VARIANT.generate(c, p, random.Random(8)) for c in cells for p in (True, False)]
    assert first == [VARIANT.generate(c, p, random.Random(8)) for c in cells for p in (True, False)]
