"""Spatial Free Recall (SFR): which cells of a 10x10 grid turned red, in any order.

The official trial shows 30 visible (green) cells of the 100 and turns one of them red in each of L
frames; the blank probe asks for every red cell. In text, frame 1 lists the visible cells (the lures a
reader picks among) and frames 2 to L+1 each name one red cell. Cell ids: row letter A-J from the top,
column 1-10 from the left (``grid.py``).

The answer is scored as a set against the L targets: recall, precision and F1. The official trainer
scores per-cell accuracy over all 100 cells, which the true negatives inflate (answering no cell at all
scores 1 - L/100); F1 over the targets gives nothing for silence. ``pos_<i>`` says whether the red cell
of serial position i was recalled, which draws primacy and recency.

Chance: picking L of the 30 visible cells at random hits H targets (hypergeometric, E[H] = L * L/30),
and precision = recall = F1 = H/L, so the expected F1 is L/30 at list length L. It differs by cell, so
``chance`` is None (no single line to draw), and L/30 is drawn as a reference curve of kind chance.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from membench.core.jsonl_input import Where, check, require
from membench_tasks.worm.variant import ABSTAIN, AnswerFormat, Encoded, Memory, Question, Reference, Variant
from membench_tasks.worm.variants.grid import CELL, cell_id, cell_list, cells_in, frame_statements, int_field

GRID = 10
SET_SIZE = 30
LIST_LENGTHS = (1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 18)
QUESTION = "Which cells turned red in this trial? Name every one (cell ids such as C7), in any order."
_RED = rf"cell ({CELL}) turns red\."


class SpatialFreeRecall(Variant):
    """SFR: free recall of the L cells that turned red, among 30 visible ones."""

    name = "sfr"
    folder = "Spatial_Free_Recall"
    factors = ("list_length",)
    chance = None
    references = (
        Reference(
            "list_length",
            "F1 of a random pick of L of the 30 visible cells (L/30)",
            tuple((float(n), n / SET_SIZE) for n in LIST_LENGTHS),
            kind="chance",
        ),
    )

    def cells(self) -> list[dict[str, Any]]:
        return [{"list_length": length} for length in LIST_LENGTHS]

    def generate(self, cell: Mapping[str, Any], positive: bool, rng: random.Random) -> dict[str, Any]:
        visible = rng.sample(range(GRID * GRID), SET_SIZE)
        return {
            "grid_size": GRID,
            "set_size": SET_SIZE,
            "list_length": cell["list_length"],
            "visible_cells": visible,
            "recall_gt": rng.sample(visible, cell["list_length"]),
        }

    def check(self, trial: Any, at: Where) -> dict[str, Any]:
        checked: dict[str, Any] = check(trial, dict, at)
        int_field(trial, "grid_size", at, GRID, GRID)
        visible = cell_list(
            require(trial, "visible_cells", list, at), at.key("visible_cells"), GRID, distinct=True
        )
        if require(trial, "set_size", int, at) != len(visible):
            raise at.key("set_size").error(f"must be the number of visible_cells, {len(visible)}")
        targets_at = at.key("recall_gt")
        targets = cell_list(require(trial, "recall_gt", list, at), targets_at, GRID, distinct=True)
        for i, target in enumerate(targets):
            if target not in visible:
                raise targets_at.item(i).error(f"cell {target} is not one of visible_cells")
        if require(trial, "list_length", int, at) != len(targets):
            raise at.key("list_length").error(f"must be the number of recall_gt cells, {len(targets)}")
        return checked

    def encode(self, trial: Mapping[str, Any]) -> Encoded:
        visible = ", ".join(cell_id(cell, GRID) for cell in sorted(trial["visible_cells"]))
        targets = [cell_id(cell, GRID) for cell in trial["recall_gt"]]
        frames = [
            f"Frame 1: a 10x10 grid (rows A-J from the top, columns 1-10 from the left) shows "
            f"{len(trial['visible_cells'])} green cells: {visible}."
        ]
        frames += [f"Frame {n}: cell {target} turns red." for n, target in enumerate(targets, start=2)]
        question = Question(
            key="recall",
            text=QUESTION,
            format="set",
            gold={"items": targets},
            labels={"list_length": str(len(targets))},
        )
        return Encoded(frames=frames, questions=[question])

    def solve(self, question: str, inputs: Mapping[str, str], memories: Sequence[Memory]) -> str:
        """Every red cell the memories name; "Unknown." (scored invalid) when they name none."""
        red = [match.group(2) for match in frame_statements(memories, _RED).values()]
        return ", ".join(red) if red else ABSTAIN

    def score(self, fmt: AnswerFormat, gold: Mapping[str, Any], answer: str) -> dict[str, float]:
        """Set recall over the cell ids named in the answer (any case, each counted once)."""
        targets: list[str] = list(gold["items"])
        named = {cell_id(cell, GRID) for cell in cells_in(answer, GRID)}
        recalled = [target in named for target in targets]
        scores = {f"pos_{i}": float(hit) for i, hit in enumerate(recalled, start=1)}
        if not named:
            return {"recall": 0.0, "precision": 0.0, "f1": 0.0, "invalid": 1.0, **scores}
        recall, precision = sum(recalled) / len(targets), sum(recalled) / len(named)
        f1 = 2 * precision * recall / (precision + recall) if any(recalled) else 0.0
        return {"recall": recall, "precision": precision, "f1": f1, "invalid": 0.0, **scores}


VARIANT = SpatialFreeRecall()
