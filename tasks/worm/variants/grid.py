"""What the spatial WorM variants share: cell ids, the eight directions, mirror-symmetric patterns, frame
statements, yes/no answers, and the range checks of their official fields.

Cell ids: a cell of an n x n grid (n <= 10) is its row letter (A = top row) and its column number (1 =
left column). The official generators number cells row-major (row = index // n, column = index % n), so
on the 10x10 grid index 0 is A1, index 9 is A10 and index 99 is J10; on a 3x3 grid index 4 is B2.

Frame statements: every frame's text starts "Frame <n>: " (n counted from 1 within the trial), so a
solver finds each fact with its frame number in the memory texts themselves, whatever the retriever's
rank order and whether or not the system kept each memory's place in the write stream.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from membench.core.jsonl_input import Where, check, list_of, require
from membench_tasks.worm.variant import Memory

ROWS = "ABCDEFGHIJ"
#: a cell id of the 10x10 grid as a regex fragment (smaller grids validate the range after matching).
CELL = r"[A-J](?:10|[1-9])"
#: a cell id of a 3x3 grid (SMU's boxes, CS's ball) as a regex fragment.
CELL3 = r"[A-C][1-3]"
#: the side of the grid of the spatial patterns (SC, and CS's spatial distractors).
PATTERN_GRID = 10

#: the eight one-step moves as (row step, column step), clockwise from up; rows grow downwards.
DIRECTIONS: dict[str, tuple[int, int]] = {
    "up": (-1, 0),
    "up-right": (-1, 1),
    "right": (0, 1),
    "down-right": (1, 1),
    "down": (1, 0),
    "down-left": (1, -1),
    "left": (0, -1),
    "up-left": (-1, -1),
}


def cell_id(index: int, size: int) -> str:
    """The id of row-major cell ``index`` of a ``size`` x ``size`` grid (``cell_id(23, 10) == "C4"``)."""
    row, column = divmod(index, size)
    return f"{ROWS[row]}{column + 1}"


def cell_index(name: str, size: int) -> int | None:
    """The row-major index of cell id ``name`` (any case) on a ``size`` x ``size`` grid, None when it is
    not a cell of that grid."""
    match = re.fullmatch(r"([A-J])(10|[1-9])", name.strip().upper())
    if match is None:
        return None
    row, column = ROWS.index(match.group(1)), int(match.group(2)) - 1
    return row * size + column if row < size and column < size else None


def cells_in(text: str, size: int) -> list[int]:
    """The cells of a ``size`` x ``size`` grid named in ``text`` (any case), in order of first mention."""
    found: list[int] = []
    for match in re.finditer(rf"(?<![A-Za-z0-9]){CELL}(?![0-9])", text, flags=re.IGNORECASE):
        index = cell_index(match.group(0), size)
        if index is not None and index not in found:
            found.append(index)
    return found


def direction_between(start: int, end: int, size: int) -> str:
    """The name of the direction from cell ``start`` to cell ``end`` along a straight line (row, column
    or diagonal) of a ``size`` x ``size`` grid."""
    (row_a, col_a), (row_b, col_b) = divmod(start, size), divmod(end, size)
    step = ((row_b > row_a) - (row_b < row_a), (col_b > col_a) - (col_b < col_a))
    return next(name for name, move in DIRECTIONS.items() if move == step)


def mirror(index: int) -> int:
    """The cell mirroring ``index`` about the vertical midline of the 10x10 grid (A1 <-> A10)."""
    row, column = divmod(index, PATTERN_GRID)
    return row * PATTERN_GRID + PATTERN_GRID - 1 - column


def is_mirror_symmetric(cells: Iterable[int]) -> bool:
    """Whether the set of ``cells`` equals its mirror image about the vertical midline."""
    shown = set(cells)
    return all(mirror(cell) in shown for cell in shown)


def mirror_pattern(rng: random.Random, count: int, offset: int) -> list[int]:
    """``count`` distinct cells of the 10x10 grid in random order, symmetric when ``offset`` is 0.

    Half the cells are drawn in the left half and mirrored. With an ``offset``, ``offset // 2`` of the
    mirror cells move to other right-half cells, so exactly ``offset`` cells lack their mirror partner
    (the official generators draw the left cells with replacement, which can make the offset smaller;
    distinct cells keep it exact).
    """
    half = PATTERN_GRID // 2
    left = rng.sample(
        [row * PATTERN_GRID + col for row in range(PATTERN_GRID) for col in range(half)], count // 2
    )
    right = [mirror(cell) for cell in left]
    if offset:
        free = [cell for cell in range(PATTERN_GRID**2) if cell % PATTERN_GRID >= half and cell not in right]
        right = rng.sample(right, len(right) - offset // 2) + rng.sample(free, offset // 2)
    cells = left + right
    rng.shuffle(cells)
    return cells


def frame_statements(memories: Sequence[Memory], body: str) -> dict[int, re.Match[str]]:
    """Every statement "Frame <n>: <body>" in the memories' texts, by frame number.

    A frame held by several memories (a system that stored it twice, or kept it inside a summary) counts
    once; the regex ``body`` names its parts with groups.
    """
    pattern = re.compile(rf"Frame (\d+): {body}")
    found: dict[int, re.Match[str]] = {}
    for memory in memories:
        for match in pattern.finditer(memory.text):
            found.setdefault(int(match.group(1)), match)
    return dict(sorted(found.items()))


def parse_yes_no(answer: str) -> str | None:
    """The answer's "yes" or "no" when exactly one of the two words appears in it (as a whole word, any
    case), else None."""
    words = set(re.findall(r"\b(yes|no)\b", answer.lower()))
    return words.pop() if len(words) == 1 else None


def score_yes_no(gold: Mapping[str, object], answer: str) -> dict[str, float]:
    """The binary verdict shared by the yes/no variants: ``correct`` against ``gold["answer"]``, and
    ``invalid`` when the answer holds neither or both words."""
    said = parse_yes_no(answer)
    if said is None:
        return {"correct": 0.0, "invalid": 1.0}
    return {"correct": float(said == gold["answer"]), "invalid": 0.0}


def int_in(value: Any, at: Where, low: int, high: int) -> int:
    """``value`` (found at ``at``): an integer from ``low`` to ``high``."""
    number = check(value, int, at)
    if not low <= number <= high:
        raise at.error(f"must be from {low} to {high}, got {number}")
    return number


def int_field(obj: Mapping[str, Any], key: str, at: Where, low: int, high: int) -> int:
    """Field ``key`` of ``obj``: an integer from ``low`` to ``high``."""
    return int_in(require(obj, key, int, at), at.key(key), low, high)


def member(value: Any, at: Where, allowed: Sequence[Any]) -> Any:
    """``value`` (found at ``at``): one of the ``allowed`` values (a JSON true is not the integer 1)."""
    if isinstance(value, bool) or value not in allowed:
        raise at.error(f"must be one of {', '.join(map(str, allowed))}, got {value!r}")
    return value


def one_of(obj: Mapping[str, Any], key: str, at: Where, allowed: Sequence[Any]) -> Any:
    """Field ``key`` of ``obj``: one of the ``allowed`` values."""
    if key not in obj:
        raise at.key(key).error("is missing")
    return member(obj[key], at.key(key), allowed)


def cell_list(value: Any, at: Where, size: int, *, distinct: bool) -> list[int]:
    """``value`` (found at ``at``) as a non-empty list of row-major cells of a ``size`` x ``size`` grid,
    each cell at most once when ``distinct``."""
    cells = list_of(check(value, list, at), int, at)
    if not cells:
        raise at.error("must list at least one cell")
    for i, cell in enumerate(cells):
        if not 0 <= cell < size * size:
            raise at.item(i).error(f"must be a cell index from 0 to {size * size - 1}, got {cell}")
    if distinct and len(set(cells)) != len(cells):
        raise at.error("lists a cell twice")
    return cells
