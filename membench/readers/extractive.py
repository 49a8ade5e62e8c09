"""An offline reader: answers with the one retrieved sentence that best matches the question.

It makes every part of a run work without an LLM (smoke runs, CI, debugging a new system) and gives a
cheap lower bound for LLM readers: if a system's memories let this reader answer, the right sentence
was retrieved. It never paraphrases or combines facts, so its scores are not comparable with an LLM
reader's; runs record its identity so the two are never mixed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from membench.core.errors import ConfigError
from membench.core.text import ROLE_PREFIX, content_tokens, split_sentences
from membench.core.types import Memory, Probe
from membench.readers.base import Reader, ReaderAnswer

#: What the reader says when the memories do not support any answer.
ABSTAIN = "Unknown."
#: Default minimum coverage (see ``ExtractiveReader``) for the reader to answer rather than abstain.
DEFAULT_THRESHOLD = 0.25


@dataclass(frozen=True)
class _Sentence:
    text: str
    words: frozenset[str]
    said_by_assistant: bool
    rank: int
    order: int


class ExtractiveReader(Reader):
    """Pick the retrieved sentence whose words cover most of the question's content words.

    Each memory is split into lines and each line into sentences and semicolon clauses; a line that
    starts with ``user:`` or ``assistant:`` sets the speaker of itself and of the lines after it.
    A sentence scores the summed weight of the question's non-stopword tokens it contains, a token
    weighing ``ln(1 + N / df)`` where ``N`` is the number of memories and ``df`` how many contain it:
    a word every memory shares tells the sentences apart less than a word only one has.

    Ties, in order: a sentence the user said beats one the assistant said (users state facts about
    themselves, while assistant turns are where benchmarks plant plausible distractors; sentences
    with no speaker prefix, such as extracted memories, count as the user's), then the earlier-ranked
    memory, then the earlier sentence.

    The reader abstains (answers ``ABSTAIN``) when there is nothing to read or when the best
    sentence's *coverage* is below ``threshold``: the share of the question's distinct content tokens
    it contains, unweighted. Weights rank sentences against each other, but a word every memory
    shares still answers the question as much as a rare one, so coverage does not use them. The default
    0.25 lets one matching word answer a question with up to four content words ("Where does the user's
    sister live?" has three: user, sister, live). A sentence that shares no word with the question is
    never returned, even at threshold 0.
    """

    name = "extractive"
    version = "v1"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"extractive reader threshold must be between 0 and 1, got {threshold}")
        self.threshold = threshold

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "threshold": self.threshold}

    async def answer(self, probe: Probe, memories: list[Memory]) -> ReaderAnswer:
        return ReaderAnswer(text=self.extract(probe.question, memories))

    def extract(self, question: str, memories: list[Memory]) -> str:
        """The best sentence of ``memories`` (best first) for ``question``, or ``ABSTAIN``."""
        asked = sorted(set(content_tokens(question)))
        sentences = [s for rank, memory in enumerate(memories) for s in _sentences(rank, memory.text)]
        if not asked or not sentences:
            return ABSTAIN
        weight = _weights(asked, sentences, n_memories=len(memories))

        def score(sentence: _Sentence) -> float:
            # Summing in sorted token order gives bit-identical scores to sentences that match the
            # same tokens, so the speaker and rank tie-breaks apply exactly.
            return sum(weight[token] for token in asked if token in sentence.words)

        best = min(sentences, key=lambda s: (-score(s), s.said_by_assistant, s.rank, s.order))
        coverage = len(best.words.intersection(asked)) / len(asked)
        if coverage == 0.0 or coverage < self.threshold:
            return ABSTAIN
        return best.text


def _sentences(rank: int, text: str) -> Iterable[_Sentence]:
    said_by_assistant = False
    order = 0
    for line in text.splitlines():
        prefix = ROLE_PREFIX.match(line)
        if prefix:
            said_by_assistant = prefix.group(1).lower() == "assistant"
            line = line[prefix.end() :]
        for piece in split_sentences(line):
            yield _Sentence(piece, frozenset(content_tokens(piece)), said_by_assistant, rank, order)
            order += 1


def _weights(asked: list[str], sentences: list[_Sentence], n_memories: int) -> dict[str, float]:
    """Inverse document frequency over the retrieved memories of each question token."""
    words_by_memory: dict[int, set[str]] = {}
    for sentence in sentences:
        words_by_memory.setdefault(sentence.rank, set()).update(sentence.words)
    df = Counter(token for words in words_by_memory.values() for token in words)
    return {token: math.log(1.0 + n_memories / max(df[token], 1)) for token in asked}
