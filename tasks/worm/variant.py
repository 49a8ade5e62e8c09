"""The seam every WorM variant fills: generate trials, check official ones, write them as text, solve
them from memory, and score an answer.

WorM (Sikarwar & Zhang, NeurIPS 2023) has 10 tasks in 14 variants, each manipulating one factor of
working memory. The original draws images for recurrent networks; membench writes each frame as one
short text message (one session, one memory write) and asks the probes after the last frame. A variant
is one module under ``tasks/worm/variants/`` exporting ``VARIANT``; the loader, the reader, the judge
and the metrics only ever call this interface, so the 14 variants share one pipeline.

Trials are dicts in the official ``data_rand_trials.json`` schema of the variant's folder (the
builder writes that schema, the loader reads the official files in it), so built and official
trials take the same path from here on.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from membench.core.jsonl_input import Where

#: how an answer is read and scored (``Question.format``):
#: - ``binary``: yes/no (or A/B): one of two options, chance 50%;
#: - ``choice``: one of n options (``gold["options"]`` options, chance 1/n);
#: - ``set``: a set of items, scored by recall/precision/F1 against ``gold["items"]`` (SFR);
#: - ``sequence``: one option per step, scored per step against ``gold["steps"]`` (VSR, STS);
#: - ``boxes``: one state per box, scored per box against ``gold["boxes"]`` (SMU).
AnswerFormat = Literal["binary", "choice", "set", "sequence", "boxes"]
#: what every solver answers when the memories hold nothing to answer from; every ``score`` reads it
#: as invalid, so remembering nothing scores 0, never chance by a lucky fixed guess.
ABSTAIN = "Unknown."


@dataclass(frozen=True)
class Question:
    """One probe of a trial, asked after its last frame.

    ``inputs`` is what the reader is shown beside ``text`` (never gold): the options of a choice, the
    test array of a change detection. ``labels`` hold the trial's factor levels (as strings, numbers
    written plainly: "4", not "4.0") and, for questions about one position, ``serial_position``
    (1-based); every curve reads them.
    """

    key: str
    text: str
    format: AnswerFormat
    gold: Mapping[str, Any]
    labels: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Encoded:
    """A trial as text: its frames in order (each one session of one message) and its questions.

    ``retention`` lists, per frame index, how many blank frames follow it (the retention interval):
    the loader writes them as filler sessions, so a variant never writes blanks itself.
    """

    frames: Sequence[str]
    questions: Sequence[Question]
    retention: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Memory:
    """What a solver reads: a retrieved memory's text and its place in the write stream when the system
    kept it (the frame's session index), else None."""

    text: str
    order: int | None


@dataclass(frozen=True)
class Reference:
    """A curve drawn beside the systems' of the same axis: a human curve from the paper's analysis
    notebooks (measured on the image tasks: a qualitative reference for the direction of an effect),
    or a chance level that changes along the axis.

    ``where`` restricts the curve to probes with those label values (VIR's serial-position curve at
    list length 4 and retention interval 0); ``points`` are (axis value, accuracy in [0, 1]).
    """

    axis: str
    label: str
    points: tuple[tuple[float, float], ...]
    where: Mapping[str, str] = field(default_factory=dict)
    #: "human" for the paper's data; "chance" for a chance level that differs along the axis (SFR).
    kind: Literal["human", "chance"] = "human"


class Variant(ABC):
    """One WorM variant (CD-Color, SFR, ...)."""

    #: membench's name: "sfr", "cd-color", "cd-orientation", "cd-size", "cd-gap", "cd-conjunction",
    #: "vir", "vsr", "vsrec", "cs", "sc", "si", "smu", "sts".
    name: ClassVar[str]
    #: the official release's folder of this variant (``wm_bench_data/<folder>/data_rand_trials.json``).
    folder: ClassVar[str]
    #: the factor label keys of this variant's grid, in the order the cells are enumerated.
    factors: ClassVar[tuple[str, ...]]
    #: the chance level of the variant's ``correct`` value, drawn on every plot; None where it differs
    #: by cell (SFR: a random pick of L of the 30 visible cells has expected F1 L/30).
    chance: ClassVar[float | None]
    #: the paper's human curves for this variant (``Reference``), or none.
    references: ClassVar[tuple[Reference, ...]] = ()

    @abstractmethod
    def cells(self) -> list[dict[str, Any]]:
        """Every condition cell of the paper's grid (factor name → value); the builder writes the same
        number of trials in each, and binary variants half positive in each."""

    @abstractmethod
    def generate(self, cell: Mapping[str, Any], positive: bool, rng: random.Random) -> dict[str, Any]:
        """One trial of ``cell`` in the official schema; ``positive`` decides a binary trial's answer
        (ignored by the other formats)."""

    @abstractmethod
    def check(self, trial: Any, at: Where) -> dict[str, Any]:
        """``trial`` validated against the official schema (``at.error(...)`` names file, trial and
        field on the first problem); returns the trial."""

    @abstractmethod
    def encode(self, trial: Mapping[str, Any]) -> Encoded:
        """The trial's frames and questions as text."""

    @abstractmethod
    def solve(self, question: str, inputs: Mapping[str, str], memories: Sequence[Memory]) -> str:
        """The offline reader: answer ``question`` from ``memories`` only (best first as retrieved;
        ``order`` gives the write order where known). Exact when the memories hold every frame."""

    @abstractmethod
    def score(self, fmt: AnswerFormat, gold: Mapping[str, Any], answer: str) -> dict[str, float]:
        """The rule verdict: ``correct`` (0/1) for binary and choice; ``recall``, ``precision``, ``f1``
        for set; ``correct`` per step as ``step_<i>`` plus ``correct`` = share of steps for sequence;
        likewise ``box_<i>`` and ``correct`` for boxes. ``invalid`` = 1.0 when the answer could not be
        parsed at all (it then scores 0 everywhere)."""
