"""Visual Item Recognition (VIR): L 6x6 patterns, a retention interval, then which of two was studied.

A pattern is written as 36 characters of 0/1: the 6x6 grid read row by row from the top-left, so
character ``6 * row + column`` is the official cell index, ``1`` a dark cell; half the cells (18) are
dark. Frame i is "Pattern i: <bits> (...)". The probe shows the studied pattern at the probed serial
position and a distractor that differs from it in ``distractor_diff`` cells (half of them turned light,
half dark, so it stays half dark), as options A and B; which side holds the studied one is
``recognition_gt`` (0 = A). The paper's grid: L in {4, 6, 8, 10} × RI in {0, 2, 4, 5, 6} blanks, diff 4.

This module also holds the pattern rules the serial variants (``visual_serial``) share: drawing a study
list and a distractor, checking them, writing and reading the 36-bit strings, reading patterns back
from memories, and picking the option nearest to what was remembered.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from membench.core.jsonl_input import Where, require, shown
from membench.core.jsonl_input import check as check_type
from membench_tasks.worm.variant import ABSTAIN, AnswerFormat, Encoded, Memory, Question, Reference, Variant

GRID = 6
CELLS = GRID * GRID
DARK = CELLS // 2
#: what the offline solvers answer when the memories cannot decide; every scorer reads it as invalid.

_LEGEND = "(6x6 grid read row by row, 1 = dark cell)"
#: a 36-bit pattern, optionally after its "Pattern <n>" label (a label and its pattern may be parted by
#: up to 40 characters that are not 0/1, so a system's rewording such as "pattern 3 is ..." still reads).
_PATTERN = re.compile(r"(?:\bpattern\s*#?\s*(\d+)[^01]{0,40}?)?(?<![01])([01]{36})(?![01])", re.IGNORECASE)
_BITS = re.compile(r"(?<![01])[01]{36}(?![01])")
_BARE_CHOICE = re.compile(r"^\W*(?:option\s+)?\(?([ab])\)?\W*$", re.IGNORECASE)
_NAMED_CHOICE = re.compile(r"(?i:\b(?:option|choice|answer(?:\s+is)?))\s*[:\-]?\s*\(?([AB])\)?(?!\w)")


def random_pattern(rng: random.Random) -> list[int]:
    """A pattern as its dark cells: 18 of the 36, drawn as the official generator does."""
    return rng.sample(range(CELLS), DARK)


def study_list(length: int, rng: random.Random) -> dict[str, list[int]]:
    """``length`` distinct patterns keyed "0".."length-1", as ``memory_items`` reads after JSON."""
    items: list[list[int]] = []
    while len(items) < length:
        pattern = random_pattern(rng)
        if all(set(pattern) != set(seen) for seen in items):
            items.append(pattern)
    return {str(i): pattern for i, pattern in enumerate(items)}


def distractor(
    pattern: Sequence[int], diff: int, avoid: Iterable[Sequence[int]], rng: random.Random
) -> list[int]:
    """``pattern`` with ``diff // 2`` dark cells turned light and as many light cells turned dark, so it
    differs in ``diff`` cells and stays half dark; redrawn while it equals a pattern in ``avoid`` (a
    studied one), which would make the probe unanswerable."""
    light = [cell for cell in range(CELLS) if cell not in set(pattern)]
    studied = [set(other) for other in avoid]
    while True:
        lure = rng.sample(list(pattern), DARK - diff // 2) + rng.sample(light, diff // 2)
        if set(lure) not in studied:
            return lure


def bits(dark: Iterable[int]) -> str:
    """The 36-character 0/1 string of a pattern given by its dark cells."""
    on = set(dark)
    return "".join("1" if cell in on else "0" for cell in range(CELLS))


def pattern_frame(position: int, dark: Iterable[int]) -> str:
    """The frame text of the pattern at 1-based serial ``position``."""
    return f"Pattern {position}: {bits(dark)} {_LEGEND}."


def read_bits(text: str) -> str | None:
    """The one 36-bit pattern in ``text`` (an option or a probe slot), or None if it has none or several."""
    found = _BITS.findall(text)
    return found[0] if len(found) == 1 else None


def remembered(memories: Sequence[Memory]) -> list[tuple[int | None, str]]:
    """Every pattern in ``memories`` in rank order, with its 1-based serial position: the "Pattern <n>"
    label when the text kept it, else the memory's session index + 1 (the pattern frames are a trial's
    first sessions, blanks only follow them), else None."""
    found: list[tuple[int | None, str]] = []
    for memory in memories:
        for match in _PATTERN.finditer(memory.text):
            label, pattern = match.groups()
            if label is not None:
                found.append((int(label), pattern))
            else:
                found.append((None if memory.order is None else memory.order + 1, pattern))
    return found


def nearest(candidates: Mapping[str, str], patterns: Collection[str]) -> str | None:
    """The key of the candidate pattern strictly nearest (in differing cells) to any of ``patterns``;
    None on a tie or when there is nothing to compare with. Exact when the studied pattern is among
    ``patterns``: it is at distance 0 and a distractor never equals a studied pattern."""
    if not candidates or not patterns:
        return None
    distance = {key: min(_hamming(value, p) for p in patterns) for key, value in candidates.items()}
    best = min(distance.values())
    winners = [key for key, d in distance.items() if d == best]
    return winners[0] if len(winners) == 1 else None


def _hamming(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


def solve_choice(inputs: Mapping[str, str], memories: Sequence[Memory]) -> str:
    """Which of options A and B a reader with these memories recognises (VIR and VSRec)."""
    a, b = read_bits(inputs.get("A", "")), read_bits(inputs.get("B", ""))
    if a is None or b is None:
        return ABSTAIN
    return nearest({"A": a, "B": b}, {pattern for _, pattern in remembered(memories)}) or ABSTAIN


def parse_choice(answer: str) -> str | None:
    """The letter a reader's answer picks: the bare letter ("b", "(A)", "Option B."), or exactly one
    letter named as "option/choice/answer (is) X", in capitals, inside a sentence; else None."""
    bare = _BARE_CHOICE.match(answer)
    if bare:
        return bare.group(1).upper()
    named = set(_NAMED_CHOICE.findall(answer))
    return named.pop() if len(named) == 1 else None


def choice_verdict(fmt: AnswerFormat, gold: Mapping[str, Any], answer: str) -> dict[str, float]:
    """The score of an A/B question whose gold is ``{"answer": "A" | "B"}``."""
    if fmt != "binary":
        raise ValueError(f"an A/B question is scored as binary, not {fmt}")
    parsed = parse_choice(answer)
    return {"correct": float(parsed == gold["answer"]), "invalid": float(parsed is None)}


def require_int(obj: Mapping[str, Any], key: str, at: Where, low: int, high: int | None = None) -> int:
    """Integer field ``key`` of ``obj``, within ``low``..``high`` (inclusive; no upper bound if None)."""
    value: int = require(obj, key, int, at)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise at.key(key).error(f"must be {bound}, got {value}")
    return value


def require_grid(trial: Mapping[str, Any], at: Where) -> None:
    """The released patterns are 6x6; any other ``grid_size`` would not read as 36-bit strings."""
    require_int(trial, "grid_size", at, GRID, GRID)


def require_pattern(value: Any, at: Where) -> list[int]:
    """A pattern as the official files hold it: a list of 18 distinct dark cells among 0..35."""
    cells = check_type(value, list, at)
    for i, cell in enumerate(cells):
        if not 0 <= check_type(cell, int, at.item(i)) < CELLS:
            raise at.item(i).error(f"must be a cell index from 0 to {CELLS - 1}, got {cell}")
    if len(cells) != DARK or len(set(cells)) != DARK:
        raise at.error(f"must list {DARK} distinct dark cells (half of the {CELLS}), got {shown(cells)}")
    return cells


def require_items(
    trial: Mapping[str, Any], key: str, length: int, at: Where, *, distinct: bool
) -> dict[str, list[int]]:
    """Field ``key``: one pattern per serial position, keyed "0".."length-1"; all different when
    ``distinct`` (a study list: the official generator redraws a list with a repeat)."""
    items: dict[str, Any] = require(trial, key, dict, at)
    if set(items) != {str(i) for i in range(length)}:
        keys = shown(sorted(items))
        raise at.key(key).error(f"must have one pattern per position, keys 0 to {length - 1}, got {keys}")
    patterns = {k: require_pattern(items[k], at.key(key).key(k)) for k in map(str, range(length))}
    if distinct and len({frozenset(p) for p in patterns.values()}) != length:
        raise at.key(key).error("holds the same pattern twice")
    return patterns


def require_diff(trial: Mapping[str, Any], at: Where) -> int:
    """``distractor_diff``: an even number of differing cells (half turned light, half dark)."""
    diff = require_int(trial, "distractor_diff", at, 2, CELLS)
    if diff % 2:
        raise at.key("distractor_diff").error(f"must be even, got {diff}")
    return diff


def require_lure(lure: list[int], pattern: list[int], diff: int, at: Where) -> None:
    """A distractor must differ from its pattern in exactly ``diff`` cells."""
    differing = len(set(lure) ^ set(pattern))
    if differing != diff:
        raise at.error(f"differs from its pattern in {differing} cells, not distractor_diff = {diff}")


class VisualItemRecognition(Variant):
    """VIR: was A or B among the studied patterns?"""

    name = "vir"
    folder = "Visual_Item_Recognition"
    factors = ("list_length", "retention_interval")
    chance = 0.5
    references: ClassVar[tuple[Reference, ...]] = (
        Reference(
            "serial_position",
            "Human, RI 0",
            ((1, 0.655), (2, 0.66), (3, 0.645), (4, 0.81)),
            {"list_length": "4", "retention_interval": "0"},
        ),
        Reference(
            "serial_position",
            "Human, RI 5",
            ((1, 0.655), (2, 0.705), (3, 0.68), (4, 0.71)),
            {"list_length": "4", "retention_interval": "5"},
        ),
    )

    LIST_LENGTHS: ClassVar[tuple[int, ...]] = (4, 6, 8, 10)
    RETENTION_INTERVALS: ClassVar[tuple[int, ...]] = (0, 2, 4, 5, 6)
    DISTRACTOR_DIFF: ClassVar[int] = 4
    QUESTION: ClassVar[str] = (
        "One of these two patterns, A or B, was shown earlier; the other differs from it in a few "
        "cells. Which one was shown? Answer A or B."
    )

    def cells(self) -> list[dict[str, Any]]:
        return [
            {"list_length": length, "retention_interval": ri}
            for length in self.LIST_LENGTHS
            for ri in self.RETENTION_INTERVALS
        ]

    def generate(self, cell: Mapping[str, Any], positive: bool, rng: random.Random) -> dict[str, Any]:
        """``positive`` puts the studied pattern on side A; the probed position is drawn uniformly."""
        length = cell["list_length"]
        items = study_list(length, rng)
        index = rng.randrange(length)
        return {
            "grid_size": GRID,
            "list_length": length,
            "retention_interval": cell["retention_interval"],
            "max_list_length": max(self.LIST_LENGTHS),
            "memory_items": items,
            "distractor_diff": self.DISTRACTOR_DIFF,
            "distractor_item": distractor(items[str(index)], self.DISTRACTOR_DIFF, items.values(), rng),
            "recognition_gt": 0 if positive else 1,
            "recognition_gt_index": index,
        }

    def check(self, trial: Any, at: Where) -> dict[str, Any]:
        checked: dict[str, Any] = check_type(trial, dict, at)
        require_grid(checked, at)
        length = require_int(checked, "list_length", at, 1)
        require_int(checked, "retention_interval", at, 0)
        items = require_items(checked, "memory_items", length, at, distinct=True)
        diff = require_diff(checked, at)
        lure = require_pattern(require(checked, "distractor_item", list, at), at.key("distractor_item"))
        require_int(checked, "recognition_gt", at, 0, 1)
        index = require_int(checked, "recognition_gt_index", at, 0, length - 1)
        require_lure(lure, items[str(index)], diff, at.key("distractor_item"))
        return checked

    def encode(self, trial: Mapping[str, Any]) -> Encoded:
        length, ri = trial["list_length"], trial["retention_interval"]
        items = trial["memory_items"]
        frames = [pattern_frame(i + 1, items[str(i)]) for i in range(length)]
        index = trial["recognition_gt_index"]
        studied, lure = bits(items[str(index)]), bits(trial["distractor_item"])
        on_a = trial["recognition_gt"] == 0
        question = Question(
            key="recognition",
            text=self.QUESTION,
            format="binary",
            gold={"answer": "A" if on_a else "B"},
            labels={
                "list_length": str(length),
                "retention_interval": str(ri),
                "serial_position": str(index + 1),
                "distractor_diff": str(trial["distractor_diff"]),
            },
            inputs={"A": studied, "B": lure} if on_a else {"A": lure, "B": studied},
        )
        return Encoded(frames=frames, questions=[question], retention={length - 1: ri} if ri else {})

    def solve(self, question: str, inputs: Mapping[str, str], memories: Sequence[Memory]) -> str:
        """The option nearest to a remembered pattern; "Unknown." with no patterns or on a tie."""
        return solve_choice(inputs, memories)

    def score(self, fmt: AnswerFormat, gold: Mapping[str, Any], answer: str) -> dict[str, float]:
        return choice_verdict(fmt, gold, answer)


VARIANT = VisualItemRecognition()
