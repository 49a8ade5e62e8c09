"""WorM Visual Serial Recall (one probe grid, a slot per position) and Recognition (A/B per position)."""

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
from membench_tasks.worm.variants.visual_item_recognition import bits
from membench_tasks.worm.variants.visual_serial import VARIANTS, parse_slots

AT = Where(Path("data_rand_trials.json"), None)
VSR, VSREC = VARIANTS
EVENS, ODDS = list(range(0, 36, 2)), list(range(1, 36, 2))
TOP, BOTTOM = list(range(18)), list(range(18, 36))


def recall_trial() -> dict[str, Any]:
    """A VSR trial as the official generator writes it: 3 patterns in slots 4, 0 and 8 of the 9."""
    return {
        "grid_size": 6,
        "list_length": 3,
        "max_list_length": 9,
        "probe_variant": "Recall",
        "memory_items": {"0": TOP, "1": EVENS, "2": ODDS},
        "distractor_diff": None,
        "distractor_items": {},
        "recall_gt": [4, 0, 8],
        "recognition_gt": None,
        "trial_type": "test",
        "trial_id": "test_000000",
        "memory_stim_fnames": [f"test_000000_memory_0{i}.png" for i in range(3)],
        "probe_stim_fnames": ["test_000000_probe.png"],
    }


def recognition_trial() -> dict[str, Any]:
    """A VSRec trial as the official generator writes it: 2 patterns, distractors 2 cells off, the
    original on the right, then on the left."""
    return recall_trial() | {
        "list_length": 2,
        "probe_variant": "Recognition",
        "memory_items": {"0": TOP, "1": EVENS},
        "distractor_diff": 2,
        "distractor_items": {"0": [*TOP[1:], 35], "1": [*EVENS[1:], 1]},
        "recall_gt": None,
        "recognition_gt": [1, 0],
    }


def test_the_grids_chances_and_human_curves() -> None:
    assert (VSR.name, VSR.folder, VSREC.name, VSREC.folder) == (
        "vsr",
        "Visual_Serial_Recall",
        "vsrec",
        "Visual_Serial_Recognition",
    )
    assert VSR.cells() == [{"list_length": n} for n in range(2, 10)]
    assert len(VSREC.cells()) == 40
    assert VSREC.cells()[:2] == [
        {"list_length": 2, "distractor_diff": 2},
        {"list_length": 2, "distractor_diff": 4},
    ]
    assert (VSR.chance, VSREC.chance) == (1 / 9, 0.5)
    assert [r.where for r in VSR.references] == [{"list_length": str(n)} for n in (3, 4, 5, 6)]
    assert VSR.references[1].points == ((1, 0.79), (2, 0.66), (3, 0.60), (4, 0.76))
    assert {r.axis for r in (*VSR.references, *VSREC.references)} == {"serial_position"}
    assert VSREC.references[0].where == {"list_length": "5", "distractor_diff": "2"}
    assert VSREC.references[2].points == ((1, 0.7775), (2, 0.80), (3, 0.79), (4, 0.78), (5, 0.75))


def test_recall_solves_every_cell_from_all_frames_and_abstains_without_memories() -> None:
    rng = random.Random(13)
    for cell in VSR.cells():
        trial = VSR.check(json.loads(json.dumps(VSR.generate(cell, True, rng))), AT)
        encoded = VSR.encode(trial)
        (question,) = encoded.questions
        length = cell["list_length"]
        assert question.labels == {"list_length": str(length)}
        assert len(question.inputs) == 9
        assert sum(value == "empty" for value in question.inputs.values()) == 9 - length
        answer = VSR.solve(question.text, question.inputs, trial_memories(encoded, rng))
        perfect = {f"step_{i}": 1.0 for i in range(1, length + 1)} | {"correct": 1.0, "invalid": 0.0}
        assert VSR.score(question.format, question.gold, answer) == perfect
        assert VSR.solve(question.text, question.inputs, []) == ABSTAIN
        assert VSR.score(question.format, question.gold, ABSTAIN)["invalid"] == 1.0


def test_an_official_recall_trial_checks_and_encodes_its_probe_grid() -> None:
    trial = recall_trial()
    assert VSR.check(trial, AT) is trial
    encoded = VSR.encode(trial)
    assert encoded.frames[1] == "Pattern 2: " + "10" * 18 + " (6x6 grid read row by row, 1 = dark cell)."
    assert encoded.retention == {}
    (question,) = encoded.questions
    assert question.format == "sequence"
    assert question.gold == {"steps": [5, 1, 9]}
    assert question.inputs == {
        "slot_1": bits(EVENS),
        **{f"slot_{n}": "empty" for n in (2, 3, 4)},
        "slot_5": bits(TOP),
        **{f"slot_{n}": "empty" for n in (6, 7, 8)},
        "slot_9": bits(ODDS),
    }
    assert question.text.startswith("The probe grid below holds the 3 patterns shown earlier")


def test_recall_places_what_it_remembers_by_label_or_by_session() -> None:
    question = VSR.encode(recall_trial()).questions[0]
    partial = [Memory(f"pattern 3 was {bits(ODDS)}", None), Memory(f"Pattern 1: {bits(TOP)}", None)]
    answer = VSR.solve(question.text, question.inputs, partial)
    assert answer == "5, ?, 9"
    assert VSR.score("sequence", question.gold, answer) == {
        "step_1": 1.0,
        "step_2": 0.0,
        "step_3": 1.0,
        "correct": 2 / 3,
        "invalid": 0.0,
    }
    unlabelled = [Memory(bits(ODDS), 2), Memory(bits(EVENS), 1), Memory(bits(TOP), 0)]
    assert VSR.solve(question.text, question.inputs, unlabelled) == "5, 1, 9"


@pytest.mark.parametrize(
    ("answer", "parsed"),
    [
        ("5, 1, 9", [5, 1, 9]),
        ("[5 1 9]", [5, 1, 9]),
        ("Pattern 1 is in slot 5, pattern 2 in slot 9, pattern 3 in slot 1", [5, 9, 1]),
        ("?, 1, 9", [None, 1, 9]),
        ("5, 1", None),
        ("1: 5, 2: 1, 3: 9", None),
        ("Unknown.", None),
    ],
)
def test_recall_answers_parse_to_one_slot_per_step(answer: str, parsed: list[int | None] | None) -> None:
    assert parse_slots(answer, 3) == parsed
    verdict = VSR.score("sequence", {"steps": [5, 1, 9]}, answer)
    steps = (
        [0.0, 0.0, 0.0] if parsed is None else [float(p == g) for p, g in zip(parsed, [5, 1, 9], strict=True)]
    )
    assert verdict == {
        "step_1": steps[0],
        "step_2": steps[1],
        "step_3": steps[2],
        "correct": sum(steps) / 3,
        "invalid": float(parsed is None),
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"probe_variant": "Recognition"}, "probe_variant"),
        ({"max_list_length": 8}, "max_list_length"),
        ({"list_length": 10}, "list_length"),
        ({"memory_items": {"0": TOP, "1": EVENS, "2": EVENS}}, "memory_items"),
        ({"recall_gt": [4, 0]}, "recall_gt"),
        ({"recall_gt": [4, 9, 0]}, "recall_gt[1]"),
        ({"recall_gt": [4, 4, 0]}, "recall_gt"),
        ({"recall_gt": None}, "recall_gt"),
    ],
)
def test_recall_check_refuses_a_broken_trial_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(DataError) as refused:
        VSR.check(copy.deepcopy(recall_trial()) | change, AT)
    assert refused.value.field == field


def test_recognition_solves_every_cell_and_balances_the_sides() -> None:
    rng = random.Random(17)
    for cell in VSREC.cells():
        sides = []
        for positive in (True, False):
            trial = VSREC.check(json.loads(json.dumps(VSREC.generate(cell, positive, rng))), AT)
            encoded = VSREC.encode(trial)
            assert len(encoded.questions) == cell["list_length"]
            memories = trial_memories(encoded, rng)
            for position, question in enumerate(encoded.questions, 1):
                assert question.key == f"position_{position}"
                assert question.labels == {
                    "list_length": str(cell["list_length"]),
                    "distractor_diff": str(cell["distractor_diff"]),
                    "serial_position": str(position),
                }
                sides.append(question.gold["answer"])
                answer = VSREC.solve(question.text, question.inputs, memories)
                assert VSREC.score(question.format, question.gold, answer) == {"correct": 1.0, "invalid": 0.0}
                assert VSREC.solve(question.text, question.inputs, []) == ABSTAIN
        assert sides.count("A") == sides.count("B") == cell["list_length"]


def test_an_official_recognition_trial_checks_and_encodes_one_question_per_position() -> None:
    trial = recognition_trial()
    assert VSREC.check(trial, AT) is trial
    encoded = VSREC.encode(trial)
    first, second = encoded.questions
    assert first.text == (
        "One of these two patterns, A or B, is pattern 1 as it was shown; the other differs from it in a "
        "few cells. Which one was shown? Answer A or B."
    )
    assert (first.gold, second.gold) == ({"answer": "B"}, {"answer": "A"})
    assert first.inputs == {"A": bits([*TOP[1:], 35]), "B": bits(TOP)}
    assert second.inputs == {"A": bits(EVENS), "B": bits([*EVENS[1:], 1])}
    assert VSREC.score("binary", first.gold, "Option B") == {"correct": 1.0, "invalid": 0.0}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"probe_variant": "Recall"}, "probe_variant"),
        ({"distractor_diff": 3}, "distractor_diff"),
        ({"distractor_diff": 4}, "distractor_items.0"),
        ({"distractor_items": {"0": [*TOP[1:], 35]}}, "distractor_items"),
        ({"recognition_gt": [1]}, "recognition_gt"),
        ({"recognition_gt": [2, 0]}, "recognition_gt[0]"),
        ({"recognition_gt": [True, 0]}, "recognition_gt[0]"),
    ],
)
def test_recognition_check_refuses_a_broken_trial_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(DataError) as refused:
        VSREC.check(copy.deepcopy(recognition_trial()) | change, AT)
    assert refused.value.field == field


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_generation_is_deterministic_in_the_seed(variant: Any) -> None:
    def trials(seed: int) -> list[dict[str, Any]]:
        return [variant.generate(cell, True, random.Random(seed)) for cell in variant.cells()]

    assert trials(8) == trials(8)
    assert trials(8) != trials(9)
