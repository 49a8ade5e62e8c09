"""The MemorySystem seam: what an adapter must do to be evaluated.

The runner makes one instance per concurrent episode worker and calls ``reset`` before each episode,
so an instance only ever holds one episode's memory. Heavy shared resources (an embedding model)
should be cached at module level by the adapter, not reloaded per instance.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from membench.core.errors import ConfigError, NotSupported
from membench.core.types import Episode, Memory, Session, UsageByRole
from membench.core.urls import public_url
from membench.llm.types import LLM


@dataclass(frozen=True)
class Capabilities:
    """What a system can do beyond ingest and retrieve; declared, never guessed.

    session_memories: it can say what it stored from one session (HaluMem's extraction metrics).
    answers: it can answer a question itself (its ``answer``); ``--reader system`` asks it, and the
        shared reader answers otherwise.
    """

    session_memories: bool = False
    answers: bool = False


class MemorySystem(ABC):
    """Base class for adapters. Subclass, set ``name`` and ``capabilities``, implement four methods."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: option names a user may set with ``-S key=value`` and their defaults.
    default_options: ClassVar[Mapping[str, str]] = {}
    #: what to install when a library the system needs is missing (see ``require_modules``).
    install_hint: ClassVar[str] = ""
    #: how many LLM calls the system makes itself, printed by ``--dry-run`` after "system-side LLM calls: ";
    #: empty for a system that makes none (nothing is printed).
    llm_calls_note: ClassVar[str] = ""

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        unknown = set(options) - set(self.default_options)
        if unknown:
            allowed = ", ".join(sorted(self.default_options)) or "none"
            raise ConfigError(
                f"system '{self.name}' has no option(s) {', '.join(sorted(unknown))}; allowed: {allowed}"
            )
        self.options: dict[str, str] = {**self.default_options, **options}
        self.workdir = workdir
        self.llm = llm

    @classmethod
    def llm_options(cls, model: str, api_base: str | None) -> dict[str, str]:
        """The ``-S`` options that ``--system-llm MODEL [--system-api-base URL]`` stands for.

        Only for systems that declare an ``llm`` option (and ``api_base`` beside it). A system for which
        an LLM also means another setting (mem0's ``mode=llm``) overrides this to add it.
        """
        return {"llm": model, "api_base": api_base or ""}

    def require_modules(self, *modules: str) -> None:
        """Refuse, with the system's ``install_hint``, to be built without the libraries it needs.

        Adapters import heavy libraries only when they use them, so the registry can name every system
        without importing any; this check moves a missing library from the first episode to the start.
        """
        missing = [module for module in modules if importlib.util.find_spec(module) is None]
        if missing:
            hint = f": {self.install_hint}" if self.install_hint else ""
            raise ConfigError(
                f"system '{self.name}' needs {', '.join(missing)}, which is not installed{hint}"
            )

    def identity(self) -> dict[str, Any]:
        """What decides this system's outputs: part of the run identity (no secrets here).

        A URL option keeps its host and path but loses any ``user:password@`` part.
        """
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
        """Answer ``question`` from this episode's memory, the system's own way (its chat endpoint, its
        agent); only if ``capabilities.answers``, and only with ``--reader system``.

        The runner calls it for answer probes after ``retrieve(query, k)``, so the record keeps those
        memories; ``k`` is the task's budget, for a system that lets the caller set one. LLM usage it
        reports through ``take_usage`` is the system's.
        """
        raise NotSupported(f"system '{self.name}' does not answer questions itself")

    def take_usage(self) -> UsageByRole:
        """LLM usage of the system since the last call (role ``system``); empty if it uses none."""
        return {}

    async def close(self) -> None:
        """Release resources at the end of the run (default: nothing to release)."""
        return None
