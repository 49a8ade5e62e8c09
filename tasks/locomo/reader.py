"""The LoCoMo task's offline reader: answers with the remembered sentences a question's speaker said
that hold every word the question asks about.

LoCoMo questions are about one of the two speakers ("What is the name of Ines's cat?"), and its
adversarial questions bait by asking one speaker about what the other said. The loader starts every
turn with its speaker's name (``"Ines: ..."``), so any stored memory says who spoke. This reader reads
only the question and the retrieved memories (never gold):

1. Each memory's lines lose a leading ``user:``/``assistant:`` (how the baselines store turns) and
   then their speaker's name (``Name:``); the rest is split into sentences
   (``core.text.split_sentences``), each remembered with its speaker.
2. The question's *speakers* are the speakers seen in the memories whose names it contains. When it
   names one, only sentences that speaker said qualify: what the other person said is about them.
3. The *asked words* are the Porter stems (the official scorer's stemmer) of the question's content
   words, less the speakers' names and the words of asking (``ASK_WORDS``). A sentence qualifies only
   if it holds every one, so "What hobbies does Ines have?" takes "One of my hobbies is chess" and
   not "I played chess".
4. The answer is every qualifying sentence, once each, in the order they were said (timestamp, then
   position, then retrieval rank), joined by ", " (the official scorer splits multi-hop answers on
   commas). None qualifies, or nothing was retrieved: ``NOT_MENTIONED``, the original's adversarial
   option, which the official rule scores as declining.

It is right on every item membench's builder writes, given the evidence turns (the builder's
questions repeat the words their evidence says), and it credits a system only for keeping and
retrieving those turns: it neither reasons about time nor infers, so on official data it is a lower
bound, useful to exercise a pipeline, never a score to report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from membench.core.text import ROLE_PREFIX, content_tokens, split_sentences, tokens
from membench.core.types import Memory, Probe
from membench.readers.base import Reader, ReaderAnswer
from membench_tasks.locomo.official import stem

#: the answer when no remembered sentence qualifies.
NOT_MENTIONED = "Not mentioned in the conversation."
#: words that say how a question asks, not what it is about.
ASK_WORDS: frozenset[str] = frozenset(
    {"name", "kind", "type", "recently", "ever", "likely", "year", "date", "day"}
)
_SPEAKER = re.compile(r"^\s*([A-Z][\w'-]*(?: [A-Z][\w'-]*)*):\s+")


@dataclass(frozen=True)
class _Sentence:
    text: str
    speaker: str
    stems: frozenset[str]
    key: tuple[str, int, int, int]


def _sentences(rank: int, memory: Memory) -> list[_Sentence]:
    """The memory's sentences with their speaker ("" when the line names none)."""
    out: list[_Sentence] = []
    for line in memory.text.splitlines():
        line = ROLE_PREFIX.sub("", line, count=1)
        named = _SPEAKER.match(line)
        speaker = named.group(1) if named else ""
        for piece in split_sentences(line[named.end() :] if named else line):
            key = (memory.timestamp or "", memory.position or 0, rank, len(out))
            out.append(_Sentence(piece, speaker, frozenset(map(stem, tokens(piece))), key))
    return out


class TurnMatchReader(Reader):
    """Answer with the sentences the question's speaker said that hold all the asked words."""

    name = "turn-match"
    version = "v1"

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "ask_words": sorted(ASK_WORDS)}

    async def answer(self, probe: Probe, memories: list[Memory]) -> ReaderAnswer:
        return ReaderAnswer(text=self.read(probe.question, memories))

    def read(self, question: str, memories: list[Memory]) -> str:
        """The answer to ``question`` from ``memories`` (best first), or ``NOT_MENTIONED``."""
        sentences = [s for rank, memory in enumerate(memories) for s in _sentences(rank, memory)]
        words = set(tokens(question))
        speakers = {s.speaker for s in sentences if s.speaker and set(tokens(s.speaker)) <= words}
        named = set(tokens(" ".join(speakers)))
        asked = {stem(w) for w in content_tokens(question) if w not in named and w not in ASK_WORDS}
        if not asked:
            return NOT_MENTIONED
        found = [s for s in sentences if (not speakers or s.speaker in speakers) and asked <= s.stems]
        if not found:
            return NOT_MENTIONED
        ordered = sorted(found, key=lambda s: s.key)
        return ", ".join(dict.fromkeys(s.text.rstrip(".!?") for s in ordered))
