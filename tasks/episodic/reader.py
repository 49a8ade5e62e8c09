"""An offline reader for questions that name things and ask about every event that involves them.

"Which events did Ezra Edwards attend at Harbor Lighthouse?" is answered by finding every event (a
session of the episode: one book chapter, one conversation) that mentions *all* the names the
question gives, then reporting what those events say. The extractive reader cannot do this: it returns
one sentence, so it never lists several events, and it fails whenever the names and the answer sit in
different sentences of the same event. This reader reads only the question and the retrieved memories
(never gold) and needs the system's provenance (``Memory.session_id``) to tell events apart.

Rules, in order:

1. The question's *names* are its dates ("September 13, 2025") and its runs of capitalised words
   ("Ezra Edwards", "Harbor Lighthouse"), a possessive "'s" dropped. The first word of each sentence
   is capitalised as a sentence start, not as a name ("Provide a list ...", as the official release's
   templates write their second sentence), so it never starts a run. A question with no names is
   handed to the extractive reader.
2. Retrieved memories are grouped by session (a memory without a session is a group of its own); a
   group matches when its joined text contains every name (case, punctuation and spacing ignored).
3. No group matches: the reader says ``NO_INFORMATION``. Otherwise it answers with the text of the
   matching groups, ordered by their timestamps when the system kept them (story or conversation time),
   else by retrieval rank; a question asking for the most recent/latest/last event gets only the
   group with the latest timestamp (all groups when no timestamps are known: it cannot tell). An
   order question that says "from earliest to latest" (the release's wording) wants every event.

The answer is the matching passages themselves, not a short phrase: judges that look for which items
an answer states (closed-vocabulary matchers, LLM judges with an item rubric) score it; judges that
want one short answer will not. It shows what the memories contain when read exhaustively, so it
credits a system for retrieving every passage an answer needs and nothing about reasoning.

Each group's normalised text is kept for the episode (by the group's text, so a changed group is
normalised again): a full-context system hands every probe the whole history, and normalising it
again for every probe was a fifth of such a run.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

from membench.core.text import normalize
from membench.core.types import Memory, Probe
from membench.readers.base import Reader, ReaderAnswer
from membench.readers.extractive import ExtractiveReader

NO_INFORMATION = "No information."
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = re.compile(rf"\b(?:{_MONTHS}) \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}\b")
_CAPITALISED_RUN = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")
_LATEST = re.compile(r"\b(most recent(ly)?|latest|last)\b", re.IGNORECASE)
_EARLIEST_TO_LATEST = re.compile(r"\bearliest to latest\b", re.IGNORECASE)
#: the first word of the question and of every later sentence.
_SENTENCE_FIRST_WORD = re.compile(r"(\A\s*|[.?!]\s+)(\S+)")
_POSSESSIVE = re.compile(r"'s$")
#: episodes whose normalised groups are kept: episodes run side by side, and each holds a book's text.
CACHED_EPISODES = 8


def question_names(question: str) -> list[str]:
    """Dates and capitalised runs of ``question`` (a sentence's first word never starts a run)."""
    dates = _DATE.findall(question)
    rest = _DATE.sub(" ", question)
    rest = _SENTENCE_FIRST_WORD.sub(lambda m: m.group(1) + " " * len(m.group(2)), rest)
    runs = (_POSSESSIVE.sub("", m.group(0)) for m in _CAPITALISED_RUN.finditer(rest))
    return list(dict.fromkeys([*dates, *runs]))


class SessionMatchReader(Reader):
    """Answer with every retrieved event (session) that mentions all of the question's names."""

    name = "session-match"
    version = "v1"

    def __init__(self) -> None:
        self._fallback = ExtractiveReader()
        #: per episode, the normalised form of each group text met (the most recent episodes only).
        self._normalised: OrderedDict[str, dict[str, str]] = OrderedDict()

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "fallback": self._fallback.identity()}

    async def answer(self, probe: Probe, memories: list[Memory]) -> ReaderAnswer:
        return ReaderAnswer(text=self.read(probe.question, memories, self._episode(probe.episode_id)))

    def _episode(self, episode_id: str) -> dict[str, str]:
        """The episode's normalised group texts, made the most recent (the oldest beyond
        ``CACHED_EPISODES`` dropped)."""
        cache = self._normalised.pop(episode_id, {})
        self._normalised[episode_id] = cache
        while len(self._normalised) > CACHED_EPISODES:
            self._normalised.popitem(last=False)
        return cache

    def read(self, question: str, memories: list[Memory], normalised: dict[str, str] | None = None) -> str:
        """The answer; ``normalised`` keeps each group text's normalised form across calls."""
        names = question_names(question)
        if not names:
            return self._fallback.extract(question, memories)
        groups: dict[str, list[Memory]] = {}
        for rank, memory in enumerate(memories):
            groups.setdefault(memory.session_id or f"memory-{rank}", []).append(memory)
        wanted = [f" {normalize(n)} " for n in names]
        cache = {} if normalised is None else normalised

        def text_of(group: list[Memory]) -> str:
            joined = " ".join(m.text for m in group)
            if joined not in cache:
                cache[joined] = f" {normalize(joined)} "
            return cache[joined]

        matching = [group for group in groups.values() if all(w in text_of(group) for w in wanted)]
        if not matching:
            return NO_INFORMATION
        timed = all(group[0].timestamp for group in matching)
        if timed:
            matching.sort(key=lambda group: str(group[0].timestamp))  # stable: rank breaks ties
            if _LATEST.search(_EARLIEST_TO_LATEST.sub(" ", question)):
                matching = matching[-1:]
        return "\n".join(" ".join(m.text for m in group) for group in matching)
