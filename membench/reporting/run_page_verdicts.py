"""A run page's verdict groups: every probe filed under its verdict, worst first, each with a colour.

A verdict is the judge's label (``Score.label``: "correct", "wrong", "hallucination", ...), or
"errored" when the record has no verdict because a stage failed (``Record.status``), or "scored per
element" when the judge scores without a single label (HaluMem's extraction probes carry per-point details
instead). Each verdict has a tone, the colour it is shown in: labels that mean the same thing in
different tasks ("correct" and "right") share one, so the colours read the same on every run page,
and a label no task declared yet is shown uncoloured (its text still says what it is).

The page lists one section per verdict with an anchor (``#wrong``), so a reader opens only the wrong
answers without a script: the page's CSS hides the other sections while one is the URL's target.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from membench.core.types import Record

#: the verdict of a record that has none because its system, reader or judge failed.
ERRORED = "errored"
#: the verdict of a record scored without a single label (only per-element details).
NO_VERDICT = "scored per element"


@dataclass(frozen=True)
class Tone:
    """How one family of verdicts is shown: its CSS class (colours in run.html.j2), the colour's
    name and what it means, for the legend."""

    css: str
    colour: str
    meaning: str


#: tones from the worst outcome to the best; a page lists its verdict sections in this order.
TONES: tuple[Tone, ...] = (
    Tone("t-bad", "red", "wrong"),
    Tone("t-hal", "orange", "states something false"),
    Tone("t-err", "purple", "a stage failed: counted apart, never as wrong"),
    Tone("t-oth", "blue", "another failure"),
    Tone("t-omi", "grey", "too little or nothing said"),
    Tone("t-par", "amber", "partly right"),
    Tone("t-new", "no colour", "a label without a colour yet"),
    Tone("t-ok", "green", "right"),
    Tone("t-non", "no colour", "no single label: the judge's verdicts are per gold element"),
)
_TONE = {tone.css: tone for tone in TONES}

#: the built-in tasks' labels (see each task's judges), by the tone they are shown in.
LABEL_TONES: dict[str, str] = {
    "wrong": "t-bad",
    "hallucination": "t-hal",
    "hallucinated": "t-hal",
    ERRORED: "t-err",
    "other": "t-oth",
    "invalid": "t-oth",
    "omission": "t-omi",
    "abstain": "t-omi",
    "partial": "t-par",
    "correct": "t-ok",
    "right": "t-ok",
    NO_VERDICT: "t-non",
}
_UNKNOWN = "t-new"

#: ids a verdict's anchor must not take: the page's other anchors (probe anchors start with "p-").
_RESERVED = re.compile(r"^(probes|shared-\d+|p-.*|v-.*)$")

T = TypeVar("T")


def verdict_of(record: Record) -> str:
    """The verdict a record is filed under (module docstring)."""
    if record.status == "error":
        return ERRORED
    assert record.score is not None  # a scored record has a score (Record.status)
    return record.score.label or NO_VERDICT


def tone_of(verdict: str) -> Tone:
    return _TONE[LABEL_TONES.get(verdict, _UNKNOWN)]


def anchor_of(verdict: str) -> str:
    """The section's id: the verdict itself where it can be ("#wrong"), in letters, digits and "-"."""
    slug = re.sub(r"[^a-z0-9]+", "-", verdict.lower()).strip("-") or "blank"
    return f"v-{slug}" if _RESERVED.match(slug) else slug


@dataclass(frozen=True)
class VerdictGroup(Generic[T]):
    """The probes of one verdict, in page order, with how many of each kind (qa, update, ...)."""

    verdict: str
    anchor: str
    tone: Tone
    items: list[T]
    kinds: list[tuple[str, int]]


def group_by_verdict(
    items: Sequence[T], verdict: Callable[[T], str], kind: Callable[[T], str]
) -> list[VerdictGroup[T]]:
    """``items`` filed by ``verdict``: worst tone first (``TONES``), then by verdict name; a verdict's
    items keep their order. Two verdicts whose anchors collide keep apart by a numbered suffix."""
    grouped: dict[str, list[T]] = {}
    for item in items:
        grouped.setdefault(verdict(item), []).append(item)
    rank = {tone.css: i for i, tone in enumerate(TONES)}
    order = sorted(grouped, key=lambda v: (rank[tone_of(v).css], v))
    groups: list[VerdictGroup[T]] = []
    taken: set[str] = set()
    for name in order:
        anchor = anchor_of(name)
        base, n = anchor, 1
        while anchor in taken:
            n += 1
            anchor = f"{base}-{n}"
        taken.add(anchor)
        kinds = Counter(kind(item) for item in grouped[name])
        groups.append(VerdictGroup(name, anchor, tone_of(name), grouped[name], sorted(kinds.items())))
    return groups


def legend(groups: Sequence[VerdictGroup[T]]) -> list[tuple[Tone, list[str]]]:
    """The tones the page uses, in ``TONES`` order, each with its verdicts on the page: the legend
    says what each colour means."""
    used: dict[str, list[str]] = {}
    for group in groups:
        used.setdefault(group.tone.css, []).append(group.verdict)
    return [(tone, used[tone.css]) for tone in TONES if tone.css in used]
