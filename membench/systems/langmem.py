"""The LangMem adapter: LangMem (langmem 0.0.30) on a langgraph ``InMemoryStore``, raw or with LLM extraction.

Modes (option ``mode``):

* ``raw`` (default, offline): every turn is stored verbatim (``"role: content"``, as the baselines store
  it) in the store, one item per turn, embedded with the packaged MiniLM. No LLM is called, so this
  measures LangMem's store and its semantic search alone.
* ``llm``: LangMem's ``create_memory_store_manager``, one manager invoke per session: LangMem searches
  the store for related memories and asks a tool-calling chat model (LangChain's ``ChatOpenAI``) to
  insert new memories or patch existing ones (trustcall's ``Memory`` and ``PatchDoc`` tools). The chat
  model is pointed at ``llm_endpoint()``, so its calls are served by membench's LLMClient: cached,
  retried and counted under the ``system`` role. ``llm`` is a litellm model string, ``api_base`` an
  optional OpenAI-compatible server, as for mem0.

Each episode gets a fresh store and the namespace ``("memories", <episode user>)``. The store lives in
memory; the only file is the embedding cache in ``workdir``, so a resumed run does not embed its turns
again. LangSmith tracing is forced off before LangChain is first imported (an exported
``LANGSMITH_TRACING=true`` would send every conversation to LangSmith's servers), and each invoke also
runs in a tracing context that is off, in case something read the variable earlier.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from membench.core.env import apply_offline_env
from membench.core.errors import ConfigError
from membench.core.types import Episode, Memory, Session
from membench.core.urls import public_url
from membench.llm.types import LLM
from membench.systems.base import Capabilities, MemorySystem
from membench.systems.baselines import TurnLog
from membench.systems.embedding import (
    DEFAULT_EMBEDDER,
    DEFAULT_EMBEDDER_MODULE,
    EmbeddingCache,
    LocalEmbedder,
    load_local_embedder,
    local_model_path,
    model_fingerprint,
)

MODES = ("raw", "llm")
#: the namespace's first label; the second is the episode's user.
NAMESPACE_ROOT = "memories"
#: LangSmith reads these (with LANGCHAIN_ as well as LANGSMITH_ prefixes) to decide whether to trace.
_TRACING_VARIABLES = (
    "LANGSMITH_TRACING",
    "LANGSMITH_TRACING_V2",
    "LANGCHAIN_TRACING",
    "LANGCHAIN_TRACING_V2",
)
#: langgraph namespace labels may not contain periods; anything outside this set is replaced.
_UNSAFE_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_:@-]")

_IMPORT_LOCK = threading.Lock()


def _tracing_off() -> None:
    """Force LangSmith tracing off in this process (before LangChain reads the variables)."""
    with _IMPORT_LOCK:
        apply_offline_env()
        for variable in _TRACING_VARIABLES:
            os.environ[variable] = "false"


def episode_user(episode_id: str) -> str:
    """A namespace label for an episode's user: readable, period-free, and unique thanks to a short hash."""
    digest = hashlib.sha256(episode_id.encode()).hexdigest()[:8]
    return f"{_UNSAFE_LABEL_CHARS.sub('_', episode_id)[:64]}-{digest}"


def memory_text(value: Mapping[str, Any]) -> str:
    """The text of a memory LangMem's manager stored: ``{"kind": "Memory", "content": {"content": ...}}``.

    A schema other than LangMem's ``Memory`` has no single text field; its fields are given as JSON.
    """
    content = value.get("content")
    if isinstance(content, Mapping) and isinstance(content.get("content"), str):
        return str(content["content"])
    return json.dumps(content, sort_keys=True, ensure_ascii=False)


class _Embed:
    """The store's ``embed`` function: the local MiniLM through the on-disk embedding cache."""

    def __init__(self, embedder: LocalEmbedder, cache: EmbeddingCache) -> None:
        self.embedder = embedder
        self.cache = cache

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = self.cache.embed(self.embedder, texts).tolist()
        return vectors


class LangMemSystem(MemorySystem):
    """LangMem's store with one put per turn (``raw``) or one memory-manager invoke per session (``llm``)."""

    name = "langmem"
    capabilities = Capabilities(session_memories=True)
    install_hint = "install a CPU build of torch first, then pip install 'membench[langmem]'"
    modules = ("langmem", "langgraph", "sentence_transformers", DEFAULT_EMBEDDER_MODULE)
    needs = "a tool-calling LLM (--system-llm) for mode=llm only"
    llm_calls_note = (
        "one tool-calling extraction call per ingested session in llm mode (more when trustcall repairs "
        "invalid arguments), none in raw mode"
    )
    default_options: ClassVar[Mapping[str, str]] = {"mode": "raw", "llm": "", "api_base": ""}

    @classmethod
    def implied_options(cls, options: Mapping[str, str]) -> Mapping[str, str]:
        if options.get("llm") and "mode" not in options:
            return {**options, "mode": "llm"}  # -S llm=MODEL alone asks for LLM extraction
        return options

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        super().__init__(options, workdir, llm)
        self.mode = self.options["mode"]
        chat_model = ("langchain_openai",) if self.mode == "llm" else ()
        self.require_modules(*self.modules, *chat_model)
        local_model_path(DEFAULT_EMBEDDER)  # a missing model fails here, before any episode runs
        self._embed: _Embed | None = None
        self._store: Any = None  # a langgraph InMemoryStore once reset built it
        self._manager: Any = None  # LangMem's MemoryStoreManager over that store (llm mode)
        self._chat_model: Any = None  # LangChain's ChatOpenAI on the LLM endpoint (llm mode)
        self._namespace: tuple[str, str] | None = None
        self._log = TurnLog()
        self._stored: dict[str, list[Memory]] = {}
        self._origin: dict[str, str] = {}  # store key -> the session that last wrote it (llm mode)
        if self.mode == "llm" and self.llm is None:
            # Built directly (not by the runner): an uncached client of the configured model.
            from membench.llm.client import LLMClient

            self.llm = LLMClient(
                self.options["llm"], role="system", api_base=self.options["api_base"] or None
            )

    @classmethod
    def llm_options(cls, model: str, api_base: str | None) -> dict[str, str]:
        """An LLM for LangMem means its memory manager: ``--system-llm MODEL`` is ``-S mode=llm -S llm=MODEL``
        (``api_base`` beside it)."""
        return {**super().llm_options(model, api_base), "mode": "llm"}

    def check_options(self) -> None:
        if self.options["mode"] not in MODES:
            mode = self.options["mode"]
            raise ConfigError(f"langmem: mode must be one of {', '.join(MODES)}, got {mode!r}")
        if self.options["mode"] == "llm" and not self.options["llm"]:
            raise ConfigError("langmem: mode=llm needs llm=<litellm model>, e.g. llm=openai/gpt-4o-mini")
        if self.options["mode"] == "raw" and (self.options["llm"] or self.options["api_base"]):
            raise ConfigError("langmem: llm and api_base are only used with mode=llm (raw mode calls no LLM)")

    def identity(self) -> dict[str, Any]:
        return {
            **super().identity(),
            "langmem": importlib.metadata.version("langmem"),
            "embedder": model_fingerprint(DEFAULT_EMBEDDER),
        }

    def describe(self) -> str:
        if self.mode == "raw":
            how = "raw mode: turns stored verbatim, no LLM"
        else:
            at = f" at {public_url(self.options['api_base'])}" if self.options["api_base"] else ""
            how = f"llm mode: memory store manager, tool-calling extraction by {self.options['llm']}{at}"
        version = importlib.metadata.version("langmem")
        return f"langmem {version}, {how}; embedder packaged MiniLM (local); langgraph InMemoryStore"

    # ------------------------------------------------------------ the MemorySystem seam

    async def reset(self, episode: Episode) -> None:
        if self._embed is None:
            embedder = await asyncio.to_thread(load_local_embedder, DEFAULT_EMBEDDER)
            self._embed = _Embed(embedder, EmbeddingCache(self.workdir / "embeddings.sqlite"))
        if self.mode == "llm" and self._chat_model is None:
            self._chat_model = await self._build_chat_model()
        self._namespace = (NAMESPACE_ROOT, episode_user(episode.episode_id))
        self._store, self._manager = await asyncio.to_thread(self._build_store, self._embed, self._namespace)
        self._log.clear()
        self._stored = {}
        self._origin = {}

    async def _build_chat_model(self) -> Any:
        endpoint = await self.llm_endpoint()
        _tracing_off()
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        # No retries here: membench's client behind the endpoint has retried already, and the endpoint
        # answers its failures as not retryable. Chat Completions only: the endpoint serves no other API.
        return ChatOpenAI(
            model=endpoint.model,
            base_url=endpoint.base_url,
            api_key=SecretStr(endpoint.api_key),
            max_retries=0,
            use_responses_api=False,
        )

    def _build_store(self, embed: _Embed, namespace: tuple[str, str]) -> tuple[Any, Any]:
        """A fresh store (and, in llm mode, LangMem's manager writing to ``namespace`` in it)."""
        _tracing_off()
        from langgraph.store.base import IndexConfig
        from langgraph.store.memory import InMemoryStore

        # Raw items are {"content": text}; the manager's are {"kind": "Memory", "content": {"content": text}}:
        # either way only the memory's own words are embedded.
        field = "content" if self.mode == "raw" else "content.content"
        index: IndexConfig = {"dims": embed.embedder.dim, "embed": embed, "fields": [field]}
        store = InMemoryStore(index=index)
        if self.mode == "raw":
            return store, None
        from langmem import create_memory_store_manager

        return store, create_memory_store_manager(self._chat_model, namespace=namespace, store=store)

    async def ingest(self, session: Session) -> None:
        store, namespace = self._ready()
        if self.mode == "raw":
            before = len(self._log)
            self._log.add(session)
            await asyncio.to_thread(self._put_turns, store, namespace, self._log.all()[before:])
            return
        messages = [{"role": turn.role, "content": turn.content} for turn in session.turns]
        if not messages:  # an empty session would still cost an extraction call
            return
        puts = await self._manage(messages)
        stored = [
            Memory(
                text=memory_text(put["value"]),
                session_id=session.session_id,
                timestamp=session.start_time,
                metadata={"key": put["key"], "kind": put["value"].get("kind")},
            )
            for put in puts
        ]
        self._stored.setdefault(session.session_id, []).extend(stored)
        self._origin.update({put["key"]: session.session_id for put in puts})

    def _put_turns(self, store: Any, namespace: tuple[str, str], turns: list[Memory]) -> None:
        """One item per turn, put one at a time after embedding the session in one pass.

        Not one ``store.batch`` of all the puts: langgraph's InMemoryStore embeds each distinct text of a
        batch once but then expects one vector per item, so a session that says "Noted." twice fails.
        Embedding the session first puts every vector in the cache, where each put then finds its own.
        """
        if self._embed is None:
            raise RuntimeError("langmem: reset(episode) must be called before ingest")
        self._embed([turn.text for turn in turns])
        for turn in turns:
            value = {
                "content": turn.text,
                "session_id": turn.session_id,
                "position": turn.position,
                "timestamp": turn.timestamp,
                "role": turn.metadata["role"],
            }
            store.put(namespace, f"turn-{turn.position}", value)

    async def _manage(self, messages: list[dict[str, str]]) -> list[dict[str, Any]]:
        """One manager invoke over ``messages``: the items it wrote (new memories and patched ones).

        A call that failed in membench's client reaches here as the chat model's API error; it is raised
        as that ``LLMError`` again, so the record keeps its kind and attempts.
        """
        from membench.llm.proxy import llm_error_of, run_in_own_thread

        try:  # not asyncio.to_thread: the endpoint's own path needs the default executor's threads
            return await run_in_own_thread(self._invoke, messages)
        except Exception as exc:
            mapped = llm_error_of(exc)
            if mapped is None:
                raise
            raise mapped from None  # the chained library error could quote the request

    def _invoke(self, messages: list[dict[str, str]]) -> list[dict[str, Any]]:
        from langsmith import tracing_context

        store, _ = self._ready()
        with tracing_context(enabled=False):
            puts: list[dict[str, Any]] = self._manager.invoke({"messages": messages})
        # The synchronous manager hands its writes to a thread pool and never looks at their outcome, so
        # a write that failed (its embedding, say) would vanish silently: check that each one landed.
        for put in puts:
            item = store.get(tuple(put["namespace"]), put["key"])
            if item is None or item.value != put["value"]:
                raise RuntimeError(
                    f"langmem: the manager's write of memory {put['key']} did not reach the store"
                )
        return puts

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        store, namespace = self._ready()
        if k <= 0:
            return []
        items = await asyncio.to_thread(store.search, namespace, query=query, limit=k)
        return [self._memory(item) for item in items]

    def _memory(self, item: Any) -> Memory:
        value = item.value
        if self.mode == "raw":
            return Memory(
                text=value["content"],
                score=item.score,
                session_id=value["session_id"],
                position=value["position"],
                timestamp=value["timestamp"],
                metadata={"role": value["role"], "key": item.key},
            )
        return Memory(
            text=memory_text(value),
            score=item.score,
            session_id=self._origin.get(item.key),
            metadata={"key": item.key, "kind": value.get("kind")},
        )

    async def session_memories(self, session: Session) -> list[Memory]:
        """What was stored from ``session``: its turns (raw), or what the manager wrote in its invoke (llm),
        as it wrote it (a later session may patch a memory again)."""
        if self.mode == "raw":
            return self._log.of_session(session.session_id)
        return list(self._stored.get(session.session_id, []))

    async def close(self) -> None:
        embed, self._embed = self._embed, None
        if embed is not None:
            embed.cache.close()
        self._store = self._manager = None

    def _ready(self) -> tuple[Any, tuple[str, str]]:
        if self._store is None or self._namespace is None:
            raise RuntimeError("langmem: reset(episode) must be called before ingest or retrieve")
        return self._store, self._namespace
