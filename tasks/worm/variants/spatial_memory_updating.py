"""Spatial Memory Updating (SMU): where is each box's marker after eight one-step moves?

S boxes each hold a 3x3 grid with one marker. Frame 1 gives every marker's start; frames 2 to 9 each
move one marker one step in one of 8 directions (round-robin over the boxes: update k moves box k mod
S, and no move leaves the grid); the question asks for every box's final cell. Cell ids: row letter
A-C from the top, column 1-3 from the left (``grid.py``); boxes are numbered from 1 (the official data
counts from 0). The official direction names say where an arrow runs from and to: "up_down" moves the
marker down, "downleft_upright" up-right.

The offline solver replays each box's moves from its start in write order, which it reads from the
frame number every frame's text carries: it is exact with the memories in any rank order and with
``Memory.order`` None on all of them (a frame stored twice counts once). The order is not even needed:
no move in the write order leaves the grid, so none is clipped and the sum of the moves commutes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from membench.core.jsonl_input import Where, check, list_of, require
from membench_tasks.worm.variant import ABSTAIN, AnswerFormat, Encoded, Memory, Question, Reference, Variant
from membench_tasks.worm.variants.grid import (
    CELL3,
    DIRECTIONS,
    ROWS,
    cell_id,
    frame_statements,
    int_field,
    int_in,
    member,
)

GRID = 3
SET_SIZES = (1, 2, 3, 4, 5, 6, 7, 8)
NUM_UPDATES = 8
#: the official direction names -> the move each makes (grid.DIRECTIONS).
MOVES = {
    "up_down": "down",
    "down_up": "up",
    "left_right": "right",
    "right_left": "left",
    "upleft_downright": "down-right",
    "downright_upleft": "up-left",
    "upright_downleft": "down-left",
    "downleft_upright": "up-right",
}
_GRIDS = "3x3 grids (rows A-C from the top, columns 1-3 from the left)"
_START = rf"markers start in {re.escape(_GRIDS)}: ((?:box \d+ at {CELL3}(?:, )?)+)\."
_MOVE = rf"the marker in box (\d+) moves one step ({'|'.join(DIRECTIONS)})\."

Position = tuple[int, int]


class SpatialMemoryUpdating(Variant):
    """SMU: tracking S markers through eight moves."""

    name = "smu"
    folder = "Spatial_Memory_Updating"
    factors = ("set_size",)
    chance = 1 / (GRID * GRID)
    references = (
        Reference(
            axis="set_size",
            label="human (WorM notebook)",
            points=((1, 1.0), (2, 0.94), (3, 0.825), (4, 0.68)),
        ),
    )

    def cells(self) -> list[dict[str, Any]]:
        return [{"set_size": size} for size in SET_SIZES]

    def generate(self, cell: Mapping[str, Any], positive: bool, rng: random.Random) -> dict[str, Any]:
        size = cell["set_size"]
        state = [divmod(rng.randrange(GRID * GRID), GRID) for _ in range(size)]
        start = {str(box): _cell(position) for box, position in enumerate(state)}
        updates: list[list[Any]] = []
        for k in range(NUM_UPDATES):
            box = k % size
            name = rng.choice([name for name in MOVES if _on_grid(_after(state[box], MOVES[name]))])
            state[box] = _after(state[box], MOVES[name])
            updates.append([box, name])
        return {
            "set_size": size,
            "grid_size": GRID,
            "num_updates": NUM_UPDATES,
            "inital_marker_state": start,
            "updates": updates,
            "final_marker_state": {str(box): _cell(position) for box, position in enumerate(state)},
        }

    def check(self, trial: Any, at: Where) -> dict[str, Any]:
        checked: dict[str, Any] = check(trial, dict, at)
        int_field(trial, "grid_size", at, GRID, GRID)
        size = int_field(trial, "set_size", at, 1, max(SET_SIZES))
        start_at = at.key("inital_marker_state")
        start = require(trial, "inital_marker_state", dict, at)
        if sorted(start) != sorted(str(box) for box in range(size)):
            raise start_at.error(f"must have the box keys 0 to {size - 1}, got {', '.join(start) or 'none'}")
        state = [
            divmod(int_field(start, str(box), start_at, 0, GRID * GRID - 1), GRID) for box in range(size)
        ]
        updates_at = at.key("updates")
        for i, update in enumerate(list_of(require(trial, "updates", list, at), list, updates_at)):
            update_at = updates_at.item(i)
            if len(update) != 2:
                raise update_at.error(f"must be [box, direction], got {update}")
            box = int_in(update[0], update_at.item(0), 0, size - 1)
            moved = _after(state[box], MOVES[member(update[1], update_at.item(1), tuple(MOVES))])
            if not _on_grid(moved):
                raise update_at.error(f"moves the marker of box {box} off the grid")
            state[box] = moved
        return checked

    def encode(self, trial: Mapping[str, Any]) -> Encoded:
        start = trial["inital_marker_state"]
        size = len(start)
        state = [divmod(start[str(box)], GRID) for box in range(size)]
        starts = ", ".join(f"box {box + 1} at {cell_id(_cell(p), GRID)}" for box, p in enumerate(state))
        frames = [f"Frame 1: markers start in {_GRIDS}: {starts}."]
        for n, (box, name) in enumerate(trial["updates"], start=2):
            frames.append(f"Frame {n}: the marker in box {box + 1} moves one step {MOVES[name]}.")
            state[box] = _after(state[box], MOVES[name])
        boxes = "box 1" if size == 1 else f"boxes 1 to {size}"
        question = Question(
            key="final_cells",
            text=(
                "After all the moves, which cell is the marker of each box in? Answer with one cell per "
                f"box, as 'box 1: B2, box 2: A3', for {boxes}."
            ),
            format="boxes",
            gold={"boxes": [cell_id(_cell(position), GRID) for position in state]},
            labels={"set_size": str(size)},
        )
        return Encoded(frames=frames, questions=[question])

    def solve(self, question: str, inputs: Mapping[str, str], memories: Sequence[Memory]) -> str:
        """Each box's start plus its moves; "Unknown." (scored invalid) without the start frame.

        With some moves missing from the memories the sum can leave the grid: the answer is then the
        nearest grid cell, the best guess left.
        """
        starts = frame_statements(memories, _START)
        if not starts:
            return ABSTAIN
        found = re.findall(rf"box (\d+) at ({CELL3})", next(iter(starts.values())).group(2))
        position = {int(box): (ROWS.index(cell[0]), int(cell[1]) - 1) for box, cell in found}
        for match in frame_statements(memories, _MOVE).values():
            box = int(match.group(2))
            if box in position:
                position[box] = _after(position[box], match.group(3))
        clipped = {box: (_clip(row), _clip(col)) for box, (row, col) in position.items()}
        return ", ".join(f"box {box}: {cell_id(_cell(p), GRID)}" for box, p in sorted(clipped.items()))

    def score(self, fmt: AnswerFormat, gold: Mapping[str, Any], answer: str) -> dict[str, float]:
        """Per box: the cell named after "box <n>" (e.g. "Box 2 is in cell A3"), or, when the answer names
        no box, the n-th of exactly as many cells as boxes. A box named twice with two cells is wrong."""
        targets: list[str] = list(gold["boxes"])
        said = _said(answer, len(targets))
        scores = {f"box_{i}": float(said.get(i) == target) for i, target in enumerate(targets, start=1)}
        return {**scores, "correct": sum(scores.values()) / len(targets), "invalid": float(not said)}


def _after(position: Position, move: str) -> Position:
    """The (row, column) one ``move`` (a grid.DIRECTIONS name) from ``position``, on the grid or not."""
    (row, col), (dr, dc) = position, DIRECTIONS[move]
    return row + dr, col + dc


def _on_grid(position: Position) -> bool:
    return all(0 <= coordinate < GRID for coordinate in position)


def _cell(position: Position) -> int:
    return position[0] * GRID + position[1]


def _clip(coordinate: int) -> int:
    return min(max(coordinate, 0), GRID - 1)


def _said(answer: str, boxes: int) -> dict[int, str | None]:
    """Box number -> the cell the answer gives it (None when it gives two)."""
    pairs = re.findall(rf"\bbox\s*(\d+)\W*(?:[a-z]+\s+){{0,3}}?({CELL3})\b", answer, flags=re.IGNORECASE)
    said: dict[int, str | None] = {}
    for box, cell in pairs:
        number, cell = int(box), cell.upper()
        said[number] = cell if said.get(number, cell) == cell else None
    if not said:
        cells = [
            c.upper() for c in re.findall(rf"(?<![A-Za-z0-9])({CELL3})(?![0-9])", answer, flags=re.IGNORECASE)
        ]
        if len(cells) == boxes:
            said = dict(enumerate(cells, start=1))
    return said


VARIANT = SpatialMemoryUpdating()
