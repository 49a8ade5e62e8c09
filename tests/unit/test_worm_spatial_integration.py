"""SI: pieces of a line figure as frames, a yes/no same-figure probe, checked against the official schema."""

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
from membench_tasks.worm.variants.spatial_integration import VARIANT

AT = Where(Path("Spatial_Integration/data_rand_trials.json"), None).key("test").item(0)
#: a 12-segment snake: A1 to A5, back along row B, then C1 to C3.
SNAKE = [
    [0, 0],
    [0, 1],
    [0, 2],
    [0, 3],
    [0, 4],
    [1, 4],
    [1, 3],
    [1, 2],
    [1, 1],
    [1, 0],
    [2, 0],
    [2, 1],
    [2, 2],
]


def line(points: list[list[int]]) -> dict[str, list[int]]:
    return {str(i): point for i, point in enumerate(points)}


def official(**changes: Any) -> dict[str, Any]:
    """A same-figure trial in two pieces of 6 segments, shown second piece first."""
    trial = {
        "grid_size": 4,
        "pattern_size": 12,
        "part_size": 6,
        "memory_length": 2,
        "distractor_diff": None,
        "memory_part_line_segment": [line(SNAKE[6:]), line(SNAKE[:7])],
        "gt": 1,
        "gt_line_segment": line(SNAKE),
        "distractor_line_segment": None,
        "trial_type": "test",
        "trial_id": "test_000000",
        "memory_stim_fnames": ["test_000000_memory_00.png", "test_000000_memory_01.png"],
        "probe_stim_fnames": ["test_000000_probe.png"],
    }
    trial.update(changes)
    return trial


#: the snake with its last 2 segments replaced: C1 then D2, D3 (points the snake never visits).
DIFFERENT = {"gt": 0, "distractor_diff": 2, "distractor_line_segment": line([*SNAKE[:11], [3, 1], [3, 2]])}


@pytest.mark.parametrize("cell", VARIANT.cells(), ids=str)
@pytest.mark.parametrize("positive", [True, False])
def test_every_cell_round_trips_and_the_solver_is_exact(cell: dict[str, Any], positive: bool) -> None:
    rng = random.Random(cell["part_size"] * 10 + cell["distractor_diff"])
    trial = VARIANT.check(json.loads(json.dumps(VARIANT.generate(cell, positive, rng))), AT)
    encoded = VARIANT.encode(trial)
    assert len(encoded.frames) == 12 // cell["part_size"]
    (question,) = encoded.questions
    assert question.gold == {"answer": "yes" if positive else "no"}, "positive decides the answer"
    diff = "0" if positive else str(cell["distractor_diff"])
    assert question.labels == {"part_size": str(cell["part_size"]), "distractor_diff": diff}
    assert question.inputs["probe"] in question.text and question.inputs["probe"].count("-") == 12
    answer = VARIANT.solve(question.text, question.inputs, trial_memories(encoded, random.Random(3)))
    assert VARIANT.score(question.format, question.gold, answer) == {"correct": 1.0, "invalid": 0.0}
    nothing = VARIANT.solve(question.text, question.inputs, [])
    assert VARIANT.score(question.format, question.gold, nothing) == {"correct": 0.0, "invalid": 1.0}


def test_an_official_trial_shows_its_pieces_in_stored_order_and_the_probe_in_inputs() -> None:
    encoded = VARIANT.encode(VARIANT.check(official(), AT))
    grid = "a piece of a line figure on a 5x5 grid of points (rows A-E from the top, columns 1-5)"
    assert encoded.frames == [
        f"Frame 1: {grid}: B4-B3-B2-B1-C1-C2-C3.",
        f"Frame 2: {grid}: A1-A2-A3-A4-A5-B5-B4.",
    ]
    (question,) = encoded.questions
    assert question.inputs == {"probe": "A1-A2-A3-A4-A5-B5-B4-B3-B2-B1-C1-C2-C3"}
    assert question.gold == {"answer": "yes"} and question.labels == {
        "part_size": "6",
        "distractor_diff": "0",
    }
    different = VARIANT.encode(VARIANT.check(official(**DIFFERENT), AT)).questions[0]
    assert different.inputs == {"probe": "A1-A2-A3-A4-A5-B5-B4-B3-B2-B1-C1-D2-D3"}
    assert different.gold == {"answer": "no"} and different.labels["distractor_diff"] == "2"


def test_the_solver_compares_segments_not_the_direction_they_are_written_in() -> None:
    frames = list(VARIANT.encode(VARIANT.check(official(), AT)).frames)
    reversed_probe = {"probe": "C3-C2-C1-B1-B2-B3-B4-B5-A5-A4-A3-A2-A1"}
    assert VARIANT.solve("", reversed_probe, trial_memories(Encoded(frames, ()), random.Random(2))) == "yes"
    assert (
        VARIANT.solve("", reversed_probe, trial_memories(Encoded(frames[:1], ()), random.Random(2))) == "no"
    ), "half the figure is not it"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grid_size": 5}, "test[0].grid_size"),
        ({"part_size": 5}, "test[0].part_size"),
        ({"memory_part_line_segment": [line(SNAKE[6:])]}, "test[0].memory_part_line_segment"),
        (
            {"memory_part_line_segment": [line(SNAKE[6:]), line([*SNAKE[:6], [2, 4]])]},
            "test[0].memory_part_line_segment",
        ),
        (
            {"memory_part_line_segment": [line(SNAKE[6:]), line(SNAKE[:6])]},
            "test[0].memory_part_line_segment[1]",
        ),
        ({"gt_line_segment": line([*SNAKE[:3], [5, 0], *SNAKE[4:]])}, "test[0].gt_line_segment.3"),
        ({"gt": 2}, "test[0].gt"),
        ({"distractor_diff": 2}, "test[0].distractor_diff"),
        ({**DIFFERENT, "distractor_diff": None}, "test[0].distractor_diff"),
        ({**DIFFERENT, "distractor_line_segment": line(SNAKE)}, "test[0].distractor_line_segment"),
        ({**DIFFERENT, "distractor_line_segment": line(SNAKE[:12])}, "test[0].distractor_line_segment"),
    ],
)
def test_check_names_the_broken_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DataError) as bad:
        VARIANT.check(official(**changes), AT)
    assert bad.value.field == field


def test_cells_are_part_size_by_difference_and_generation_is_deterministic() -> None:
    cells = VARIANT.cells()
    assert len(cells) == 24 and VARIANT.chance == 0.5
    assert {c["part_size"] for c in cells} == {1, 2, 3, 4, 6, 12} and {
        c["distractor_diff"] for c in cells
    } == {1, 2, 3, 4}
    first = [VARIANT.generate(c, p, random.Random(2)) for c in cells for p in (True, False)]
    assert first == [VARIANT.generate(c, p, random.Random(2)) for c in cells for p in (True, False)]


def test_a_distractor_keeps_the_figure_but_its_last_segments() -> None:
    rng = random.Random(11)
    for diff in (1, 2, 3, 4):
        trial = VARIANT.generate({"part_size": 3, "distractor_diff": diff}, False, rng)
        figure, probe = trial["gt_line_segment"], trial["distractor_line_segment"]
        kept = 13 - diff
        assert [probe[str(i)] for i in range(kept)] == [figure[str(i)] for i in range(kept)]
        assert all(probe[str(i)] not in figure.values() for i in range(kept, 13))
