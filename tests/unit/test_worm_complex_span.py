"""CS: two memory items among distractor frames, two 8-way recall questions, checked against the official
trial schema."""

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
from membench_tasks.worm.variants.complex_span import VARIANT

AT = Where(Path("Complex_Span/data_rand_trials.json"), None).key("test").item(0)
DIRECTIONS = ["up", "up-right", "right", "down-right", "down", "down-left", "left", "up-left"]
PATTERN = [0, 1, 2, 3, 4, 5, 6, 7]  # the top two rows red
#: 7 lures, each the pattern with 3 red cells moved to the bottom half.
LURES = [
    sorted(set(PATTERN) - {i, i + 1, (i + 2) % 8} | {8 + i, 8 + (i + 1) % 8, 8 + (i + 2) % 8})
    for i in range(7)
]


def spatial_visual(**changes: Any) -> dict[str, Any]:
    """A spatial-memory, visual-distractor trial with one distractor per item, as the official generator
    writes it (hex colours, file names)."""
    trial = {
        "memory_1_gt": "036",
        "memory_2_gt": "642",
        "recall_gt_1": 5,
        "recall_gt_2": 0,
        "mem_distractor_1": None,
        "mem_distractor_2": None,
        "distractor_grid_size": None,
        "distractor_gts": [0, 1],
        "distractor_gt_items": ["#B22222", "#1E90FF"],
        "memory_stim_1_fnames": [f"test_000000_memory_1_00{i}.png" for i in range(3)],
        "num_distractor": 1,
        "variation": "spatial-visual",
        "trial_type": "test",
        "trial_id": "test_000000",
    }
    trial.update(changes)
    return trial


def visual_spatial(**changes: Any) -> dict[str, Any]:
    """A visual-memory, spatial-distractor trial with one distractor per item."""
    trial = {
        "memory_1_gt": list(PATTERN),
        "memory_2_gt": list(range(8, 16)),
        "recall_gt_1": 2,
        "recall_gt_2": 7,
        "mem_distractor_1": [list(lure) for lure in LURES],
        "mem_distractor_2": [[15 - c for c in lure] for lure in LURES],
        "distractor_grid_size": 10,
        "distractor_gts": [1, 0],
        "distractor_gt_items": [[0, 9, 23, 26], [0, 9, 23, 27]],
        "num_distractor": 1,
        "variation": "visual-spatial",
    }
    trial.update(changes)
    return trial


def bits(cells: list[int]) -> str:
    return "".join("1" if c in cells else "0" for c in range(16))


@pytest.mark.parametrize("cell", VARIANT.cells(), ids=str)
def test_every_cell_round_trips_and_the_solver_is_exact(cell: dict[str, Any]) -> None:
    rng = random.Random(cell["num_distractor"])
    trial = VARIANT.check(json.loads(json.dumps(VARIANT.generate(cell, True, rng))), AT)
    assert (
        trial["variation"] == cell["domain_pair"]
        and len(trial["distractor_gt_items"]) == 2 * cell["num_distractor"]
    )
    encoded = VARIANT.encode(trial)
    assert len(encoded.frames) == 2 + 2 * cell["num_distractor"]
    assert encoded.frames[cell["num_distractor"] + 1].startswith(
        f"Frame {cell['num_distractor'] + 2}: memory item 2:"
    )
    for k, question in enumerate(encoded.questions, start=1):
        assert question.format == "choice" and question.gold["options"] == 8 and len(question.inputs) == 8
        assert question.labels == {
            "domain_pair": cell["domain_pair"],
            "num_distractor": str(cell["num_distractor"]),
            "serial_position": str(k),
        }
        answer = VARIANT.solve(question.text, question.inputs, trial_memories(encoded, random.Random(k)))
        assert VARIANT.score(question.format, question.gold, answer) == {"correct": 1.0, "invalid": 0.0}
        nothing = VARIANT.solve(question.text, question.inputs, [])
        assert VARIANT.score(question.format, question.gold, nothing) == {"correct": 0.0, "invalid": 1.0}


def test_a_spatial_memory_is_recalled_as_its_direction_among_the_eight() -> None:
    encoded = VARIANT.encode(VARIANT.check(spatial_visual(), AT))
    grid = "of a 3x3 grid (rows A-C from the top, columns 1-3 from the left)"
    assert encoded.frames == [
        f"Frame 1: memory item 1: a ball moves through cells A1, B1, C1 {grid}.",
        "Frame 2: distractor: a colour patch, #B22222.",
        f"Frame 3: memory item 2: a ball moves through cells C1, B2, A3 {grid}.",
        "Frame 4: distractor: a colour patch, #1E90FF.",
    ]
    first, second = encoded.questions
    assert list(first.inputs.values()) == DIRECTIONS and first.inputs["E"] == "down"
    assert first.gold == {"answer": "E", "options": 8} and second.gold == {"answer": "B", "options": 8}
    assert "A) up; B) up-right;" in first.text and first.text.startswith("Memory item 1 was a ball")
    only_second = trial_memories(Encoded(encoded.frames[2:], ()), random.Random(0))
    assert VARIANT.solve(second.text, second.inputs, only_second) == "B"
    assert VARIANT.solve(first.text, first.inputs, only_second) == "Unknown."


def test_a_visual_memory_sits_at_its_official_slot_among_the_official_lures() -> None:
    encoded = VARIANT.encode(VARIANT.check(visual_spatial(), AT))
    assert encoded.frames[0] == (
        "Frame 1: memory item 1: a 4x4 pattern, rows from the top, 1 = red cell, 0 = white cell: "
        "1111111100000000."
    )
    assert encoded.frames[1] == (
        "Frame 2: distractor: a 10x10 grid (rows A-J from the top, columns 1-10 from the left) with red "
        "cells A1, A10, C4, C7."
    )
    first, second = encoded.questions
    assert list(first.inputs.values()) == [
        bits(LURES[0]),
        bits(LURES[1]),
        bits(PATTERN),
        *map(bits, LURES[2:]),
    ]
    assert first.gold["answer"] == "C" and second.gold["answer"] == "H"
    assert VARIANT.solve(first.text, first.inputs, trial_memories(encoded, random.Random(1))) == "C"


@pytest.mark.parametrize(
    ("trial", "field"),
    [
        (spatial_visual(variation="spatial-audio"), "test[0].variation"),
        (spatial_visual(num_distractor=2), "test[0].distractor_gt_items"),
        (spatial_visual(memory_1_gt="013"), "test[0].memory_1_gt"),
        (spatial_visual(distractor_gt_items=["#B22222", ""]), "test[0].distractor_gt_items[1]"),
        (visual_spatial(memory_1_gt=[0, 1, 16]), "test[0].memory_1_gt[2]"),
        (visual_spatial(recall_gt_2=8), "test[0].recall_gt_2"),
        (visual_spatial(mem_distractor_1=LURES[:6]), "test[0].mem_distractor_1"),
        (
            visual_spatial(mem_distractor_1=[*LURES[:3], PATTERN[::-1], *LURES[4:]]),
            "test[0].mem_distractor_1[3]",
        ),
        (visual_spatial(distractor_grid_size=None), "test[0].distractor_grid_size"),
        (visual_spatial(distractor_gt_items=[[0, 9], [0, 100]]), "test[0].distractor_gt_items[1][1]"),
    ],
)
def test_check_names_the_broken_field(trial: dict[str, Any], field: str) -> None:
    with pytest.raises(DataError) as bad:
        VARIANT.check(trial, AT)
    assert bad.value.field == field


@pytest.mark.parametrize(
    ("answer", "correct", "invalid"),
    [
        ("E", 1.0, 0.0),
        ("(e)", 1.0, 0.0),
        ("Option E", 1.0, 0.0),
        ("The answer is E.", 1.0, 0.0),
        ("**E) down**", 1.0, 0.0),
        ("D", 0.0, 0.0),
        ("A ball moved down", 0.0, 1.0),
        ("E or F", 0.0, 1.0),
        ("I", 0.0, 1.0),
        ("Unknown.", 0.0, 1.0),
    ],
)
def test_choice_scores_by_hand(answer: str, correct: float, invalid: float) -> None:
    assert VARIANT.score("choice", {"answer": "E", "options": 8}, answer) == {
        "correct": correct,
        "invalid": invalid,
    }


def test_built_visual_options_give_nothing_away_without_memory() -> None:
    """The option closest to all the others is the memory pattern 84% of the time with the official lures
    (each the memory with 3 red cells moved); built options around a hidden base leave it at chance."""
    rng, hits, asked = random.Random(0), 0, 0
    for _ in range(200):
        trial = VARIANT.generate({"domain_pair": "visual-visual", "num_distractor": 0}, True, rng)
        for question in VARIANT.encode(trial).questions:
            options = question.inputs
            spread = {
                k: sum(a != b for o in options.values() for a, b in zip(v, o, strict=True))
                for k, v in options.items()
            }
            hits += min(spread, key=lambda k: spread[k]) == question.gold["answer"]
            asked += 1
    assert hits / asked < 0.2 and VARIANT.chance == 1 / 8


def test_cells_and_determinism() -> None:
    cells = VARIANT.cells()
    assert len(cells) == 16 and {c["num_distractor"] for c in cells} == {0, 1, 3, 5}
    assert VARIANT.references == (), "the human curves are against cognitive load, not distractor counts"
    first = [VARIANT.generate(c, True, random.Random(9)) for c in cells]
    assert first == [VARIANT.generate(c, True, random.Random(9)) for c in cells]
