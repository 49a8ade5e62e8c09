"""The exact verdict on built LoCoMo data: an answer against the item's machine-checkable keys.

Built items carry ``membench_keys`` beside the official fields: ``require``, the phrases a right answer
states (the name, the date, every part of a multi-hop answer), and ``abstain``, true for adversarial
items, whose right answer says the information is not available. Phrases match as whole tokens after
``core.text.normalize`` (ConvoMem's ``contains``: case and punctuation ignored); declining is decided
by the official category-5 rule (``official.says_not_available``), so the rule judge and the official
score never disagree on what an abstention is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from membench_tasks.convomem.keys import contains
from membench_tasks.locomo.official import says_not_available


@dataclass(frozen=True)
class Keys:
    """An item's keys: every ``require`` phrase must appear; an ``abstain`` item wants a declining answer."""

    require: tuple[str, ...]
    abstain: bool

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Keys:
        return cls(
            require=tuple(str(v) for v in value.get("require", ())), abstain=bool(value.get("abstain"))
        )

    def to_json(self) -> dict[str, Any]:
        return {"require": list(self.require), "abstain": self.abstain}


def missing(answer: str, keys: Keys) -> list[str]:
    """The required phrases ``answer`` does not state."""
    return [phrase for phrase in keys.require if not contains(answer, phrase)]


def is_right(answer: str, keys: Keys) -> bool:
    """An abstain item is right when the answer declines; any other when it states every required
    phrase and does not decline (an answer that both names the value and says it is not mentioned has
    not committed to it)."""
    if keys.abstain:
        return says_not_available(answer)
    return not missing(answer, keys) and not says_not_available(answer)
