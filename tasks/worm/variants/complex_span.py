"""Complex Span (CS): recall two memory items, each followed by d distractor frames.

A trial is memory item 1, d distractors, memory item 2, d distractors, then one 8-way recall question
per item. The domain pair (the official ``variation``) names the memory domain, then the distractor
domain:

- spatial memory: a ball moves through three cells of a 3x3 grid along a row, a column or a diagonal
  (one of the 16 official paths, the official cell digits 0-8 written as cell ids A1-C3, ``grid.py``);
  the recall asks its direction among the 8 directions. The official probe draws the 8 arrows with the
  true one at slot ``recall_gt_k`` and the others in an order it does not record, so the text lists the
  eight directions in one fixed order (clockwise from up) and the answer is the true direction's letter;
- visual memory: a 4x4 pattern of 8 red cells, written as 16 digits row by row (1 = red); the recall
  offers it at slot ``recall_gt_k`` among the 7 lures of ``mem_distractor_k``, in the official slot
  order. Official lures are the pattern with 3 red cells moved, which makes it findable without memory
  (``_options``); built trials draw all 8 options around a hidden base pattern instead;
- spatial distractor: a 10x10 grid with 20 red cells, symmetric about the vertical midline or not
  (offset 4), as its cell list;
- visual distractor: a colour patch, a shade of red or of blue.

The images ask a symmetry or colour judgement of each distractor; text asks none, so a distractor is
interference only. Storage shows each item once (the official 3 frames: the ball's 3 positions, or the
pattern 3 times, become one frame). Built trials name their colours (official trials hold hex codes,
written as they are).

No human references: the notebook's human curves are drawn against cognitive load (x from 0.27 to 0.53,
different per domain pair), not against the number of distractors.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from membench.core.jsonl_input import Where, check, require
from membench_tasks.worm.variant import ABSTAIN, AnswerFormat, Encoded, Memory, Question, Variant
from membench_tasks.worm.variants.grid import (
    CELL3,
    DIRECTIONS,
    PATTERN_GRID,
    ROWS,
    cell_id,
    cell_list,
    direction_between,
    frame_statements,
    int_field,
    mirror_pattern,
    one_of,
)

DOMAIN_PAIRS = ("spatial-spatial", "spatial-visual", "visual-spatial", "visual-visual")
NUM_DISTRACTORS = (0, 1, 3, 5)
BALL_GRID = 3
#: the 16 official ball paths: each row, column and diagonal of the 3x3 grid, both ways.
PATHS = tuple(
    p for line in ("012", "345", "678", "036", "147", "258", "048", "246") for p in (line, line[::-1])
)
PATTERN_SIDE = 4
PATTERN_RED = 8
LURE_MOVED = 3
DISTRACTOR_CELLS = 20
DISTRACTOR_OFFSET = 4
REDS = ("crimson", "scarlet", "maroon", "cherry red", "ruby", "vermilion", "burgundy")
BLUES = ("navy", "cobalt", "azure", "sapphire", "indigo", "cerulean", "royal blue")
LETTERS = "ABCDEFGH"
_BALL = "a ball moves through cells "
_BALL_GRID = " of a 3x3 grid (rows A-C from the top, columns 1-3 from the left)."
_PATTERN = "a 4x4 pattern, rows from the top, 1 = red cell, 0 = white cell: "
#: a memory item's frame after "memory item <k>: ": the ball's first and last cells, or the pattern.
_ITEM = rf"(?:{re.escape(_BALL)}({CELL3}), {CELL3}, ({CELL3})|{re.escape(_PATTERN)}([01]{{16}}))"


class ComplexSpan(Variant):
    """CS: storage under spatial or visual interference."""

    name = "cs"
    folder = "Complex_Span"
    factors = ("domain_pair", "num_distractor")
    chance = 1 / len(LETTERS)

    def cells(self) -> list[dict[str, Any]]:
        return [{"domain_pair": pair, "num_distractor": d} for pair in DOMAIN_PAIRS for d in NUM_DISTRACTORS]

    def generate(self, cell: Mapping[str, Any], positive: bool, rng: random.Random) -> dict[str, Any]:
        pair, count = cell["domain_pair"], cell["num_distractor"]
        memory, distraction = pair.split("-")
        trial: dict[str, Any] = {"variation": pair, "num_distractor": count, "distractor_grid_size": None}
        for k in (1, 2):
            if memory == "spatial":
                trial[f"memory_{k}_gt"] = rng.choice(PATHS)
                trial[f"mem_distractor_{k}"] = None
                trial[f"recall_gt_{k}"] = rng.randrange(len(LETTERS))
            else:
                options, slot = _options(rng), rng.randrange(len(LETTERS))
                trial[f"memory_{k}_gt"] = options[slot]
                trial[f"mem_distractor_{k}"] = options[:slot] + options[slot + 1 :]
                trial[f"recall_gt_{k}"] = slot
        judged = [rng.choice((0, 1)) for _ in range(2 * count)]
        if distraction == "spatial":
            items: list[Any] = [
                mirror_pattern(rng, DISTRACTOR_CELLS, 0 if j else DISTRACTOR_OFFSET) for j in judged
            ]
            trial["distractor_grid_size"] = PATTERN_GRID if count else None
        else:
            items = [rng.choice(BLUES if j else REDS) for j in judged]
        trial["distractor_gts"], trial["distractor_gt_items"] = judged, items
        return trial

    def check(self, trial: Any, at: Where) -> dict[str, Any]:
        checked: dict[str, Any] = check(trial, dict, at)
        memory, distraction = one_of(trial, "variation", at, DOMAIN_PAIRS).split("-")
        count = int_field(trial, "num_distractor", at, 0, max(NUM_DISTRACTORS))
        for k in (1, 2):
            key, lures_key = f"memory_{k}_gt", f"mem_distractor_{k}"
            if memory == "spatial":
                one_of(trial, key, at, PATHS)
                continue
            red = set(cell_list(require(trial, key, list, at), at.key(key), PATTERN_SIDE, distinct=True))
            int_field(trial, f"recall_gt_{k}", at, 0, len(LETTERS) - 1)
            lures_at = at.key(lures_key)
            lures = require(trial, lures_key, list, at)
            if len(lures) != len(LETTERS) - 1:
                raise lures_at.error(f"must hold {len(LETTERS) - 1} lure patterns, got {len(lures)}")
            for i, lure in enumerate(lures):
                if set(cell_list(lure, lures_at.item(i), PATTERN_SIDE, distinct=True)) == red:
                    raise lures_at.item(i).error(f"is the pattern of {key} itself")
        items_at = at.key("distractor_gt_items")
        items = require(trial, "distractor_gt_items", list, at)
        if len(items) != 2 * count:
            raise items_at.error(f"must hold 2 x num_distractor = {2 * count} distractors, got {len(items)}")
        if distraction == "spatial" and count:
            one_of(trial, "distractor_grid_size", at, (PATTERN_GRID,))
        for i, item in enumerate(items):
            if distraction == "spatial":
                cell_list(item, items_at.item(i), PATTERN_GRID, distinct=False)
            elif not check(item, str, items_at.item(i)).strip():
                raise items_at.item(i).error("must name a colour")
        return checked

    def encode(self, trial: Mapping[str, Any]) -> Encoded:
        memory, distraction = trial["variation"].split("-")
        count = trial["num_distractor"]
        items = trial["distractor_gt_items"]
        frames: list[str] = []
        questions: list[Question] = []
        for k in (1, 2):
            item = trial[f"memory_{k}_gt"]
            if memory == "spatial":
                cells = ", ".join(cell_id(int(cell), BALL_GRID) for cell in item)
                frames.append(f"memory item {k}: {_BALL}{cells}{_BALL_GRID}")
                options = list(DIRECTIONS)
                answer = options.index(direction_between(int(item[0]), int(item[-1]), BALL_GRID))
                text = (
                    f"Memory item {k} was a ball moving through three cells of a 3x3 grid. "
                    "In which direction did it move?"
                )
            else:
                frames.append(f"memory item {k}: {_PATTERN}{_bits(item)}.")
                lures = iter(trial[f"mem_distractor_{k}"])
                answer = trial[f"recall_gt_{k}"]
                options = [
                    _bits(item) if slot == answer else _bits(next(lures)) for slot in range(len(LETTERS))
                ]
                text = f"Memory item {k} was a 4x4 pattern. Which option is it?"
            for distractor in items[(k - 1) * count : k * count]:
                frames.append("distractor: " + _distractor(distraction, distractor))
            listed = "; ".join(f"{letter}) {option}" for letter, option in zip(LETTERS, options, strict=True))
            questions.append(
                Question(
                    key=f"item_{k}",
                    text=f"{text} Options: {listed}. Answer with the option letter.",
                    format="choice",
                    gold={"answer": LETTERS[answer], "options": len(LETTERS)},
                    labels={
                        "domain_pair": trial["variation"],
                        "num_distractor": str(count),
                        "serial_position": str(k),
                    },
                    inputs=dict(zip(LETTERS, options, strict=True)),
                )
            )
        return Encoded(
            frames=[f"Frame {n}: {frame}" for n, frame in enumerate(frames, start=1)], questions=questions
        )

    def solve(self, question: str, inputs: Mapping[str, str], memories: Sequence[Memory]) -> str:
        """The letter of the option that is the asked item as the memories hold it; "Unknown." (scored
        invalid) when they do not hold it."""
        asked = re.match(r"Memory item (\d)", question)
        if asked is None:
            return ABSTAIN
        held = list(frame_statements(memories, rf"memory item {asked.group(1)}: {_ITEM}").values())
        if not held:
            return ABSTAIN
        match = held[0]
        if match.group(4):
            wanted = match.group(4)
        else:
            start, end = (_ball_cell(match.group(g)) for g in (2, 3))
            wanted = direction_between(start, end, BALL_GRID)
        return next((letter for letter, option in inputs.items() if option == wanted), ABSTAIN)

    def score(self, fmt: AnswerFormat, gold: Mapping[str, Any], answer: str) -> dict[str, float]:
        """The answer must be one option letter: "C", "(C)", "c.", "Option C", "The answer is C", or the
        letter then ")", ":" or "." and anything (the option echoed); anything else is invalid."""
        text = answer.strip().strip(_WRAPPING)
        match = re.fullmatch(_CHOICE, text, flags=re.IGNORECASE | re.DOTALL)
        letters = LETTERS[: gold["options"]]
        if match is None or match.group(1).upper() not in letters:
            return {"correct": 0.0, "invalid": 1.0}
        return {"correct": float(match.group(1).upper() == gold["answer"]), "invalid": 0.0}


_WRAPPING = " \t\n*_\"'`()[]"
_CHOICE = r"(?:(?:the\s+)?(?:answer|option)(?:\s+is)?\s*:?\s*\(?)?([a-z])(?:\s*[).:](?:\s.*)?)?\.?"


def _bits(red: Sequence[int]) -> str:
    """A 4x4 pattern as 16 digits row by row from the top, 1 for a red cell."""
    return "".join("1" if cell in red else "0" for cell in range(PATTERN_SIDE**2))


def _ball_cell(name: str) -> int:
    return ROWS.index(name[0]) * BALL_GRID + int(name[1]) - 1


def _options(rng: random.Random) -> list[list[int]]:
    """8 distinct patterns, each a random base pattern with 3 of its red cells moved to white ones.

    The official lures are each the memory pattern with 3 red cells moved, so the memory pattern is the
    centre of the options and picking the option closest to all the others finds it without any memory
    (84% of the time over 2,000 trials, against a chance of 1/8). Drawn around a hidden base, the 8
    options are exchangeable and only memory tells them apart.
    """
    base = rng.sample(range(PATTERN_SIDE**2), PATTERN_RED)
    white = [cell for cell in range(PATTERN_SIDE**2) if cell not in base]
    options: list[list[int]] = []
    while len(options) < len(LETTERS):
        option = rng.sample(base, PATTERN_RED - LURE_MOVED) + rng.sample(white, LURE_MOVED)
        if all(set(option) != set(other) for other in options):
            options.append(option)
    return options


def _distractor(domain: str, item: Any) -> str:
    if domain == "spatial":
        cells = ", ".join(cell_id(cell, PATTERN_GRID) for cell in sorted(set(item)))
        return f"a 10x10 grid (rows A-J from the top, columns 1-10 from the left) with red cells {cells}."
    return f"a colour patch, {item}."


VARIANT = ComplexSpan()
