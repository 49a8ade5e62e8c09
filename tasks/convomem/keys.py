"""The exact verdict on built ConvoMem data: an answer against the item's machine-checkable keys.

Built items carry ``membench_keys`` (``require``, ``forbid``, ``abstain``) beside the official fields.
The rule judge and the offline reader's own test both decide right or wrong here, so the two can never
disagree on what an answer says. Matching is on whole tokens after ``core.text.normalize`` (case,
punctuation and spacing ignored), so "Denver." and "denver" match and "Den" does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from membench.core.text import normalize

#: what the offline reader says when the memories hold no answer.
ABSTENTION = "I don't know."
# Ways an answer declines (the paper's abstention rule: any "I don't know" or a request for
# clarification is right). Matched on the normalised answer, so apostrophes and case do not matter.
_ABSTAINS = re.compile(
    r"\b(i don t know|i do not know|i dont know|don t know|not sure|unknown|no information|"
    r"not mentioned|never mentioned|no record|cannot find|can t find|couldn t find|could not find|"
    r"cannot tell|can t tell|no mention|not available|not specified|not provided|"
    r"could you clarify|can you clarify|please clarify|could you tell me more)\b"
)


@dataclass(frozen=True)
class Keys:
    """An item's keys: every ``require`` phrase must appear, no ``forbid`` phrase may; an ``abstain``
    item is right only when the answer declines."""

    require: tuple[str, ...]
    forbid: tuple[str, ...]
    abstain: bool

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Keys:
        return cls(
            require=tuple(str(v) for v in value.get("require", ())),
            forbid=tuple(str(v) for v in value.get("forbid", ())),
            abstain=bool(value.get("abstain", False)),
        )


def abstains(answer: str) -> bool:
    """Whether ``answer`` declines to answer (or asks for clarification) rather than stating a fact."""
    return bool(_ABSTAINS.search(normalize(answer)))


def contains(answer: str, phrase: str) -> bool:
    """Whether ``phrase`` appears in ``answer`` as whole tokens (case and punctuation ignored)."""
    wanted = normalize(phrase)
    return bool(wanted) and f" {wanted} " in f" {normalize(answer)} "


def missing_and_forbidden(answer: str, keys: Keys) -> tuple[list[str], list[str]]:
    """The required phrases the answer lacks and the forbidden ones it states."""
    missing = [key for key in keys.require if not contains(answer, key)]
    stated = [key for key in keys.forbid if contains(answer, key)]
    return missing, stated


def is_right(answer: str, keys: Keys) -> bool:
    """The rule verdict: an abstain item wants a declining answer; any other wants every required
    phrase and no forbidden one (a declining answer to it states neither, so it is wrong)."""
    if keys.abstain:
        return abstains(answer)
    missing, stated = missing_and_forbidden(answer, keys)
    return not missing and not stated
