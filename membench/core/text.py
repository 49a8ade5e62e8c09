"""Plain-text helpers shared by offline components: tokens, stopwords, sentences.

Lexical readers and judges must agree on what a "word" is, or one of them will see overlap the other
does not; keeping the rules here gives every offline component the same notion of a token.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[^\W_]+")
# A sentence ends at . ! ? (or a closing quote or bracket right after one of them) before
# whitespace, at a semicolon (two clauses joined by ";" each state something on their own), or at a
# line break (chat turns use new lines as sentence breaks without punctuation).
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"')\]])\s+|;\s*|\s*\n\s*")

# Function words that carry no content: articles, pronouns, auxiliaries, prepositions, conjunctions,
# question words, and the fragments contractions leave behind ("user's" -> "user", "s"). Words that are
# also content in chat ("may" the month, "won" the verb) are left out on purpose.
_STOPWORD_LIST = """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing done down during each else ever few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they this
    those through to too under until up upon very was we were what whatever when where whether which while
    who whom whose why will with would yet you your yours yourself yourselves also might must shall
    let lets get got us o s t d ll m re ve y don doesn didn isn aren wasn weren hasn haven hadn
    wouldn shouldn couldn
    """
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_LIST.split())
#: a turn's speaker prefix at the start of a line, as the baselines write stored turns ("user: ...");
#: group 1 is the speaker.
ROLE_PREFIX = re.compile(r"^\s*(user|assistant)\s*:\s*", re.IGNORECASE)


def tokens(text: str) -> list[str]:
    """Lower-case alphanumeric runs of ``text``; punctuation and underscores separate tokens."""
    return _TOKEN.findall(text.lower())


def content_tokens(text: str) -> list[str]:
    """The tokens of ``text`` that are not stopwords, in order, repeats kept."""
    return [token for token in tokens(text) if token not in STOPWORDS]


def normalize(text: str) -> str:
    """``text`` as its tokens joined by single spaces: case, punctuation and spacing no longer matter."""
    return " ".join(tokens(text))


def split_sentences(text: str) -> list[str]:
    """Sentences and semicolon clauses of ``text``, stripped, empty pieces dropped.

    The split is deliberately simple (no abbreviation list): "Dr. Smith" becomes two pieces, which
    costs a lexical reader little, while a tokenizer model would be a heavy dependency for offline use.
    """
    return [piece.strip() for piece in _SENTENCE_BREAK.split(text) if piece.strip()]


def level_order(level: object) -> tuple[int, float, str]:
    """Sort key for category labels: numbers by value ("62" before "125"), then text alphabetically."""
    text = str(level)
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)
