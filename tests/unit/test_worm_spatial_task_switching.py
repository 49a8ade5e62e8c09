"""STS: cue and marker frames, one judgement per marker frame, checked against the official trial schema."""

from __future__ import annotations

import json
import random
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import DataError
from membench.core.jsonl_input import Where
from membench.testing.worm import trial_memories
from membench_tasks.worm.variant import Encoded
from membench_tasks.worm.variants.spatial_task_switching import VARIANT

AT = Where(Path("Spatial_Task_Switching_Cued/data_rand_trials.json"), None).key("test").item(0)
GOLD = {"steps": ["top", "bottom", "right", "left"]}


def official(**changes: Any) -> dict[str, Any]:
    """A 6-frame cued trial: top/bottom for two markers, then a switch to left/right for two."""
    trial = {
        "trial_length": 6,
        "variant": "Cued",
        "task_gt": ["Cue_Up_Down", "Up_Down", "Up_Down", "Cue_Left_Right", "Left_Right", "Left_Right"],
        "gt": [2, 0, 1, 2, 1, 0],
        "marker_location": {"1": 1, "2": 2, "4": 3, "5": 0},
        "trial_type": "test",
        "trial_id": "test_000000",
        "stim_fnames": [f"test_000000_trial_0{i}.png" for i in range(6)],
    }
    trial.update(changes)
    return trial


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("order", [True, False])
def test_generated_trials_round_trip_and_the_solver_is_exact(seed: int, order: bool) -> None:
    (cell,) = VARIANT.cells()
    trial = VARIANT.check(json.loads(json.dumps(VARIANT.generate(cell, True, random.Random(seed)))), AT)
    tasks = trial["task_gt"]
    assert len(tasks) == 20 and tasks[0].startswith("Cue_") and not tasks[-1].startswith("Cue_")
    assert all(not nxt.startswith("Cue_") for now, nxt in pairwise(tasks) if now.startswith("Cue_"))
    encoded = VARIANT.encode(trial)
    (question,) = encoded.questions
    assert len(question.gold["steps"]) == sum(not t.startswith("Cue_") for t in tasks)
    answer = VARIANT.solve(
        question.text, question.inputs, trial_memories(encoded, random.Random(seed), order=order)
    )
    scores = VARIANT.score(question.format, question.gold, answer)
    assert scores["correct"] == 1.0 and scores["invalid"] == 0.0
    nothing = VARIANT.score(question.format, question.gold, VARIANT.solve(question.text, question.inputs, []))
    assert nothing["correct"] == 0.0 and nothing["invalid"] == 1.0


def test_an_official_trial_shows_cues_and_markers_and_asks_every_judgement() -> None:
    encoded = VARIANT.encode(VARIANT.check(official(), AT))
    assert encoded.frames == [
        "Frame 1: cue: from this frame on, judge each marker as top or bottom.",
        "Frame 2: the marker is in the top-right square.",
        "Frame 3: the marker is in the bottom-left square.",
        "Frame 4: cue: from this frame on, judge each marker as left or right.",
        "Frame 5: the marker is in the bottom-right square.",
        "Frame 6: the marker is in the top-left square.",
    ]
    (question,) = encoded.questions
    assert (
        question.format == "sequence" and question.gold == GOLD and question.labels == {"trial_length": "6"}
    )


def test_the_solver_judges_by_the_latest_cue_it_remembers() -> None:
    frames = list(VARIANT.encode(VARIANT.check(official(), AT)).frames)
    without_switch = [f for f in frames if not f.startswith("Frame 4:")]
    assert (
        VARIANT.solve("", {}, trial_memories(Encoded(without_switch, ()), random.Random(3)))
        == "top, bottom, bottom, top"
    )
    assert (
        VARIANT.solve("", {}, trial_memories(Encoded(frames[1:], ()), random.Random(3)))
        == "unknown, unknown, right, left"
    )
    assert VARIANT.score("sequence", GOLD, "unknown, unknown, right, left")["correct"] == 0.5


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"variant": "Alternate"}, "test[0].variant"),
        ({"trial_length": 20}, "test[0].trial_length"),
        ({"gt": [2, 0, 1, 2, 1]}, "test[0].gt"),
        (
            {"task_gt": ["Up_Down", "Up_Down", "Up_Down", "Cue_Left_Right", "Left_Right", "Left_Right"]},
            "test[0].task_gt[0]",
        ),
        (
            {"task_gt": ["Cue_Up_Down", "Up_Down", "Up_Down", "Cue_Left_Right", "Up_Down", "Left_Right"]},
            "test[0].task_gt[4]",
        ),
        ({"gt": [0, 0, 1, 2, 1, 0]}, "test[0].gt[0]"),
        ({"gt": [2, 0, 1, 2, 1, True]}, "test[0].gt[5]"),
        ({"marker_location": {"1": 2, "2": 2, "4": 3, "5": 0}}, "test[0].marker_location.1"),
        ({"marker_location": {"1": 1, "2": 2, "4": 3}}, "test[0].marker_location.5"),
        ({"marker_location": {"1": 1, "2": 4, "4": 3, "5": 0}}, "test[0].marker_location.2"),
    ],
)
def test_check_names_the_broken_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DataError) as bad:
        VARIANT.check(official(**changes), AT)
    assert bad.value.field == field


@pytest.mark.parametrize(
    ("answer", "steps", "invalid"),
    [
        ("top, bottom, right, left", [1, 1, 1, 1], 0.0),
        ("Top; Bottom; left; left", [1, 1, 0, 1], 0.0),
        ("up, down, right, left", [1, 1, 1, 1], 0.0),
        ("top, bottom", [1, 1, 0, 0], 0.0),
        ("top, bottom, right, left, top", [0, 0, 0, 0], 1.0),
        ("Unknown.", [0, 0, 0, 0], 1.0),
    ],
)
def test_sequence_scores_by_hand(answer: str, steps: list[int], invalid: float) -> None:
    scores = VARIANT.score("sequence", GOLD, answer)
    assert scores == {
        **{f"step_{i}": float(s) for i, s in enumerate(steps, start=1)},
        "correct": sum(steps) / 4,
        "invalid": invalid,
    }


def test_generation_is_deterministic_and_switches_about_one_marker_in_five() -> None:
    (cell,) = VARIANT.cells()
    assert cell == {"trial_length": 20} and VARIANT.chance == 0.5
    trials = [VARIANT.generate(cell, True, random.Random(seed)) for seed in range(200)]
    assert trials == [VARIANT.generate(cell, True, random.Random(seed)) for seed in range(200)]
    cues = sum(t.startswith("Cue_") for trial in trials for t in trial["task_gt"][1:])
    markers = sum(not t.startswith("Cue_") for trial in trials for t in trial["task_gt"])
    assert 0.12 < cues / markers < 0.22, (
        "a new cue after a marker with probability 0.2, none in the last slot"
    )
