"""Text matching shared by HaluMem's rule and lexical judges.

Both judges compare short texts (memories, gold points, answers) without a model, so they need one
agreed notion of "the same words": lower-case alphanumerics separated by single spaces. The rule
judge matches the builder's key phrases on word boundaries of that form (the data contract says so),
the lexical judge counts content tokens (stopwords removed). Keeping both here means a change to
normalisation changes both judges together.

A memory is read through ``memory_text`` first, so that how an adapter formats what it stores (a
speaker label such as ``user:``, a transcript line's ``[time] assistant:``, whitespace, case, quotes)
never changes a verdict: equal content, equal verdict.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_NON_ALNUM = re.compile(r"[\W_]+")

# Function words carry no fact; "user" is here because systems write "The user ..." where the gold
# point names the persona. Contractions are listed as normalisation leaves them ("don't" -> "don t").
_STOPWORD_LIST = """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves s t d ll m re ve user users
"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())

# A speaker label opening a line of a stored memory: "user: ...", "Assistant: ...", the transcript
# form "[Mar 02, 2026, 10:00:00] user: ..." (with or without the space), after optional quotes.
_SPEAKER_LABEL = re.compile(
    r"""^[\s"'`\u2018-\u201f]*(?:\[[^\]\n]*\]\s*)?(?:user|assistant|system)\s*:""",
    re.IGNORECASE | re.MULTILINE,
)

# Phrases that, found anywhere in an answer, mean the answer declines to state the fact.
_ABSTAIN_PHRASES = (
    "unknown",
    "not known",
    "not provided",
    "not mentioned",
    "not specified",
    "not stated",
    "not available",
    "not given",
    "no information",
    "no info",
    "no record",
    "no mention",
    "no data",
    "no details",
    "don t know",
    "do not know",
    "does not know",
    "doesn t know",
    "cannot determine",
    "can t determine",
    "cannot be determined",
    "cannot answer",
    "can t answer",
    "insufficient information",
    "not enough information",
)
# Whole answers that abstain but are too short to search for inside longer answers.
_ABSTAIN_WHOLE = frozenset({"none", "n a", "na", "nothing", "no idea"})


def normalise(text: str) -> str:
    """Lower-case alphanumerics separated by single spaces ("I moved to Lisbon!" -> "i moved to lisbon")."""
    return " ".join(_NON_ALNUM.sub(" ", text.lower()).split())


def memory_text(text: str) -> str:
    """A stored memory as the judges compare it: speaker labels at line starts dropped, then normalised.

    Systems that store turns write who spoke ("user: I moved to Lisbon", bm25 rounds put one such line
    per turn), others store the bare content; both state the same thing and must be judged alike.
    """
    return normalise(_SPEAKER_LABEL.sub(" ", text))


def has_phrase(normalised_text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in an already normalised text on word boundaries.

    A phrase that normalises to nothing never matches: it would otherwise match every text.
    """
    wanted = normalise(phrase)
    return bool(wanted) and f" {wanted} " in f" {normalised_text} "


def phrases_in(text: str, phrases: Iterable[str]) -> list[str]:
    """The phrases of ``phrases`` that ``text`` contains (see ``has_phrase``), in their given order."""
    normalised = normalise(text)
    return [phrase for phrase in phrases if has_phrase(normalised, phrase)]


def abstains(answer: str | None) -> bool:
    """Whether an answer declines to state the fact ("Unknown", "not provided", "I don't know", empty)."""
    normalised = normalise(answer or "")
    if not normalised or normalised in _ABSTAIN_WHOLE:
        return True
    return any(has_phrase(normalised, phrase) for phrase in _ABSTAIN_PHRASES)


def _fold(token: str) -> str:
    """Crude plural folding ("memories" stays, "cats" -> "cat") so number does not break a match."""
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def content_tokens(text: str, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Normalised tokens, plurals folded, without stopwords or ``ignore`` (tokens as this returns them)."""
    folded = (_fold(token) for token in normalise(text).split() if token not in STOPWORDS)
    return [token for token in folded if token not in ignore]


def coverage(gold: Iterable[str], candidate: Iterable[str]) -> float:
    """Share of the distinct gold tokens found in the candidate (0 when there is no gold token)."""
    wanted = set(gold)
    if not wanted:
        return 0.0
    return len(wanted & set(candidate)) / len(wanted)


def overlap(first: Iterable[str], second: Iterable[str]) -> float:
    """Overlap coefficient |A ∩ B| / min(|A|, |B|): high when one text is about the other's subject."""
    a, b = set(first), set(second)
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def token_f1(gold: Iterable[str], candidate: Iterable[str]) -> float:
    """Token-multiset F1 between a gold answer and a candidate (0 when either is empty)."""
    gold_counts, candidate_counts = Counter(gold), Counter(candidate)
    common = sum((gold_counts & candidate_counts).values())
    if common == 0:
        return 0.0
    precision = common / sum(candidate_counts.values())
    recall = common / sum(gold_counts.values())
    return 2 * precision * recall / (precision + recall)
