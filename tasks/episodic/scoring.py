"""Episodic scoring: the closed-vocabulary matcher, upstream's lenient F1, and Kendall tau.

Every ground-truth item of the benchmark comes from a closed vocabulary (dates, places, names, event
kinds, secondary names), so which items an answer states can be decided without an LLM: an item is
stated when one of its written forms occurs in the answer as a whole-word phrase (case, punctuation
and spacing ignored). Dates are recognised in the common forms ("September 13, 2025", "13 September
2025", "Sep 13th 2025", "2025-09-13", "9/13/2025"). A person named by first or last name only earns
0.5, upstream's score for an item that is "related but not explicit", unless that name is part of
another person's full name the answer states ("Ezra" in "Ezra Moreau" names him, not Ezra Edwards);
everything else is 1 or 0.

F1 follows upstream's "lenient" policy exactly (research notes §2.6): S = sum of item scores over the
deduplicated ground truth; n_pred = items the answer states; if n_pred > n_gt > 0 then n_pred := n_gt;
P = S/n_pred, R = S/n_gt; both sets empty scores 1, exactly one empty scores 0. The "harsh" F1 skips
the cap. An answer that opens with "no information" (or similar) states nothing, as upstream's judge
is told. Chronological order: the ground-truth items in the order the answer first states them, Kendall
tau against the story order, counted only when the answer states every ground-truth item. Stated items
that match none are dropped before that set test, as upstream's ``compute_kendall_summarise`` drops
predictions its judge mapped to no ground-truth index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from membench.core.text import normalize

PERSON_TRAITS = frozenset({"entity", "post_entities"})
_NO_INFORMATION = re.compile(r"^\W*(no information|unknown|i (do not|don't) know|none\b|not mentioned)", re.I)
_ORDINAL = {1: "st", 2: "nd", 3: "rd"}


def date_forms(text: str) -> list[str]:
    """The normalised written forms of a book date ("September 13, 2025"); the text itself otherwise."""
    try:
        day = datetime.strptime(text.strip(), "%B %d, %Y").date()
    except ValueError:
        return [normalize(text)]
    month, short = f"{day:%B}".lower(), f"{day:%b}".lower()
    suffix = "th" if 10 <= day.day % 100 <= 20 else _ORDINAL.get(day.day % 10, "th")
    forms = []
    for m in dict.fromkeys((month, short, "sept" if short == "sep" else short)):
        for d in (str(day.day), f"{day.day}{suffix}"):
            forms += [f"{m} {d} {day.year}", f"{d} {m} {day.year}", f"{d} of {m} {day.year}"]
    forms += [f"{day.year} {day.month:02d} {day.day:02d}", f"{day.month} {day.day} {day.year}"]
    forms += [f"{day.month:02d} {day.day:02d} {day.year}"]
    return list(dict.fromkeys(forms))


def forms_of(item: str, trait: str) -> list[str]:
    return date_forms(item) if trait == "date" else [normalize(item)]


def _first_position(haystack: str, forms: Sequence[str]) -> int | None:
    positions = [haystack.find(f" {form} ") for form in forms if form]
    found = [p for p in positions if p >= 0]
    return min(found) if found else None


@dataclass(frozen=True)
class Match:
    """What the matcher read in one answer."""

    stated: list[str]  # vocabulary items stated in full, in order of first appearance
    partial: list[str]  # ground-truth people named only by first or last name
    scores: dict[str, float]  # ground-truth item -> 1, 0.5 or 0

    @property
    def n_pred(self) -> int:
        return len(self.stated) + len(self.partial)


def match_answer(answer: str, gold: Sequence[str], vocabulary: Sequence[str], trait: str) -> Match:
    """Which vocabulary items ``answer`` states, and the score of each ground-truth item."""
    gold_items = list(dict.fromkeys(gold))
    if _NO_INFORMATION.match(answer or ""):
        return Match([], [], dict.fromkeys(gold_items, 0.0))
    haystack = f" {normalize(answer or '')} "
    found: list[tuple[int, str]] = []
    for item in dict.fromkeys([*vocabulary, *gold_items]):
        position = _first_position(haystack, forms_of(item, trait))
        if position is not None:
            found.append((position, item))
    stated = [item for _, item in sorted(found)]
    scores = {item: 1.0 if item in stated else 0.0 for item in gold_items}
    partial: list[str] = []
    if trait in PERSON_TRAITS:
        rest = _without(haystack, [form for item in stated for form in forms_of(item, trait)])
        for item in gold_items:
            if scores[item] == 0.0 and _first_position(rest, normalize(item).split()) is not None:
                scores[item] = 0.5
                partial.append(item)
    return Match(stated, partial, scores)


def _without(haystack: str, forms: Sequence[str]) -> str:
    """``haystack`` (space-padded) with every whole-word occurrence of ``forms`` taken out."""
    for form in forms:
        needle = f" {form} "
        while form and needle in haystack:
            haystack = haystack.replace(needle, " ")
    return haystack


def f1_scores(total: float, n_pred: int, n_gt: int) -> tuple[float, float]:
    """(lenient F1, harsh F1) from the summed item scores and the two counts."""
    if n_pred == 0 and n_gt == 0:
        return 1.0, 1.0
    if n_pred == 0 or n_gt == 0 or total == 0:
        return 0.0, 0.0

    def f1(pred: int) -> float:
        precision, recall = total / pred, total / n_gt
        return 2 * precision * recall / (precision + recall)

    return f1(min(n_pred, n_gt)), f1(n_pred)


def kendall_tau(order: Sequence[int]) -> float | None:
    """Kendall tau between a predicted order of distinct ground-truth indexes and the true (sorted) one.

    Without ties tau-a and tau-b agree: (concordant - discordant) / pairs. None for fewer than two.
    """
    n = len(order)
    if n < 2:
        return None
    pairs = n * (n - 1) // 2
    concordant = sum(1 for i in range(n) for j in range(i + 1, n) if order[i] < order[j])
    return (2 * concordant - pairs) / pairs


def chronology(stated: Sequence[str], gold: Sequence[str]) -> tuple[bool, float | None]:
    """(exact set, tau) of a list of two or more ground-truth items, as upstream summarises them.

    Stated items outside the ground truth are dropped first, then the set is exact when every
    ground-truth item remains; tau, over the order they are stated in, is computed only then.
    """
    index = {item: i for i, item in enumerate(dict.fromkeys(gold))}
    matched = list(dict.fromkeys(item for item in stated if item in index))
    if len(index) < 2 or len(matched) < len(index):
        return False, None
    return True, kendall_tau([index[item] for item in matched])
