"""Change detection (CD): a memory array of bars, a retention interval, then a test array: did a bar change?

Five variants, one folder each in the release: Color, Orientation, Size and Gap (a change is always
in that feature) and Conjunction (in any one of the four; the trial's ``conjunction_gt`` names it).
A bar has a position and four binary features: size small/large, color red/green, orientation
horizontal/vertical, gap continuous/broken. A change flips one feature of one bar; half the trials
have none. Grid: set size in {2, 4, 6, 8, 10, 12} × RI in {0, 6, 12, 18} blank frames.

Positions: the official bars are pixel coordinates (``bar_coords`` = x1, y1, x2, y2) on the released
data's 96-pixel canvas. The text names a bar by the cell of its centre on a 10x10 grid laid over the
canvas: rows A-J from top to bottom (y), columns 1-10 from left to right (x), so "C7" is the third row,
seventh column. A bar's centre stays put when its orientation or size changes, so it keeps its cell in
the test array. The official placement keeps the bars' start points at least 20 px apart along x or
y, so their centres are at least 12.5 px apart there, more than a cell's 9.6 px: no two share a cell
(``check`` refuses a trial where two do).

Text: one frame, "Memory array of 4 bars (cell size color orientation gap): C7 small red horizontal
continuous; ...", then the RI blanks (``Encoded.retention``); the test array, written the same way, is
the question's ``test_array`` input.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from membench.core.jsonl_input import Where, require, shown
from membench.core.jsonl_input import check as check_type
from membench_tasks.worm.variant import ABSTAIN, AnswerFormat, Encoded, Memory, Question, Reference, Variant
from membench_tasks.worm.variants.grid import score_yes_no
from membench_tasks.worm.variants.visual_item_recognition import require_int

#: the released data's image size (the trainer's ``img_size`` default), the frame of ``bar_coords``.
CANVAS = 96
SIDE = 10
CELL_PX = CANVAS / SIDE
ROWS = "ABCDEFGHIJ"
#: each feature's two values, in the order the text writes a bar.
FEATURES: dict[str, tuple[str, str]] = {
    "size": ("small", "large"),
    "color": ("red", "green"),
    "orientation": ("horizontal", "vertical"),
    "gap": ("continuous", "broken"),
}
#: the feature names ``conjunction_gt`` uses.
OFFICIAL_FEATURE = {"Size": "size", "Color": "color", "Orientation": "orientation", "Gap": "gap"}
_OFFICIAL_NAME = {feature: name for name, feature in OFFICIAL_FEATURE.items()}
_LENGTH_PX = {"small": 9, "large": 15}
#: where the gap of a broken bar starts and ends, as fractions of its length (the official drawing's).
_GAP_SPAN = {"small": (1 / 3, 2 / 3), "large": (2 / 5, 3 / 5)}
_FOLDER = "Color_Orientation_Size_Gap_Conjunction_Change_Detection_"
_BAR = re.compile(
    r"\b([A-J](?:10|[1-9]))\s+(small|large)\s+(red|green)\s+(horizontal|vertical)\s+(continuous|broken)\b",
    re.IGNORECASE,
)


def cell_of(coords: Sequence[float]) -> str:
    """The grid cell of a bar's centre, e.g. "C7" (coordinates already checked to lie on the canvas)."""
    x1, y1, x2, y2 = coords
    return f"{ROWS[int((y1 + y2) / 2 // CELL_PX)]}{int((x1 + x2) / 2 // CELL_PX) + 1}"


def make_bar(centre: tuple[float, float], features: Mapping[str, str]) -> dict[str, Any]:
    """A bar in the official schema, centred on ``centre`` (pixels)."""
    cx, cy = centre
    half = _LENGTH_PX[features["size"]] / 2
    dx, dy = (half, 0.0) if features["orientation"] == "horizontal" else (0.0, half)
    x1, y1, x2, y2 = cx - dx, cy - dy, cx + dx, cy + dy
    gap = None
    if features["gap"] == "broken":
        lo, hi = _GAP_SPAN[features["size"]]
        gap = [x1 + (x2 - x1) * lo, y1 + (y2 - y1) * lo, x1 + (x2 - x1) * hi, y1 + (y2 - y1) * hi]
    return {
        "bar_coords": [round(v, 2) for v in (x1, y1, x2, y2)],
        **{feature: features[feature] for feature in FEATURES},
        "gap_coords": None if gap is None else [round(v, 2) for v in gap],
    }


def array_text(title: str, array: Mapping[str, Mapping[str, Any]]) -> str:
    """An array of bars as one line, bars in the official index order."""
    bars = [array[key] for key in sorted(array, key=int)]
    listed = "; ".join(
        " ".join([cell_of(bar["bar_coords"]), *(bar[feature] for feature in FEATURES)]) for bar in bars
    )
    return f"{title} of {len(bars)} bars (cell size color orientation gap): {listed}."


def read_bars(text: str) -> dict[str, tuple[str, ...]]:
    """Cell → features of every bar written in ``text`` (the first mention of a cell wins)."""
    found: dict[str, tuple[str, ...]] = {}
    for match in _BAR.finditer(text):
        cell, *features = (part.lower() for part in match.groups())
        found.setdefault(cell.upper(), tuple(features))
    return found


class ChangeDetection(Variant):
    """CD: did any bar of the memory array change in the test array?"""

    #: the feature a change flips, or None for the conjunction variant (any one of the four).
    feature: ClassVar[str | None]
    factors = ("set_size", "retention_interval")
    chance = 0.5

    SET_SIZES: ClassVar[tuple[int, ...]] = (2, 4, 6, 8, 10, 12)
    RETENTION_INTERVALS: ClassVar[tuple[int, ...]] = (0, 6, 12, 18)
    QUESTION: ClassVar[str] = "Did any bar change? Answer yes or no."

    def cells(self) -> list[dict[str, Any]]:
        return [
            {"set_size": size, "retention_interval": ri}
            for size in self.SET_SIZES
            for ri in self.RETENTION_INTERVALS
        ]

    def generate(self, cell: Mapping[str, Any], positive: bool, rng: random.Random) -> dict[str, Any]:
        """Bars on distinct random cells, centred in them; ``positive`` flips one feature of one bar
        (for the conjunction variant, a feature drawn first, as the official generator does)."""
        centres = [
            ((col + 0.5) * CELL_PX, (row + 0.5) * CELL_PX)
            for row, col in (
                divmod(place, SIDE) for place in rng.sample(range(SIDE * SIDE), cell["set_size"])
            )
        ]
        features = [{feature: rng.choice(values) for feature, values in FEATURES.items()} for _ in centres]
        memory = {
            str(n): make_bar(centre, f)
            for n, (centre, f) in enumerate(zip(centres, features, strict=True), 1)
        }
        probe = {key: dict(bar) for key, bar in memory.items()}
        changed = None
        if positive:
            changed = self.feature or rng.choice(list(FEATURES))
            n = rng.randrange(len(centres))
            first, second = FEATURES[changed]
            flipped = {**features[n], changed: second if features[n][changed] == first else first}
            probe[str(n + 1)] = make_bar(centres[n], flipped)
        return {
            "set_size": cell["set_size"],
            "memory_array": memory,
            "probe_array": probe,
            "retention_interval": cell["retention_interval"],
            "conjunction_gt": None if self.feature or changed is None else _OFFICIAL_NAME[changed],
            "gt": int(positive),
        }

    def check(self, trial: Any, at: Where) -> dict[str, Any]:
        checked: dict[str, Any] = check_type(trial, dict, at)
        size = require_int(checked, "set_size", at, 1, SIDE * SIDE)
        require_int(checked, "retention_interval", at, 0)
        memory = _read_array(checked, "memory_array", size, at)
        probe = _read_array(checked, "probe_array", size, at)
        for key, (cell, _) in memory.items():
            if probe[key][0] != cell:
                moved = f"moves bar {key} from cell {cell} to {probe[key][0]}"
                raise at.key("probe_array").key(key).key("bar_coords").error(moved)
        gt = require_int(checked, "gt", at, 0, 1)
        named: str | None = require(checked, "conjunction_gt", (str, type(None)), at)
        expected: str | None = self.feature
        if self.feature is None and gt == 1:
            if named not in OFFICIAL_FEATURE:
                names = ", ".join(OFFICIAL_FEATURE)
                raise at.key("conjunction_gt").error(
                    f"must name the changed feature ({names}), got {shown(named)}"
                )
            expected = OFFICIAL_FEATURE[named]
        elif named is not None:
            problem = f"must be null unless a conjunction trial has a change, got {shown(named)}"
            raise at.key("conjunction_gt").error(problem)
        changes = [(key, f) for key in memory for f in FEATURES if memory[key][1][f] != probe[key][1][f]]
        probe_at = at.key("probe_array")
        if gt == 0 and changes:
            key, feature = changes[0]
            raise probe_at.key(key).key(feature).error("differs from the memory array although gt is 0")
        if gt == 1 and len(changes) != 1:
            raise probe_at.error(f"must change one feature of one bar when gt is 1, found {len(changes)}")
        if changes and changes[0][1] != expected:
            key, feature = changes[0]
            raise probe_at.key(key).key(feature).error(f"changes {feature}, not {expected}")
        return checked

    def encode(self, trial: Mapping[str, Any]) -> Encoded:
        ri = trial["retention_interval"]
        question = Question(
            key="change",
            text=self.QUESTION,
            format="binary",
            gold={"answer": "yes" if trial["gt"] else "no"},
            labels={"set_size": str(trial["set_size"]), "retention_interval": str(ri)},
            inputs={"test_array": array_text("Test array", trial["probe_array"])},
        )
        frame = array_text("Memory array", trial["memory_array"])
        return Encoded(frames=[frame], questions=[question], retention={0: ri} if ri else {})

    def solve(self, question: str, inputs: Mapping[str, str], memories: Sequence[Memory]) -> str:
        """Answers "yes" when a test bar differs from the remembered bar of its cell, "no" when every
        test bar is remembered unchanged, else "Unknown." (a change may hide in a bar the memories
        lack)."""
        test = read_bars(inputs.get("test_array", ""))
        known: dict[str, tuple[str, ...]] = {}
        for memory in memories:  # best-ranked first: its reading of a cell wins
            for cell, features in read_bars(memory.text).items():
                known.setdefault(cell, features)
        if any(cell in known and known[cell] != features for cell, features in test.items()):
            return "yes"
        if test and all(cell in known for cell in test):
            return "no"
        return ABSTAIN

    def score(self, fmt: AnswerFormat, gold: Mapping[str, Any], answer: str) -> dict[str, float]:
        if fmt != "binary":
            raise ValueError(f"change detection is scored as binary, not {fmt}")
        return score_yes_no(gold, answer)


def _read_array(
    trial: Mapping[str, Any], key: str, size: int, at: Where
) -> dict[str, tuple[str, dict[str, str]]]:
    """Field ``key``, an array of ``size`` bars keyed "1".."size": each bar's cell and features."""
    array: dict[str, Any] = require(trial, key, dict, at)
    if set(array) != {str(n) for n in range(1, size + 1)}:
        raise at.key(key).error(
            f"must hold set_size = {size} bars keyed 1 to {size}, got {shown(sorted(array))}"
        )
    read: dict[str, tuple[str, dict[str, str]]] = {}
    owner: dict[str, str] = {}
    for n in map(str, range(1, size + 1)):
        bar_at = at.key(key).key(n)
        bar = check_type(array[n], dict, bar_at)
        features: dict[str, str] = {}
        for feature, values in FEATURES.items():
            features[feature] = require(bar, feature, str, bar_at)
            if features[feature] not in values:
                raise bar_at.key(feature).error(
                    f"must be {' or '.join(values)}, got {shown(features[feature])}"
                )
        cell = _bar_cell(bar, bar_at)
        if cell in owner:
            raise bar_at.key("bar_coords").error(f"puts bar {n} in cell {cell}, where bar {owner[cell]} is")
        owner[cell] = n
        read[n] = (cell, features)
    return read


def _bar_cell(bar: Mapping[str, Any], at: Where) -> str:
    """The cell of a bar whose ``bar_coords`` are four numbers with the centre on the canvas."""
    coords: list[Any] = require(bar, "bar_coords", list, at)
    if len(coords) != 4:
        raise at.key("bar_coords").error(f"must be 4 numbers (x1, y1, x2, y2), got {shown(coords)}")
    x1, y1, x2, y2 = (check_type(v, float, at.key("bar_coords").item(i)) for i, v in enumerate(coords))
    if not (0 <= (x1 + x2) / 2 < CANVAS and 0 <= (y1 + y2) / 2 < CANVAS):
        raise at.key("bar_coords").error(
            f"must centre the bar on the {CANVAS}-pixel canvas, got {shown(coords)}"
        )
    return cell_of((x1, y1, x2, y2))


class ColorChangeDetection(ChangeDetection):
    name = "cd-color"
    folder = f"{_FOLDER}Color"
    feature = "color"
    references = (Reference("set_size", "Human", ((2, 0.985), (4, 0.945), (6, 0.84))),)


class OrientationChangeDetection(ChangeDetection):
    name = "cd-orientation"
    folder = f"{_FOLDER}Orientation"
    feature = "orientation"
    references = (Reference("set_size", "Human", ((2, 0.955), (4, 0.90), (6, 0.81))),)


class SizeChangeDetection(ChangeDetection):
    name = "cd-size"
    folder = f"{_FOLDER}Size"
    feature = "size"
    references = (Reference("set_size", "Human", ((2, 0.975), (4, 0.93), (6, 0.82))),)


class GapChangeDetection(ChangeDetection):
    name = "cd-gap"
    folder = f"{_FOLDER}Gap"
    feature = "gap"
    references = (Reference("set_size", "Human", ((2, 0.945), (4, 0.89), (6, 0.80))),)


class ConjunctionChangeDetection(ChangeDetection):
    name = "cd-conjunction"
    folder = f"{_FOLDER}Conjunction"
    feature = None
    references = (Reference("set_size", "Human", ((2, 0.965), (4, 0.92), (6, 0.83))),)


VARIANTS: tuple[ChangeDetection, ...] = (
    ColorChangeDetection(),
    OrientationChangeDetection(),
    SizeChangeDetection(),
    GapChangeDetection(),
    ConjunctionChangeDetection(),
)
