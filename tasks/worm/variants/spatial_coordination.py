"""Spatial Coordination (SC): is the pattern of all the cells shown, one per frame, mirror-symmetric?

Each of the L frames shows one cell of a 10x10 grid (cell ids: row letter A-J from the top, column 1-10
from the left, ``grid.py``); the question asks whether all of them together are symmetric about the
vertical midline (column 1 mirrors column 10, column 5 mirrors column 6). A symmetric trial mirrors L/2
left-half cells; an asymmetric one moves ``symmetry_offset``/2 of the mirror cells elsewhere in the right
half, so ``symmetry_offset`` cells lack their partner.

Grid: the official generator balances list length only and draws the offset of each asymmetric trial
from {2, 4, 6, 8}; here list length x offset are the cells, which keeps that distribution and balances
the offsets exactly. A symmetric trial has offset 0 (as in the official data), so its probe carries the
label symmetry_offset "0" whatever cell produced it. Cells are drawn distinct (the official generator
may repeat a left cell, which shrinks the real offset).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from membench.core.jsonl_input import Where, check, require
from membench_tasks.worm.variant import ABSTAIN, AnswerFormat, Encoded, Memory, Question, Variant
from membench_tasks.worm.variants.grid import (
    CELL,
    PATTERN_GRID,
    cell_id,
    cell_list,
    cells_in,
    frame_statements,
    int_field,
    is_mirror_symmetric,
    mirror_pattern,
    one_of,
    score_yes_no,
)

LIST_LENGTHS = (10, 12, 14, 16, 18)
OFFSETS = (2, 4, 6, 8)
QUESTION = (
    "Taken together, do the cells shown in this trial form a pattern that is mirror-symmetric about the "
    "vertical midline of the 10x10 grid (column 1 mirrors column 10, column 5 mirrors column 6)? "
    "Answer yes or no."
)
_SHOWN = rf"cell ({CELL}) of the 10x10 grid lights up\."


class SpatialCoordination(Variant):
    """SC: mirror symmetry of a pattern shown one cell per frame."""

    name = "sc"
    folder = "Spatial_Coordination"
    factors = ("list_length", "symmetry_offset")
    chance = 0.5

    def cells(self) -> list[dict[str, Any]]:
        return [{"list_length": n, "symmetry_offset": o} for n in LIST_LENGTHS for o in OFFSETS]

    def generate(self, cell: Mapping[str, Any], positive: bool, rng: random.Random) -> dict[str, Any]:
        offset = 0 if positive else cell["symmetry_offset"]
        return {
            "grid_size": PATTERN_GRID,
            "list_length": cell["list_length"],
            "symmetry_offset": offset,
            "gt_item": mirror_pattern(rng, cell["list_length"], offset),
            "gt": int(positive),
        }

    def check(self, trial: Any, at: Where) -> dict[str, Any]:
        checked: dict[str, Any] = check(trial, dict, at)
        int_field(trial, "grid_size", at, PATTERN_GRID, PATTERN_GRID)
        shown = cell_list(
            require(trial, "gt_item", list, at), at.key("gt_item"), PATTERN_GRID, distinct=False
        )
        if require(trial, "list_length", int, at) != len(shown):
            raise at.key("list_length").error(f"must be the number of gt_item cells, {len(shown)}")
        int_field(trial, "symmetry_offset", at, 0, len(shown))
        gt = one_of(trial, "gt", at, (0, 1))
        if gt != is_mirror_symmetric(shown):
            state = "symmetric" if gt == 0 else "not symmetric"
            raise at.key("gt").error(f"is {gt} but the gt_item cells are {state}")
        return checked

    def encode(self, trial: Mapping[str, Any]) -> Encoded:
        frames = [
            f"Frame {n}: cell {cell_id(cell, PATTERN_GRID)} of the 10x10 grid lights up."
            for n, cell in enumerate(trial["gt_item"], start=1)
        ]
        question = Question(
            key="symmetric",
            text=QUESTION,
            format="binary",
            gold={"answer": "yes" if trial["gt"] == 1 else "no"},
            labels={
                "list_length": str(trial["list_length"]),
                "symmetry_offset": str(trial["symmetry_offset"]),
            },
        )
        return Encoded(frames=frames, questions=[question])

    def solve(self, question: str, inputs: Mapping[str, str], memories: Sequence[Memory]) -> str:
        """The symmetry of the cells the memories show; "Unknown." (scored invalid) when they show none."""
        named = " ".join(match.group(2) for match in frame_statements(memories, _SHOWN).values())
        shown = cells_in(named, PATTERN_GRID)
        if not shown:
            return ABSTAIN
        return "yes" if is_mirror_symmetric(shown) else "no"

    def score(self, fmt: AnswerFormat, gold: Mapping[str, Any], answer: str) -> dict[str, float]:
        return score_yes_no(gold, answer)


VARIANT = SpatialCoordination()
