"""The MemorySystem seam: what an adapter must do to be evaluated.

The runner makes one instance per concurrent episode worker and calls ``reset`` before each episode,
so an instance only ever holds one episode's memory. Heavy shared resources (an embedding model)
should be cached at module level by the adapter, not reloaded per instance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from membench.core.errors import NotSupported
from membench.core.types import Episode, Memory, Session, UsageByRole


@dataclass(frozen=True)
class Capabilities:
    """What a system can do beyond ingest and retrieve; declared, never guessed.

    session_memories: it can say what it stored from one session (HaluMem's extraction metrics).
    answers: it can answer a question itself (otherwise the shared reader answers).
    provenance: its memories carry session id / position / time (SORT's order-aware reader).
    """

    session_memories: bool = False
    answers: bool = False
    provenance: bool = False


class MemorySystem(ABC):
    """Base class for adapters. Subclass, set ``name`` and ``capabilities``, implement four methods."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: option names a user may set with ``-S key=value`` and their defaults.
    default_options: ClassVar[Mapping[str, str]] = {}

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: Any | None = None) -> None:
        unknown = set(options) - set(self.default_options)
        if unknown:
            from membench.core.errors import ConfigError

            allowed = ", ".join(sorted(self.default_options)) or "none"
            raise ConfigError(
                f"system '{self.name}' has no option(s) {', '.join(sorted(unknown))}; allowed: {allowed}"
            )
        self.options: dict[str, str] = {**self.default_options, **options}
        self.workdir = workdir
        self.llm = llm

    def identity(self) -> dict[str, Any]:
        """What decides this system's outputs: part of the run identity (no secrets here).

        A URL option keeps its host and path but loses any ``user:password@`` part.
        """
        from membench.llm.cache import public_url

        options = {k: (public_url(v) or "") if "://" in v else v for k, v in sorted(self.options.items())}
        return {"name": self.name, "options": options}

    def describe(self) -> str:
        """One line for printed results and reports: the system and the options that differ from defaults."""
        changed = [f"{k}={v}" for k, v in sorted(self.options.items()) if v != self.default_options.get(k)]
        return f"{self.name} ({', '.join(changed)})" if changed else self.name

    @abstractmethod
    async def reset(self, episode: Episode) -> None:
        """Forget everything: the next ingest starts a fresh memory for ``episode``."""

    @abstractmethod
    async def ingest(self, session: Session) -> None:
        """Add one session to memory."""

    @abstractmethod
    async def retrieve(self, query: str, k: int) -> list[Memory]:
        """The top ``k`` memories for ``query``, best first."""

    async def session_memories(self, session: Session) -> list[Memory]:
        """What the system stored from ``session``; only if ``capabilities.session_memories``."""
        raise NotSupported(f"system '{self.name}' does not report per-session memories")

    async def answer(self, question: str, k: int) -> str:
        """Answer with the system's own reader; only if ``capabilities.answers``."""
        raise NotSupported(f"system '{self.name}' does not answer questions itself")

    def take_usage(self) -> UsageByRole:
        """LLM usage of the system since the last call (role ``system``); empty if it uses none."""
        return {}

    async def close(self) -> None:
        """Release resources at the end of the run (default: nothing to release)."""
        return None
