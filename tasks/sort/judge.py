"""SORT's judge: a strict A/B parse of the answer against the gold label, with abstentions kept apart.

The release scores the higher-probability token of "A" and "B" and counts any other output as wrong
('X'). Readers here answer in text, so the parse is strict instead: the answer must be the letter A or
B, optionally as "Segment A", in brackets, quotes or bold, with a final full stop; anything else is
"invalid" (never guessed at). "Unknown" (the word both offline readers and the LLM reader's prompt use
to decline) is "abstain". Both labels are counted and shown by the metrics, not folded into "wrong".
"""

from __future__ import annotations

import re
from typing import Any, Literal

from membench.core.errors import ConfigError
from membench.core.types import Episode, Prediction, Probe, Score
from membench.judges.base import Judge

Choice = Literal["A", "B", "abstain", "invalid"]
LABELS = ("correct", "wrong", "abstain", "invalid")

_CHOICE = re.compile(r"(?:[Ss]egment\s+)?([AB])")
_WRAPPING = " \t\n*_\"'`()[]"


def parse_choice(answer: str | None) -> Choice:
    """The letter when the answer is exactly "A" or "B" (see the module docstring), else a label."""
    text = (answer or "").strip().strip(_WRAPPING).removesuffix(".").strip(_WRAPPING)
    if text.lower() == "unknown":
        return "abstain"
    match = _CHOICE.fullmatch(text)
    if match is None:
        return "invalid"
    return "A" if match.group(1) == "A" else "B"


class OrderJudge(Judge):
    """Exact: the gold label is known for every pair, so the verdict needs no judgement."""

    name = "rule"
    exact = True
    version = "1"

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "exact": self.exact}

    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        gold = probe.gold.get("answer")
        if gold not in ("A", "B"):
            raise ConfigError(f"probe {probe.probe_id} has no gold answer A or B (gold: {probe.gold!r})")
        choice = parse_choice(prediction.answer)
        label = ("correct" if choice == gold else "wrong") if choice in ("A", "B") else choice
        return Score(
            judge=self.name,
            label=label,
            values={"correct": float(label == "correct")},
            details=[{"choice": choice, "gold": gold}],
            explanation=f"parsed {choice!r} from {prediction.answer!r}; gold {gold}",
        )
