"""SMU: a start frame and eight move frames, per-box scoring, checked against the official trial schema."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import DataError
from membench.core.jsonl_input import Where
from membench.testing.worm import trial_memories
from membench_tasks.worm.variant import Encoded
from membench_tasks.worm.variants.spatial_memory_updating import VARIANT

AT = Where(Path("Spatial_Memory_Updating/data_rand_trials.json"), None).key("test").item(0)
#: box 1 (index 0) starts at B2, box 2 at A1; round-robin moves end them at B1 and A3.
UPDATES = [
    [0, "up_down"],
    [1, "left_right"],
    [0, "down_up"],
    [1, "upleft_downright"],
    [0, "downright_upleft"],
    [1, "right_left"],
    [0, "up_down"],
    [1, "downleft_upright"],
]


def official(**changes: Any) -> dict[str, Any]:
    """A set-size-2 trial as the official generator writes it (drawing fields included)."""
    trial = {
        "set_size": 2,
        "grid_size": 3,
        "num_updates": 8,
        "presentation_time": 1,
        "box_center_coords": {"0": [8, 16], "1": [24, 16]},
        "box_grid_center_coords": {"0": {}, "1": {}},
        "inital_marker_state": {"0": 4, "1": 0},
        "final_marker_state": {"0": 3, "1": 2},
        "marker_states": [],
        "updates": [list(u) for u in UPDATES],
        "probe_order": [1, 0],
        "probe_gt": [2, 3],
        "trial_type": "test",
        "trial_id": "test_000000",
    }
    trial.update(changes)
    return trial


@pytest.mark.parametrize("cell", VARIANT.cells(), ids=str)
@pytest.mark.parametrize("order", [True, False])
def test_every_cell_round_trips_and_the_solver_is_exact(cell: dict[str, Any], order: bool) -> None:
    rng = random.Random(cell["set_size"])
    trial = VARIANT.check(json.loads(json.dumps(VARIANT.generate(cell, True, rng))), AT)
    assert [box for box, _ in trial["updates"]] == [k % cell["set_size"] for k in range(8)], "round-robin"
    encoded = VARIANT.encode(trial)
    assert len(encoded.frames) == 9
    (question,) = encoded.questions
    assert question.labels == {"set_size": str(cell["set_size"])}
    assert question.gold == {
        "boxes": [_id(trial["final_marker_state"][str(b)]) for b in range(cell["set_size"])]
    }
    answer = VARIANT.solve(
        question.text, question.inputs, trial_memories(encoded, random.Random(4), order=order)
    )
    scores = VARIANT.score(question.format, question.gold, answer)
    assert scores["correct"] == 1.0 and scores["invalid"] == 0.0
    assert [scores[f"box_{i}"] for i in range(1, cell["set_size"] + 1)] == [1.0] * cell["set_size"]
    nothing = VARIANT.score(question.format, question.gold, VARIANT.solve(question.text, question.inputs, []))
    assert nothing["correct"] == 0.0 and nothing["invalid"] == 1.0


def _id(cell: int) -> str:
    return "ABC"[cell // 3] + str(cell % 3 + 1)


def test_an_official_trial_is_a_start_frame_then_one_frame_per_move() -> None:
    encoded = VARIANT.encode(VARIANT.check(official(), AT))
    assert encoded.frames[:3] == [
        "Frame 1: markers start in 3x3 grids (rows A-C from the top, columns 1-3 from the left): "
        "box 1 at B2, box 2 at A1.",
        "Frame 2: the marker in box 1 moves one step down.",
        "Frame 3: the marker in box 2 moves one step right.",
    ]
    assert encoded.frames[-1] == "Frame 9: the marker in box 2 moves one step up-right."
    (question,) = encoded.questions
    assert question.format == "boxes" and question.gold == {"boxes": ["B1", "A3"]}
    assert "boxes 1 to 2" in question.text and question.labels == {"set_size": "2"}


def test_missing_moves_leave_the_solver_with_the_nearest_cell() -> None:
    frames = list(VARIANT.encode(VARIANT.check(official(), AT)).frames)
    # without box 1's two moves down it goes B2, up to A2, up-left off the grid: the nearest cell is A1
    kept = [frame for n, frame in enumerate(frames, start=1) if n not in (2, 8)]
    assert (
        VARIANT.solve("", {}, trial_memories(Encoded(kept, ()), random.Random(1))) == "box 1: A1, box 2: A3"
    )
    assert VARIANT.solve("", {}, trial_memories(Encoded(frames[1:], ()), random.Random(1))) == "Unknown.", (
        "no start frame"
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grid_size": 4}, "test[0].grid_size"),
        ({"set_size": 9}, "test[0].set_size"),
        ({"inital_marker_state": {"0": 4}}, "test[0].inital_marker_state"),
        ({"inital_marker_state": {"0": 4, "1": 9}}, "test[0].inital_marker_state.1"),
        ({"updates": [[2, "up_down"]]}, "test[0].updates[0][0]"),
        ({"updates": [[0, "sideways"]]}, "test[0].updates[0][1]"),
        ({"updates": [[0, "up_down"], [1, "right_left"]]}, "test[0].updates[1]"),
        ({"updates": [[0]]}, "test[0].updates[0]"),
        ({"updates": "up_down"}, "test[0].updates"),
    ],
)
def test_check_names_the_broken_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DataError) as bad:
        VARIANT.check(official(**changes), AT)
    assert bad.value.field == field


@pytest.mark.parametrize(
    ("answer", "boxes", "invalid"),
    [
        ("box 1: B1, box 2: A3", [1.0, 1.0], 0.0),
        ("Box 2 is in cell a3 and box 1 is in cell C1.", [0.0, 1.0], 0.0),
        ("B1, A3", [1.0, 1.0], 0.0),
        ("box 1: B1, box 1: C3, box 2: A3", [0.0, 1.0], 0.0),
        ("box 2: A3", [0.0, 1.0], 0.0),
        ("B1", [0.0, 0.0], 1.0),
        ("Unknown.", [0.0, 0.0], 1.0),
    ],
)
def test_box_scores_by_hand(answer: str, boxes: list[float], invalid: float) -> None:
    scores = VARIANT.score("boxes", {"boxes": ["B1", "A3"]}, answer)
    assert scores == {"box_1": boxes[0], "box_2": boxes[1], "correct": sum(boxes) / 2, "invalid": invalid}


def test_grid_chance_reference_and_determinism() -> None:
    assert [c["set_size"] for c in VARIANT.cells()] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert VARIANT.chance == pytest.approx(1 / 9)
    (human,) = VARIANT.references
    assert human.axis == "set_size" and human.points == ((1, 1.0), (2, 0.94), (3, 0.825), (4, 0.68))
    first = [VARIANT.generate(c, True, random.Random(6)) for c in VARIANT.cells()]
    assert first == [VARIANT.generate(c, True, random.Random(6)) for c in VARIANT.cells()]
