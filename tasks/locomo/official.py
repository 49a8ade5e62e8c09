"""LoCoMo's official QA score (snap-research/locomo ``task_eval/evaluation.py``), reproduced exactly.

The official scorer gives every question a number in [0, 1] by its category (the file's numbering):

- 1 multi-hop: the answer key and the prediction are split on commas; each key part takes its best
  token F1 against any prediction part, and the item scores the mean over key parts;
- 2 temporal, 4 single-hop: token F1 of the prediction against the key;
- 3 open-domain: token F1 against the key's text before the first ";" (the rest is a rationale);
- 5 adversarial: 1 when the prediction says the information is not available, else 0.

Token F1 compares Porter stems (NLTK's ``PorterStemmer``, as the original) of the normalised texts:
commas removed, lower case, ASCII punctuation removed, the words "a", "an", "the" and "and" removed,
whitespace collapsed. Repeated tokens count as often as both texts hold them.

One addition, and only to category 5: membench's shared readers answer exactly "Unknown" when the
memories do not hold the answer, where the original's multiple-choice prompt made the model pick "Not
mentioned in the conversation". ``says_not_available`` counts that reply too, so an abstaining reader
is scored as the original scores its abstention; any other text is scored by the original's rule.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nltk.stem import PorterStemmer

#: the file's category numbers and the names membench reports them by.
CATEGORIES: dict[int, str] = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}
MULTI_HOP, TEMPORAL, OPEN_DOMAIN, SINGLE_HOP, ADVERSARIAL = 1, 2, 3, 4, 5
#: the phrases the original accepts as "the information is not available" (case ignored).
NOT_AVAILABLE = ("no information available", "not mentioned")
#: the abstention of membench's shared readers (``extractive`` and the LLM reader), see above.
READER_ABSTENTION = "unknown"

_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_PUNCTUATION = frozenset(string.punctuation)


@cache
def _stemmer() -> PorterStemmer:
    """NLTK's Porter stemmer in its default mode, as the original builds it (no data download)."""
    from nltk.stem import PorterStemmer

    return PorterStemmer()


def normalize_answer(text: str) -> str:
    """The original's normalisation, step for step and in its order."""
    text = text.replace(",", "").lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def stem(word: str) -> str:
    """One word's Porter stem ("hobbies" -> "hobbi", "named" -> "name")."""
    return str(_stemmer().stem(word))


def stems(text: str) -> list[str]:
    """The Porter stems of ``text``'s normalised words, repeats kept."""
    return [stem(word) for word in normalize_answer(text).split()]


def token_f1(prediction: str, key: str) -> float:
    """Token F1 of two texts' stems; 0 when they share none (an empty text shares none)."""
    predicted, wanted = stems(prediction), stems(key)
    same = sum((Counter(predicted) & Counter(wanted)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(wanted)
    return 2 * precision * recall / (precision + recall)


def multi_answer_f1(prediction: str, key: str) -> float:
    """Category 1: the mean over the key's comma parts of each part's best F1 against a prediction part."""
    predictions = [part.strip() for part in prediction.split(",")]
    keys = [part.strip() for part in key.split(",")]
    return sum(max(token_f1(p, k) for p in predictions) for k in keys) / len(keys)


def says_not_available(prediction: str) -> bool:
    """Category 5's rule: the prediction says the information is not available (module docstring)."""
    lowered = prediction.lower()
    if any(phrase in lowered for phrase in NOT_AVAILABLE):
        return True
    return normalize_answer(prediction) == READER_ABSTENTION


def official_score(prediction: str, key: str, category: int) -> float:
    """The original's score of one prediction against its answer key, by category."""
    if category == ADVERSARIAL:
        return float(says_not_available(prediction))
    if category == MULTI_HOP:
        return multi_answer_f1(prediction, key)
    if category == OPEN_DOMAIN:
        key = key.split(";")[0].strip()
    if category in CATEGORIES:
        return token_f1(prediction, key)
    raise ValueError(f"LoCoMo has no category {category}")
