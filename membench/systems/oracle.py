"""The oracle: a memory that holds exactly the evidence the gold answers rest on, and nothing else.

It is the retrieval upper bound beside no-memory's floor: given a session, it stores the facts the task
says that session establishes (``Task.evidence``: HaluMem's memory points of the user, without the
assistant's distractor claims), one memory each, and ranks them by BM25 as the bm25 baseline does. A
system that scores near the oracle has little left to gain from better retrieval; the gap between
the oracle and 100% is what the reader and the judge lose on perfect memories. It reads gold data
by design, so it is a reference line, never a contender: the runner hands it the evidence before the
first episode and no other system can receive it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from membench.core.errors import ConfigError
from membench.core.types import Memory, Session, Turn
from membench.systems.bm25 import BM25System


class OracleSystem(BM25System):
    """bm25 over the evidence of each ingested session; a fact reads ``user: <fact>``, as stored turns do."""

    name = "oracle"

    def use_evidence(self, evidence: Mapping[str, Sequence[str]]) -> None:
        """The facts each session (by id) establishes, from the task's gold (``Task.evidence``)."""
        self._evidence = evidence

    async def ingest(self, session: Session) -> None:
        evidence = getattr(self, "_evidence", None)
        if evidence is None:
            raise ConfigError("the oracle was given no evidence: the runner hands it Task.evidence first")
        facts = [
            Turn(role="user", content=fact, timestamp=session.start_time)
            for fact in evidence.get(session.session_id, ())
        ]
        await super().ingest(session.model_copy(update={"turns": facts}))

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        """bm25's ranking, without turn positions: a fact's position counts facts, not the session's
        turns, so turn-level evidence (LoCoMo's dialog ids) is matched by the fact's text instead."""
        found = await super().retrieve(query, k)
        return [
            m.model_copy(update={"position": None, "metadata": {**m.metadata, "positions": []}})
            for m in found
        ]
