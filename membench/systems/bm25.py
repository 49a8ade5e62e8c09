"""A lexical retrieval baseline: every turn (or user/assistant round) stored verbatim, ranked by BM25.

It needs no model and no network, so it is the baseline any learned memory system has to beat on
retrieval, and the default system for offline smoke runs. The index is rebuilt from scratch on the
first query after an ingest: bm25s indexes about 2,000 turns in some 50 ms on one core, far less than
keeping an incremental index correct would cost in code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from membench.core.errors import ConfigError
from membench.core.types import Episode, Memory, Session
from membench.systems.base import Capabilities, MemorySystem
from membench.systems.baselines import TurnLog

if TYPE_CHECKING:
    import bm25s

    from membench.llm.types import LLM

_UNITS = ("turn", "round")


class BM25System(MemorySystem):
    """BM25 over one document per turn (``unit=turn``) or per user turn plus its replies (``unit=round``).

    A document's text is ``"role: content"`` (rounds join their turns with new lines), and its
    provenance is that of its first turn; a round also lists every turn position it covers in
    ``metadata["positions"]``. Retrieval returns at most ``k`` documents with a positive score, best
    first, equal scores in order of position, so two runs rank identically.
    """

    name = "bm25"
    concurrent_retrieval = True  # no await inside: the lazy index rebuild runs once, whole
    capabilities = Capabilities(session_memories=True)
    default_options: ClassVar[Mapping[str, str]] = {"k1": "1.5", "b": "0.75", "unit": "turn"}

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        super().__init__(options, workdir, llm)
        self.k1 = _float_option(self.options, "k1", low=0.0, high=None)
        self.b = _float_option(self.options, "b", low=0.0, high=1.0)
        self.unit = self.options["unit"]
        if self.unit not in _UNITS:
            raise ConfigError(f"option unit must be one of {', '.join(_UNITS)}, got {self.unit!r}")
        self._log = TurnLog()
        self._documents: list[Memory] = []
        # None while nothing indexable is stored (bm25s cannot index a corpus with an empty vocabulary).
        self._index: bm25s.BM25 | None = None
        self._stale = False

    async def reset(self, episode: Episode) -> None:
        self._log.clear()
        self._documents = []
        self._index = None
        self._stale = False

    async def ingest(self, session: Session) -> None:
        self._log.add(session)
        self._stale = True

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        import bm25s

        self._refresh()
        if self._index is None or k <= 0:
            return []
        query_tokens = bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)[0]
        if not query_tokens:
            return []
        scores = self._index.get_scores(query_tokens)
        # Documents are stored in position order, so a stable sort on score alone breaks ties by position.
        ranked = sorted((i for i in range(len(scores)) if scores[i] > 0), key=lambda i: -scores[i])
        return [self._documents[i].model_copy(update={"score": float(scores[i])}) for i in ranked[:k]]

    async def session_memories(self, session: Session) -> list[Memory]:
        """The stored documents (turns or rounds) of ``session``, oldest first."""
        self._refresh()
        return [doc for doc in self._documents if doc.session_id == session.session_id]

    def _refresh(self) -> None:
        """Rebuild the documents and the index if a session was ingested since the last build."""
        if not self._stale:
            return
        import bm25s

        turns = self._log.all()
        self._documents = turns if self.unit == "turn" else _rounds(turns)
        corpus = bm25s.tokenize([doc.text for doc in self._documents], stopwords="en", show_progress=False)
        self._index = None
        if corpus.vocab:
            self._index = bm25s.BM25(k1=self.k1, b=self.b)
            self._index.index(corpus, show_progress=False)
        self._stale = False


def _rounds(turns: list[Memory]) -> list[Memory]:
    """Group turns into rounds: a user turn opens a round, the turns after it in its session join it."""
    groups: list[list[Memory]] = []
    for turn in turns:
        opens_round = (
            not groups
            or groups[-1][0].session_id != turn.session_id
            or str(turn.metadata.get("role", "")).lower() == "user"
        )
        if opens_round:
            groups.append([turn])
        else:
            groups[-1].append(turn)
    return [
        Memory(
            text="\n".join(turn.text for turn in group),
            session_id=group[0].session_id,
            position=group[0].position,
            timestamp=group[0].timestamp,
            metadata={"positions": [turn.position for turn in group]},
        )
        for group in groups
    ]


def _float_option(options: Mapping[str, str], option: str, low: float, high: float | None) -> float:
    try:
        value = float(options[option])
    except ValueError:
        raise ConfigError(f"option {option} must be a number, got {options[option]!r}") from None
    if not math.isfinite(value) or value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"option {option} must be {bounds}, got {options[option]!r}")
    return value
