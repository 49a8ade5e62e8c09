"""The ConvoMem task's offline reader: answers with the remembered sentences that state what is asked.

ConvoMem questions name what they are about ("What is the budget code for Project Falcon?", "Which
cities are on the shortlist for the Falcon Offsite?") and ask for one attribute of it. This reader
reads only the question and the retrieved memories (never gold) and applies these rules:

1. The question's *names* are its capitalised runs and dates (the episodic reader's rule, so both
   tasks agree on what a name is), without the pronoun "I". A sentence that lacks one of them is
   about something else, however many words it shares with the question: that is what tells the
   evidence from filler that states the same attribute of another subject (another project's budget
   code).
2. The *asked words* are the question's other content words, less the words of asking
   (``ASK_WORDS``: "recommend", "current", ...), which a statement of the fact need not repeat. A
   sentence that has every name must also hold at least ``MIN_COVERAGE`` of the asked words: one
   that names the subject but none of what is asked ("Project Falcon came up in the sync") says
   nothing about it, which is how abstention questions end in ``ABSTENTION``.
3. Memories are split into sentences (``core.text.split_sentences``) after a leading ``user:`` or
   ``assistant:`` is stripped from each line (how ``TurnLog`` writes turns), so the answer quotes
   what was said, not who said it.
4. No sentence qualifies: the reader says ``ABSTENTION``. Nothing to read is the same case, so a
   system that remembers nothing is right only where the right answer is to decline.
5. A question about the present ("current", "now", "currently", "latest") gets the qualifying sentence
   said last: later statements of an attribute replace earlier ones (changing facts). "Last" is by
   the memories' provenance: timestamp (ISO strings of one form, which order as text), then
   position, then retrieval rank and sentence order. Unless every qualifying memory has a timestamp
   or every one has a position, the reader cannot tell which came last and states them all.
6. Any other question gets every qualifying sentence, in time order when the provenance allows it,
   each once: aggregation questions need every message ("which cities ..."), and a fact stated once
   is one sentence anyway.

The answer is the sentences themselves, so a judge that checks which values an answer states (the
exact rule judge with ``membench_keys``) scores it. It credits a system for keeping and retrieving the
evidence, and the latest evidence for changing facts, and nothing about reasoning: preference and
implicit-connection answers quote the stated conditions rather than recommend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from membench.core.text import ROLE_PREFIX, content_tokens, normalize, split_sentences, tokens
from membench.core.types import Memory, Probe
from membench.readers.base import Reader, ReaderAnswer
from membench_tasks.convomem.keys import ABSTENTION
from membench_tasks.episodic.reader import question_names

#: words that say what is asked for rather than what it is about; statements need not contain them.
ASK_WORDS: frozenset[str] = frozenset(
    {"recommend", "suggest", "propose", "current", "currently", "latest", "remind", "tell", "know"}
)
#: the share of the asked words a sentence must hold (rule 2).
MIN_COVERAGE = 0.5

_PRESENT = re.compile(r"\b(current|currently|now|latest|most recent|at the moment)\b", re.IGNORECASE)
#: the pronoun "I" and its contractions, which a capitalised run can be without being a name.
_PRONOUN = frozenset({"i", "i m", "i d", "i ll", "i ve"})


@dataclass(frozen=True)
class _Sentence:
    text: str
    memory: Memory
    rank: int
    order: int


def subject_names(question: str) -> list[str]:
    """The names of ``question`` (rule 1), normalised: ``["project falcon"]``."""
    names = (normalize(name) for name in question_names(question))
    return [name for name in names if name and name not in _PRONOUN]


def _sentences(rank: int, memory: Memory) -> list[_Sentence]:
    lines = (ROLE_PREFIX.sub("", line, count=1) for line in memory.text.splitlines())
    pieces = [piece for line in lines for piece in split_sentences(line)]
    return [_Sentence(piece, memory, rank, order) for order, piece in enumerate(pieces)]


def _has_all(text: str, names: list[str]) -> bool:
    padded = f" {normalize(text)} "
    return all(f" {name} " in padded for name in names)


def _in_time_order(sentences: list[_Sentence]) -> list[_Sentence] | None:
    """``sentences`` ordered by provenance (rule 5), or None when some memory has none to order by."""
    timed = all(s.memory.timestamp is not None for s in sentences)
    placed = all(s.memory.position is not None for s in sentences)
    if not (timed or placed):
        return None

    def key(s: _Sentence) -> tuple[str, int, int, int]:
        timestamp = s.memory.timestamp if timed and s.memory.timestamp is not None else ""
        position = s.memory.position if placed and s.memory.position is not None else 0
        return (timestamp, position, s.rank, s.order)

    return sorted(sentences, key=key)


class FactMatchReader(Reader):
    """Answer with the retrieved sentences that name the question's subject and hold what it asks."""

    name = "fact-match"
    version = "v1"

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "min_coverage": MIN_COVERAGE}

    async def answer(self, probe: Probe, memories: list[Memory]) -> ReaderAnswer:
        return ReaderAnswer(text=self.read(probe.question, memories))

    def read(self, question: str, memories: list[Memory]) -> str:
        """The answer to ``question`` from ``memories`` (best first), or ``ABSTENTION``."""
        names = subject_names(question)
        asked = set(content_tokens(question)) - set(tokens(" ".join(names))) - ASK_WORDS
        if not names and not asked:
            return ABSTENTION
        found: list[_Sentence] = []
        for rank, memory in enumerate(memories):
            if not _has_all(memory.text, names):  # cheap: most memories name another subject
                continue
            for sentence in _sentences(rank, memory):
                if not _has_all(sentence.text, names):
                    continue
                held = asked.intersection(content_tokens(sentence.text))
                if asked and len(held) / len(asked) < MIN_COVERAGE:
                    continue
                found.append(sentence)
        if not found:
            return ABSTENTION
        ordered = _in_time_order(found)
        if ordered is not None and _PRESENT.search(question):
            return ordered[-1].text
        return "\n".join(dict.fromkeys(s.text for s in ordered or found))
