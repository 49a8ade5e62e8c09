"""The MemorySystem seam: what an adapter must do to be evaluated.

The runner makes one instance per concurrent episode worker and calls ``reset`` before each episode,
so an instance only ever holds one episode's memory. Heavy shared resources (an embedding model)
should be cached at module level by the adapter, not reloaded per instance.
"""

from __future__ import annotations

import importlib.util
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from membench.core.errors import ConfigError, NotSupported
from membench.core.suggest import unknown_name
from membench.core.types import Episode, Memory, Session, UsageByRole
from membench.core.urls import public_url
from membench.llm.types import LLM

if TYPE_CHECKING:
    from membench.llm.proxy import LLMProxy

#: the key a library is given for membench's own loopback LLM endpoint (which needs none).
ENDPOINT_PLACEHOLDER_KEY = "membench-no-key"


@dataclass(frozen=True)
class LLMEndpoint:
    """An OpenAI-compatible URL on loopback for a library that must be pointed at a server rather than
    handed a client: every call it makes there is served by the system's ``llm`` (membench's client),
    so it is cached, retried and counted under the ``system`` role like any other LLM call."""

    base_url: str
    model: str
    api_key: str = ENDPOINT_PLACEHOLDER_KEY


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
    #: None: the system runs in membench's own environment, in process. A name: it runs as a worker
    #: process in the environment ``membench systems install NAME`` makes from the pinned requirements
    #: ``membench/systems/envs/NAME.txt`` (its libraries conflict with membench's, or each other's).
    environment: ClassVar[str | None] = None
    #: the modules whose presence (in the system's environment) means it is installed.
    modules: ClassVar[tuple[str, ...]] = ()
    #: environment variables that must be set for it to run (a hosted service's API key); without
    #: them it is "not configured" in ``membench systems list`` and refused by ``membench run``.
    required_env: ClassVar[tuple[str, ...]] = ()
    #: what it needs beyond its packages, one phrase for ``membench systems list`` ("an LLM endpoint
    #: (--system-llm)", "a Letta server (-S base_url)"); empty when it runs offline as installed.
    needs: ClassVar[str] = ""
    #: True promises that ``retrieve``, ``session_memories`` and ``answer`` do not change the memory
    #: and may run at once on one instance (in coroutines of one loop, and in threads if they use
    #: any): the runner then overlaps the system calls of the probes due after the same session
    #: (``--max-probes``). False (the default, and right for a worker process, whose pipe answers one
    #: request at a time) makes the runner call them one at a time per instance, in probe order.
    concurrent_retrieval: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        options = self.implied_options(options)
        unknown = sorted(set(options) - set(self.default_options))
        if unknown:
            what, hint = f"{self.name} option", "membench list systems"
            errors = [unknown_name(what, key, self.default_options, hint) for key in unknown]
            raise ConfigError("; ".join(errors))
        self.options: dict[str, str] = {**self.default_options, **options}
        self.workdir = workdir
        self.llm = llm
        self._endpoint: LLMEndpoint | None = None
        self._proxy: LLMProxy | None = None
        self.check_options()

    def check_options(self) -> None:
        """Refuse option values the system cannot run with (a ConfigError naming the option), before
        any work. For a system run in a worker this runs in the parent too, at the start, so it must
        read only ``self.options`` and constants (default: every value is accepted)."""
        return None

    @classmethod
    def not_configured(cls) -> str | None:
        """Why the system cannot run as configured (the environment variables it lacks), or None."""
        missing = [name for name in cls.required_env if not os.environ.get(name)]
        return f"set {', '.join(missing)}" if missing else None

    @classmethod
    def implied_options(cls, options: Mapping[str, str]) -> Mapping[str, str]:
        """``options`` with what they imply filled in (mem0: ``llm=MODEL`` alone means ``mode=llm``).

        Applied before anything reads them, here and in a worker's stand-in for the adapter alike, so
        both see, and the run identity records, the same options.
        """
        return options

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

    async def settle(self) -> None:
        """Wait until everything ingested so far can be retrieved (default: at once).

        A hosted system that indexes asynchronously waits here, polling its own status, so a probe is
        never asked of a half-built memory. The runner times it apart from ``ingest`` (``ingest.jsonl``
        keeps ``index_wait_s`` beside the add time).
        """
        return None

    async def llm_endpoint(self) -> LLMEndpoint:
        """The loopback endpoint serving this system's ``llm``, started on first use (see LLMEndpoint).

        For a library that takes a base URL (MemOS, LangMem's chat model, A-Mem, cognee). In a worker
        process the parent's endpoint is handed in, so the calls are still counted by the parent.
        """
        if self._endpoint is None:
            if self.llm is None:
                raise ConfigError(f"system '{self.name}' needs an LLM here: --system-llm MODEL")
            from membench.llm.proxy import LLMProxy

            self._proxy = LLMProxy(self.llm)
            base_url = await self._proxy.start()
            self._endpoint = LLMEndpoint(base_url, self.options.get("llm", ""), api_key=self._proxy.token)
        return self._endpoint

    def use_llm_endpoint(self, endpoint: LLMEndpoint) -> None:
        """Serve ``llm_endpoint`` from ``endpoint`` (a worker process is handed its parent's)."""
        self._endpoint = endpoint

    async def release_llm_endpoint(self) -> None:
        """Stop the endpoint ``llm_endpoint`` started, if any (the runner calls it after ``close``)."""
        proxy, self._proxy = self._proxy, None
        if proxy is not None:
            await proxy.close()

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
        """LLM usage of the system since the last call (role ``system``); empty if it uses none.

        The default counts the calls served through ``llm_endpoint``; an adapter that calls ``llm``
        directly counts its own (and adds these, if it uses both).
        """
        usage = self._proxy.take_usage() if self._proxy is not None else None
        return {"system": usage} if usage is not None and usage.calls else {}

    async def close(self) -> None:
        """Release resources at the end of the run (default: nothing to release)."""
        return None
