"""Spatial Task Switching, cued (STS): judge each marker by the rule the latest cue set.

A trial is 20 frames of a 2x2 grid. A cue frame sets the rule: judge the marker as top or bottom, or as
left or right. Every other frame shows the marker in one of the four squares and asks, silently, for
the judgement under the rule in force. The first frame is a cue; after each marker frame the rule
switches with probability 0.2, announced by a new cue (the official Cued generator). The one question,
asked after the last frame, wants the judgement of every marker frame in order (``sequence`` format,
scored per marker frame). Official marker squares: 0 top-left, 1 top-right, 2 bottom-left, 3
bottom-right; ``gt`` is 0 for top (or left), 1 for bottom (or right) and 2 on cue frames.

The offline solver walks the frames in frame-number order (written in each frame's text), so it is
exact in any rank order and with ``Memory.order`` None.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from membench.core.jsonl_input import Where, check, list_of, require
from membench_tasks.worm.variant import ABSTAIN, AnswerFormat, Encoded, Memory, Question, Variant
from membench_tasks.worm.variants.grid import frame_statements, int_field, member, one_of

TRIAL_LENGTH = 20
SWITCH_PROBABILITY = 0.2
#: the official rule names -> (the judgement of gt 0, of gt 1).
RULES = {"Up_Down": ("top", "bottom"), "Left_Right": ("left", "right")}
CUE = "Cue_"
SQUARES = ("top-left", "top-right", "bottom-left", "bottom-right")
QUESTION = (
    "For each frame that showed the marker, in frame order, give the judgement the latest cue before it "
    "asked for (top or bottom, or left or right). Answer with one word per marker frame, separated by "
    "commas."
)
_CUE = "cue: from this frame on, judge each marker as "
_MARKER = "the marker is in the "
_STEP = rf"(?:{_CUE}(\w+) or \w+\.|{_MARKER}(\w+)-(\w+) square\.)"
#: the words an answer's steps are read from; "up" and "down" count as top and bottom.
_WORDS = {"top": "top", "bottom": "bottom", "left": "left", "right": "right", "up": "top", "down": "bottom"}
_UNKNOWN = "unknown"


class SpatialTaskSwitching(Variant):
    """STS: rule-dependent judgements with cued switches."""

    name = "sts"
    folder = "Spatial_Task_Switching_Cued"
    factors = ("trial_length",)
    chance = 0.5

    def cells(self) -> list[dict[str, Any]]:
        return [{"trial_length": TRIAL_LENGTH}]

    def generate(self, cell: Mapping[str, Any], positive: bool, rng: random.Random) -> dict[str, Any]:
        length = cell["trial_length"]
        rule = rng.choice(list(RULES))
        tasks = [CUE + rule, rule]
        while len(tasks) < length:
            if rng.random() < SWITCH_PROBABILITY and len(tasks) < length - 1:
                rule = next(other for other in RULES if other != rule)
                tasks.append(CUE + rule)
            tasks.append(rule)
        gt = [2 if task.startswith(CUE) else rng.choice((0, 1)) for task in tasks]
        squares = {
            str(k): rng.choice(_squares(task, judged))
            for k, (task, judged) in enumerate(zip(tasks, gt, strict=True))
            if judged != 2
        }
        return {
            "trial_length": length,
            "variant": "Cued",
            "task_gt": tasks,
            "gt": gt,
            "marker_location": squares,
        }

    def check(self, trial: Any, at: Where) -> dict[str, Any]:
        checked: dict[str, Any] = check(trial, dict, at)
        one_of(trial, "variant", at, ("Cued",))
        tasks_at, gt_at, squares_at = at.key("task_gt"), at.key("gt"), at.key("marker_location")
        tasks = list_of(require(trial, "task_gt", list, at), str, tasks_at)
        gt = require(trial, "gt", list, at)
        squares = require(trial, "marker_location", dict, at)
        if require(trial, "trial_length", int, at) != len(tasks):
            raise at.key("trial_length").error(f"must be the number of task_gt frames, {len(tasks)}")
        if len(gt) != len(tasks):
            raise gt_at.error(f"must have one entry per task_gt frame ({len(tasks)}), got {len(gt)}")
        rule = None
        for k, task in enumerate(tasks):
            if task.startswith(CUE) and task.removeprefix(CUE) in RULES:
                rule = task.removeprefix(CUE)
                member(gt[k], gt_at.item(k), (2,))
            elif task != rule:
                expected = f"a cue or the latest cue's rule {rule}" if rule else "a cue (no cue before it)"
                raise tasks_at.item(k).error(f"must be {expected}, got {task!r}")
            else:
                judged = member(gt[k], gt_at.item(k), (0, 1))
                square = int_field(squares, str(k), squares_at, 0, len(SQUARES) - 1)
                if square not in _squares(task, judged):
                    raise squares_at.key(str(k)).error(
                        f"square {square} is not {RULES[task][judged]}, as gt says"
                    )
        return checked

    def encode(self, trial: Mapping[str, Any]) -> Encoded:
        frames, steps = [], []
        for k, task in enumerate(trial["task_gt"]):
            if task.startswith(CUE):
                frames.append(f"Frame {k + 1}: {_CUE}{' or '.join(RULES[task.removeprefix(CUE)])}.")
            else:
                frames.append(f"Frame {k + 1}: {_MARKER}{SQUARES[trial['marker_location'][str(k)]]} square.")
                steps.append(RULES[task][trial["gt"][k]])
        question = Question(
            key="judgements",
            text=QUESTION,
            format="sequence",
            gold={"steps": steps},
            labels={"trial_length": str(trial["trial_length"])},
        )
        return Encoded(frames=frames, questions=[question])

    def solve(self, question: str, inputs: Mapping[str, str], memories: Sequence[Memory]) -> str:
        """The judgements of the marker frames the memories hold, in frame order, under the latest cue
        before each; "unknown" for a marker seen before any cue, and "Unknown." (scored invalid) when the
        memories hold no marker frame."""
        rule: str | None = None
        said = []
        for match in frame_statements(memories, _STEP).values():
            if match.group(2):
                rule = match.group(2)
            else:
                vertical, horizontal = match.group(3), match.group(4)
                said.append(_UNKNOWN if rule is None else vertical if rule == "top" else horizontal)
        return ", ".join(said) if said else ABSTAIN

    def score(self, fmt: AnswerFormat, gold: Mapping[str, Any], answer: str) -> dict[str, float]:
        """Step i is right when the answer's i-th judgement word is gold's; "unknown" holds a step's place.
        No judgement word at all, or more of them than steps, is invalid."""
        steps: list[str] = list(gold["steps"])
        words = re.findall(rf"\b({'|'.join(_WORDS)}|{_UNKNOWN})\b", answer.lower())
        said = [_WORDS.get(word, _UNKNOWN) for word in words]
        valid = len(said) <= len(steps) and any(word != _UNKNOWN for word in said)
        scores = {
            f"step_{i}": float(valid and i <= len(said) and said[i - 1] == step)
            for i, step in enumerate(steps, start=1)
        }
        return {**scores, "correct": sum(scores.values()) / len(steps), "invalid": float(not valid)}


def _squares(rule: str, judged: int) -> tuple[int, int]:
    """The two squares judged ``RULES[rule][judged]``: top 0, 1; bottom 2, 3; left 0, 2; right 1, 3."""
    if rule == "Up_Down":
        return (0, 1) if judged == 0 else (2, 3)
    return (0, 2) if judged == 0 else (1, 3)


VARIANT = SpatialTaskSwitching()
