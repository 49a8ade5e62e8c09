"""The "did you mean ...?" of every unknown-name error: the known names closest to a mistyped one.

One rule for every kind of name (task, system, reader, judge, task option), so a typo is answered the
same way wherever it is made: up to three known names at least 70% similar (difflib's ratio), the
closest first.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: at most this many suggestions: more is a list to read, not a correction.
MAX_SUGGESTIONS = 3
#: difflib's similarity ratio a known name needs to be offered: 'halumen' ~ 'halumem' is 0.86, 'bm52' ~
#: 'bm25' 0.75, 'memso' ~ 'memos' 0.8 but ~ 'mem0' 0.67 (difflib's default of 0.6 offers both).
CUTOFF = 0.7


def close_matches(name: str, known: Iterable[str]) -> list[str]:
    """The known names closest to ``name``, best first (case-insensitive)."""
    by_folded: dict[str, str] = {}
    for candidate in known:
        by_folded.setdefault(candidate.lower(), candidate)
    if name.lower() in by_folded:  # only the case differs: that is the one meant
        return [by_folded[name.lower()]]
    found = difflib.get_close_matches(name.lower(), list(by_folded), n=MAX_SUGGESTIONS, cutoff=CUTOFF)
    return [by_folded[match] for match in found]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"did you mean 'a'?"`` or ``"did you mean 'a' or 'b'?"``, or "" when nothing is close."""
    matches = close_matches(name, known)
    if not matches:
        return ""
    quoted = [f"'{match}'" for match in matches]
    choices = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"did you mean {choices}?"


def unknown_name(what: str, name: str, known: Iterable[str], hint: str, also: Iterable[str] = ()) -> str:
    """The one-line error for an unknown name: the suggestion when one is close, else every known name;
    ``hint`` (a command that lists them) ends the line in parentheses. ``also`` are names offered as
    suggestions but resolved elsewhere (a task's own readers and judges), so they are not listed.

    ``unknown task 'halumen'; did you mean 'halumem'? (membench list tasks)``
    """
    names = sorted(set(known))
    suggestion = did_you_mean(name, [*names, *also])
    middle = suggestion or f"known: {', '.join(names) or 'none'}"
    return f"unknown {what} '{name}'; {middle} ({hint})"
