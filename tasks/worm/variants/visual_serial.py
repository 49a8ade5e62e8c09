"""Visual Serial Recall (VSR) and Visual Serial Recognition (VSRec): L 6x6 patterns, then their order.

Both study the same way as VIR (``visual_item_recognition``, which holds the pattern rules and the
36-bit text encoding): frame i is "Pattern i: <bits>". The official release keeps them in two folders
of one generator (``probe_variant`` "Recall" or "Recognition").

- **VSR**: one probe grid of 9 slots (the official ``max_list_length``; a 3x3 grid) holds the L
  patterns in shuffled slots, the other slots empty; ``recall_gt[i]`` is the 0-based slot of pattern
  i. Text: inputs ``slot_1``..``slot_9`` (a pattern or "empty"); one ``sequence`` question whose gold
  steps are the 1-based slots in serial order, scored per step as ``step_<i>`` (i = serial position),
  chance 1/9 a step. Grid: L in {2, ..., 9}.
- **VSRec**: L two-choice questions, one per serial position in order: the pattern shown there vs a
  distractor differing in ``distractor_diff`` cells, as options A and B (``recognition_gt[i]`` = 0
  puts the original on A). Grid: L in {2, ..., 9} × diff in {2, 4, 6, 8, 10}; the official generator
  draws the diff per trial, here it is a factor so every cell of the curve has the same count.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from membench.core.jsonl_input import Where, require
from membench.core.jsonl_input import check as check_type
from membench_tasks.worm.variant import ABSTAIN, AnswerFormat, Encoded, Memory, Question, Reference, Variant
from membench_tasks.worm.variants.visual_item_recognition import (
    GRID,
    bits,
    choice_verdict,
    distractor,
    nearest,
    pattern_frame,
    read_bits,
    remembered,
    require_diff,
    require_grid,
    require_int,
    require_items,
    require_lure,
    solve_choice,
    study_list,
)

LIST_LENGTHS = tuple(range(2, 10))
#: the probe grid's slot count: the official ``max_list_length``, the largest list length.
SLOTS = max(LIST_LENGTHS)
EMPTY = "empty"

_SLOT_KEY = re.compile(r"slot_(\d+)")
_SLOT_WORD = re.compile(r"\bslot\s*#?\s*(\d+)", re.IGNORECASE)
_ENTRY = re.compile(r"\d+|\?")


def _serial_fields(trial: Any, at: Where, probe_variant: str) -> tuple[dict[str, Any], int]:
    """The fields VSR and VSRec share, checked; returns the trial and its list length."""
    checked: dict[str, Any] = check_type(trial, dict, at)
    require_grid(checked, at)
    if require(checked, "probe_variant", str, at) != probe_variant:
        raise at.key("probe_variant").error(f"must be {probe_variant!r}, got {checked['probe_variant']!r}")
    require_int(checked, "max_list_length", at, SLOTS, SLOTS)
    length = require_int(checked, "list_length", at, 1, SLOTS)
    return checked, length


def parse_slots(answer: str, steps: int) -> list[int | None] | None:
    """The slot numbers of an answer, one per step ("?" for a step left open): the numbers after
    "slot" when the answer names slots ("pattern 1 is in slot 4, ..."), else every number and "?" in
    order ("4, 7, ?"). None (invalid) unless there are exactly ``steps`` of them."""
    entries = _SLOT_WORD.findall(answer) or _ENTRY.findall(answer)
    if len(entries) != steps:
        return None
    return [None if entry == "?" else int(entry) for entry in entries]


class VisualSerialRecall(Variant):
    """VSR: for each studied pattern in order, the probe-grid slot that holds it."""

    name = "vsr"
    folder = "Visual_Serial_Recall"
    factors = ("list_length",)
    chance = 1 / SLOTS
    references: ClassVar[tuple[Reference, ...]] = tuple(
        Reference(
            "serial_position", f"Human, L {length}", tuple(enumerate(curve, 1)), {"list_length": str(length)}
        )
        for length, curve in (
            (3, (0.895, 0.85, 0.86)),
            (4, (0.79, 0.66, 0.60, 0.76)),
            (5, (0.69, 0.54, 0.53, 0.45, 0.63)),
            (6, (0.64, 0.53, 0.44, 0.44, 0.36, 0.49)),
        )
    )

    def cells(self) -> list[dict[str, Any]]:
        return [{"list_length": length} for length in LIST_LENGTHS]

    def generate(self, cell: Mapping[str, Any], positive: bool, rng: random.Random) -> dict[str, Any]:
        """The slots drawn as the official generator draws them; ``positive`` has no role (no yes/no)."""
        length = cell["list_length"]
        return {
            "grid_size": GRID,
            "list_length": length,
            "max_list_length": SLOTS,
            "probe_variant": "Recall",
            "memory_items": study_list(length, rng),
            "distractor_diff": None,
            "distractor_items": {},
            "recall_gt": rng.sample(range(SLOTS), length),
            "recognition_gt": None,
        }

    def check(self, trial: Any, at: Where) -> dict[str, Any]:
        checked, length = _serial_fields(trial, at, "Recall")
        require_items(checked, "memory_items", length, at, distinct=True)
        slots = require(checked, "recall_gt", list, at)
        if len(slots) != length:
            raise at.key("recall_gt").error(f"must give one slot per pattern ({length}), got {len(slots)}")
        for i, slot in enumerate(slots):
            if not 0 <= check_type(slot, int, at.key("recall_gt").item(i)) < SLOTS:
                raise at.key("recall_gt").item(i).error(f"must be a slot from 0 to {SLOTS - 1}, got {slot}")
        if len(set(slots)) != length:
            raise at.key("recall_gt").error("puts two patterns in one slot")
        return checked

    def encode(self, trial: Mapping[str, Any]) -> Encoded:
        length, items, slots = trial["list_length"], trial["memory_items"], trial["recall_gt"]
        held = {slot: bits(items[str(i)]) for i, slot in enumerate(slots)}
        question = Question(
            key="recall",
            text=(
                f"The probe grid below holds the {length} patterns shown earlier, in shuffled slots "
                f"numbered 1 to {SLOTS}. For each pattern in the order it was shown, give the number of "
                f"the slot holding it: {length} numbers separated by commas, ? for one you cannot place."
            ),
            format="sequence",
            gold={"steps": [slot + 1 for slot in slots]},
            labels={"list_length": str(length)},
            inputs={f"slot_{slot + 1}": held.get(slot, EMPTY) for slot in range(SLOTS)},
        )
        return Encoded(
            frames=[pattern_frame(i + 1, items[str(i)]) for i in range(length)], questions=[question]
        )

    def solve(self, question: str, inputs: Mapping[str, str], memories: Sequence[Memory]) -> str:
        """For each serial position, the slot whose pattern is nearest to the pattern remembered at that
        position ("?" where none is); "Unknown." when no position can be placed."""
        slots: dict[str, str] = {}
        for key, value in inputs.items():
            number, pattern = _SLOT_KEY.fullmatch(key), read_bits(value)
            if number and pattern:
                slots[number.group(1)] = pattern
        at_position: dict[int, str] = {}
        for position, pattern in remembered(memories):
            if position is not None:
                at_position.setdefault(position, pattern)  # the best-ranked memory of a position wins
        placed = [
            nearest(slots, [at_position[i]]) if i in at_position else None for i in range(1, len(slots) + 1)
        ]
        if all(slot is None for slot in placed):
            return ABSTAIN
        return ", ".join(slot or "?" for slot in placed)

    def score(self, fmt: AnswerFormat, gold: Mapping[str, Any], answer: str) -> dict[str, float]:
        if fmt != "sequence":
            raise ValueError(f"VSR is scored as a sequence, not {fmt}")
        expected: list[int] = list(gold["steps"])
        parsed = parse_slots(answer, len(expected))
        steps = (
            [0.0] * len(expected)
            if parsed is None
            else [float(p == g) for p, g in zip(parsed, expected, strict=True)]
        )
        return {
            **{f"step_{i}": value for i, value in enumerate(steps, 1)},
            "correct": sum(steps) / len(steps),
            "invalid": float(parsed is None),
        }


class VisualSerialRecognition(Variant):
    """VSRec: for each serial position in order, which of two patterns was the one shown there?"""

    name = "vsrec"
    folder = "Visual_Serial_Recognition"
    factors = ("list_length", "distractor_diff")
    chance = 0.5
    #: the analysis notebook's L = 5 curves (correct of 20 trials per position); research §3.4 gives
    #: only their ranges (.68-.71 / .70-.77 / .75-.80).
    references: ClassVar[tuple[Reference, ...]] = tuple(
        Reference(
            "serial_position",
            f"Human, diff {diff}",
            tuple(enumerate(curve, 1)),
            {"list_length": "5", "distractor_diff": str(diff)},
        )
        for diff, curve in (
            (2, (0.6825, 0.705, 0.675, 0.6825, 0.685)),
            (4, (0.7425, 0.74, 0.77, 0.755, 0.70)),
            (6, (0.7775, 0.80, 0.79, 0.78, 0.75)),
        )
    )

    DISTRACTOR_DIFFS: ClassVar[tuple[int, ...]] = (2, 4, 6, 8, 10)

    def cells(self) -> list[dict[str, Any]]:
        return [
            {"list_length": length, "distractor_diff": diff}
            for length in LIST_LENGTHS
            for diff in self.DISTRACTOR_DIFFS
        ]

    def generate(self, cell: Mapping[str, Any], positive: bool, rng: random.Random) -> dict[str, Any]:
        """The original is on side A in half the questions, shuffled over the positions; with an odd
        list length ``positive`` gives A the extra one, so a cell half positive is exactly balanced."""
        length, diff = cell["list_length"], cell["distractor_diff"]
        items = study_list(length, rng)
        on_a = length // 2 + (length % 2 if positive else 0)
        sides = [0] * on_a + [1] * (length - on_a)
        rng.shuffle(sides)
        return {
            "grid_size": GRID,
            "list_length": length,
            "max_list_length": SLOTS,
            "probe_variant": "Recognition",
            "memory_items": items,
            "distractor_diff": diff,
            "distractor_items": {
                key: distractor(item, diff, items.values(), rng) for key, item in items.items()
            },
            "recall_gt": None,
            "recognition_gt": sides,
        }

    def check(self, trial: Any, at: Where) -> dict[str, Any]:
        checked, length = _serial_fields(trial, at, "Recognition")
        items = require_items(checked, "memory_items", length, at, distinct=True)
        diff = require_diff(checked, at)
        lures = require_items(checked, "distractor_items", length, at, distinct=False)
        for key, lure in lures.items():
            require_lure(lure, items[key], diff, at.key("distractor_items").key(key))
        sides = require(checked, "recognition_gt", list, at)
        if len(sides) != length:
            raise at.key("recognition_gt").error(
                f"must give one side per pattern ({length}), got {len(sides)}"
            )
        for i, side in enumerate(sides):
            if check_type(side, int, at.key("recognition_gt").item(i)) not in (0, 1):
                raise at.key("recognition_gt").item(i).error(f"must be 0 or 1, got {side}")
        return checked

    def encode(self, trial: Mapping[str, Any]) -> Encoded:
        length, diff = trial["list_length"], trial["distractor_diff"]
        items, lures = trial["memory_items"], trial["distractor_items"]
        questions = []
        for i, side in enumerate(trial["recognition_gt"]):
            original, lure = bits(items[str(i)]), bits(lures[str(i)])
            questions.append(
                Question(
                    key=f"position_{i + 1}",
                    text=(
                        f"One of these two patterns, A or B, is pattern {i + 1} as it was shown; the other "
                        "differs from it in a few cells. Which one was shown? Answer A or B."
                    ),
                    format="binary",
                    gold={"answer": "A" if side == 0 else "B"},
                    labels={
                        "list_length": str(length),
                        "distractor_diff": str(diff),
                        "serial_position": str(i + 1),
                    },
                    inputs={"A": original, "B": lure} if side == 0 else {"A": lure, "B": original},
                )
            )
        frames = [pattern_frame(i + 1, items[str(i)]) for i in range(length)]
        return Encoded(frames=frames, questions=questions)

    def solve(self, question: str, inputs: Mapping[str, str], memories: Sequence[Memory]) -> str:
        """The option nearest to a remembered pattern (the original is itself remembered, at distance
        0); "Unknown." with no patterns or on a tie."""
        return solve_choice(inputs, memories)

    def score(self, fmt: AnswerFormat, gold: Mapping[str, Any], answer: str) -> dict[str, float]:
        return choice_verdict(fmt, gold, answer)


VARIANTS: tuple[Variant, ...] = (VisualSerialRecall(), VisualSerialRecognition())
