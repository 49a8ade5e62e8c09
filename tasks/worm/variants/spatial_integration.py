"""Spatial Integration (SI): do the pieces shown one per frame join into the probe figure?

The figure is a 12-segment line through 13 distinct points of a 4x4 grid's corners (a 5x5 lattice,
each step to one of the 8 neighbouring points). It is cut into 12/p pieces of p segments, shown in
shuffled order, one piece per frame; the probe (in the question and in ``inputs``) is either the figure
or a distractor whose last ``distractor_diff`` segments go elsewhere (through points the figure never
visits). Points are named like cells (``grid.py``): the official point [r, c] is row letter A-E from the
top and column 1-5 from the left; a line is its points joined by "-", e.g. A1-B2-B3.

Grid: the official generator balances part size only and draws the difference of each distractor from
{1, 2, 3, 4}; here part size x difference are the cells, which keeps that distribution and balances the
differences exactly. A same-figure trial has no difference (null in the official data) and its probe
carries the label distractor_diff "0" whatever cell produced it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

from membench.core.jsonl_input import Where, check, list_of, require
from membench_tasks.worm.variant import ABSTAIN, AnswerFormat, Encoded, Memory, Question, Variant
from membench_tasks.worm.variants.grid import (
    cell_id,
    cell_index,
    frame_statements,
    int_field,
    one_of,
    score_yes_no,
)

GRID = 4
SIDE = GRID + 1
PATTERN_SIZE = 12
PART_SIZES = (1, 2, 3, 4, 6, 12)
DIFFS = (1, 2, 3, 4)
_POINT = r"[A-E][1-5]"
_LINE = rf"{_POINT}(?:-{_POINT})+"
_PIECE_TEXT = "a piece of a line figure on a 5x5 grid of points (rows A-E from the top, columns 1-5): "
_PIECE = rf"{re.escape(_PIECE_TEXT)}({_LINE})\."

Point = tuple[int, int]
Segment = frozenset[Point]


class SpatialIntegration(Variant):
    """SI: integrating a line figure from its pieces."""

    name = "si"
    folder = "Spatial_Integration"
    factors = ("part_size", "distractor_diff")
    chance = 0.5

    def cells(self) -> list[dict[str, Any]]:
        return [{"part_size": p, "distractor_diff": d} for p in PART_SIZES for d in DIFFS]

    def generate(self, cell: Mapping[str, Any], positive: bool, rng: random.Random) -> dict[str, Any]:
        part, diff = cell["part_size"], cell["distractor_diff"]
        while True:  # a walk can trap itself; the official generator starts over too
            figure = _walk(rng, [(rng.randrange(SIDE), rng.randrange(SIDE))], PATTERN_SIZE, set())
            if figure is None:
                continue
            distractor = None
            if not positive:
                distractor = _walk(rng, figure[: len(figure) - diff], diff, set(figure))
                if distractor is None:
                    continue
            break
        pieces = [figure[i : i + part + 1] for i in range(0, PATTERN_SIZE, part)]
        rng.shuffle(pieces)
        return {
            "grid_size": GRID,
            "pattern_size": PATTERN_SIZE,
            "part_size": part,
            "memory_length": len(pieces),
            "distractor_diff": None if positive else diff,
            "memory_part_line_segment": [_official(piece) for piece in pieces],
            "gt": int(positive),
            "gt_line_segment": _official(figure),
            "distractor_line_segment": None if distractor is None else _official(distractor),
        }

    def check(self, trial: Any, at: Where) -> dict[str, Any]:
        checked: dict[str, Any] = check(trial, dict, at)
        int_field(trial, "grid_size", at, GRID, GRID)
        size = int_field(trial, "pattern_size", at, 1, SIDE * SIDE - 1)
        part = int_field(trial, "part_size", at, 1, size)
        if size % part:
            raise at.key("part_size").error(f"must divide pattern_size {size}, got {part}")
        figure = _points(trial, "gt_line_segment", at, size + 1)
        pieces_at = at.key("memory_part_line_segment")
        pieces = list_of(require(trial, "memory_part_line_segment", list, at), dict, pieces_at)
        if len(pieces) != size // part:
            raise pieces_at.error(
                f"must hold pattern_size / part_size = {size // part} pieces, got {len(pieces)}"
            )
        lines = [_points_of(piece, pieces_at.item(i), part + 1) for i, piece in enumerate(pieces)]
        if _joined(lines) != _segments(figure):
            raise pieces_at.error("does not join into gt_line_segment")
        if one_of(trial, "gt", at, (0, 1)) == 1:
            require(trial, "distractor_diff", type(None), at)
        else:
            int_field(trial, "distractor_diff", at, 1, size)
            if _segments(_points(trial, "distractor_line_segment", at, size + 1)) == _segments(figure):
                raise at.key("distractor_line_segment").error("is the gt figure, but gt is 0")
        return checked

    def encode(self, trial: Mapping[str, Any]) -> Encoded:
        frames = [
            f"Frame {n}: {_PIECE_TEXT}{_line(_read(piece))}."
            for n, piece in enumerate(trial["memory_part_line_segment"], start=1)
        ]
        same = trial["gt"] == 1
        probe = _line(_read(trial["gt_line_segment"] if same else trial["distractor_line_segment"]))
        question = Question(
            key="same_figure",
            text=(
                f"The pieces shown in this trial's frames join into one line figure. Is the probe figure "
                f"{probe} exactly that figure, the same segments between the same points? Answer yes or no."
            ),
            format="binary",
            gold={"answer": "yes" if same else "no"},
            labels={
                "part_size": str(trial["part_size"]),
                "distractor_diff": str(trial["distractor_diff"] or 0),
            },
            inputs={"probe": probe},
        )
        return Encoded(frames=frames, questions=[question])

    def solve(self, question: str, inputs: Mapping[str, str], memories: Sequence[Memory]) -> str:
        """Whether the pieces in the memories make exactly the probe's segments; "Unknown." (scored
        invalid) when the memories hold no piece."""
        pieces = [_parse_line(match.group(2)) for match in frame_statements(memories, _PIECE).values()]
        if not pieces:
            return ABSTAIN
        return "yes" if _joined(pieces) == _segments(_parse_line(inputs["probe"])) else "no"

    def score(self, fmt: AnswerFormat, gold: Mapping[str, Any], answer: str) -> dict[str, float]:
        return score_yes_no(gold, answer)


def _walk(rng: random.Random, start: list[Point], steps: int, avoid: set[Point]) -> list[Point] | None:
    """``start`` extended by ``steps`` points, each a random neighbour (8 directions) of the last that is
    on the lattice, not yet on the line and not in ``avoid``; None when the line traps itself."""
    line = list(start)
    for _ in range(steps):
        row, col = line[-1]
        nexts = [
            (row + dr, col + dc)
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
            if (dr or dc) and 0 <= row + dr < SIDE and 0 <= col + dc < SIDE
        ]
        free = [p for p in nexts if p not in line and p not in avoid]
        if not free:
            return None
        line.append(rng.choice(free))
    return line


def _segments(line: Sequence[Point]) -> set[Segment]:
    """The segments of a line, each as the unordered pair of its end points."""
    return {frozenset(pair) for pair in pairwise(line)}


def _joined(lines: Iterable[Sequence[Point]]) -> set[Segment]:
    """The segments of several lines together."""
    return {segment for line in lines for segment in _segments(line)}


def _official(line: Sequence[Point]) -> dict[str, list[int]]:
    """A line in the official schema: point index (a JSON key) -> [row, column]."""
    return {str(i): [row, col] for i, (row, col) in enumerate(line)}


def _read(official: Mapping[str, list[int]]) -> list[Point]:
    """The points of a checked official line, in index order."""
    return [(official[str(i)][0], official[str(i)][1]) for i in range(len(official))]


def _line(points: Sequence[Point]) -> str:
    return "-".join(cell_id(row * SIDE + col, SIDE) for row, col in points)


def _parse_line(text: str) -> list[Point]:
    """The points of a line written "A1-B2-...": unknown point names are skipped."""
    points = [cell_index(name, SIDE) for name in re.findall(_POINT, text.upper())]
    return [divmod(index, SIDE) for index in points if index is not None]


def _points(trial: Mapping[str, Any], key: str, at: Where, count: int) -> list[Point]:
    return _points_of(require(trial, key, dict, at), at.key(key), count)


def _points_of(line: Any, at: Where, count: int) -> list[Point]:
    """An official line (``at``): the keys "0" to ``count - 1``, each a lattice point [row, column]."""
    check(line, dict, at)
    if sorted(line) != sorted(str(i) for i in range(count)):
        raise at.error(f"must have the point keys 0 to {count - 1}, got {', '.join(line) or 'none'}")
    points: list[Point] = []
    for i in range(count):
        point_at = at.key(str(i))
        point = list_of(check(line[str(i)], list, point_at), int, point_at)
        if len(point) != 2 or not all(0 <= v < SIDE for v in point):
            raise point_at.error(f"must be a point [row, column] with both from 0 to {GRID}, got {point}")
        points.append((point[0], point[1]))
    return points


VARIANT = SpatialIntegration()
