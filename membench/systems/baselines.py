"""The two reference points every memory system is read against: remembering nothing, and everything.

A real system's numbers mean little alone. ``no-memory`` shows what a reader and judge score when
memory contributes nothing (the floor); ``full-context`` shows what they score when the whole dialogue
is handed over verbatim (the in-context ceiling, as long as the reader's context can hold it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from membench.core.errors import ConfigError
from membench.core.types import Episode, Memory, Session
from membench.llm.types import LLM
from membench.systems.base import Capabilities, MemorySystem


def turn_text(role: str, content: str) -> str:
    """How a stored turn reads as a memory: the role first, so readers can tell who said it."""
    return f"{role}: {content}"


class TurnLog:
    """An episode's turns as Memories with provenance, oldest first.

    ``position`` is the turn's global index in the episode (0-based, counted over every ingested turn,
    including ones later dropped), so positions stay comparable across systems and across
    ``max_turns`` settings. Each memory's ``metadata["role"]`` keeps the speaker for systems that
    regroup turns.
    """

    def __init__(self) -> None:
        self._memories: list[Memory] = []
        self._next_position = 0

    def clear(self) -> None:
        self._memories = []
        self._next_position = 0

    def add(self, session: Session) -> None:
        for turn in session.turns:
            self._memories.append(
                Memory(
                    text=turn_text(turn.role, turn.content),
                    session_id=session.session_id,
                    position=self._next_position,
                    timestamp=turn.timestamp,
                    metadata={"role": turn.role},
                )
            )
            self._next_position += 1

    def keep_last(self, n: int) -> None:
        """Forget all but the ``n`` most recent turns."""
        del self._memories[: max(0, len(self._memories) - n)]

    def all(self) -> list[Memory]:
        return list(self._memories)

    def of_session(self, session_id: str) -> list[Memory]:
        return [memory for memory in self._memories if memory.session_id == session_id]

    def __len__(self) -> int:
        return len(self._memories)


class NoMemorySystem(MemorySystem):
    """Stores nothing and retrieves nothing: the floor.

    Its false-memory rate is perfect (it never states anything false) and its recall is zero, which is
    why FMR must always be read beside recall: a system can look safe just by remembering nothing.
    ``session_memories`` is declared because the answer is honest and exact: nothing was stored.
    """

    name = "no-memory"
    concurrent_retrieval = True  # nothing to read
    capabilities = Capabilities(session_memories=True)

    async def reset(self, episode: Episode) -> None:
        """Nothing to forget."""

    async def ingest(self, session: Session) -> None:
        """Nothing is kept."""

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        return []

    async def session_memories(self, session: Session) -> list[Memory]:
        return []


class FullContextSystem(MemorySystem):
    """Keeps every turn verbatim and returns the whole history for any query: the in-context baseline.

    The runner's ``k`` does not apply: ``retrieve`` returns all kept turns, oldest first, unscored, so
    the reader sees the dialogue as one long context. Option ``max_turns`` bounds that context to the
    most recent N turns (``"0"``, the default, keeps everything), which models a context window that
    truncates from the front.
    """

    name = "full-context"
    concurrent_retrieval = True  # a copy of the log, made without a pause
    capabilities = Capabilities(session_memories=True)
    default_options: ClassVar[Mapping[str, str]] = {"max_turns": "0"}

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        super().__init__(options, workdir, llm)
        self.max_turns = _non_negative_int(self.options["max_turns"], "max_turns")
        self._log = TurnLog()

    async def reset(self, episode: Episode) -> None:
        self._log.clear()

    async def ingest(self, session: Session) -> None:
        self._log.add(session)
        if self.max_turns:
            self._log.keep_last(self.max_turns)

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        return self._log.all()

    async def session_memories(self, session: Session) -> list[Memory]:
        """The kept turns of ``session`` (fewer than it had once ``max_turns`` pushed some out)."""
        return self._log.of_session(session.session_id)


def _non_negative_int(value: str, option: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"option {option} must be a whole number, got {value!r}") from None
    if number < 0:
        raise ConfigError(f"option {option} must be 0 or more, got {value!r}")
    return number
