"""The MemOS adapter: the real ``memos`` GeneralTextMemory (MemoryOS 2.0.x) in its own environment.

MemOS pins openai<2 and transformers<5, which membench's own environment cannot hold, so it runs as
a worker in the venv ``membench systems install memos`` makes (``environment = "memos"``); this module
may therefore import only what needs nothing beyond that venv: ``membench.core``, ``membench.systems.base``
and ``.embedding``, and (for its errors) ``membench.llm.proxy``, which is standard library only.

GeneralTextMemory is MemOS's plain textual memory: items embedded by MemOS's ``sentence_transformer``
embedder (the packaged MiniLM, loaded by path) in a qdrant collection, searched by cosine similarity.
Modes (option ``mode``):

* ``raw`` (default): every user and assistant turn is added verbatim as one item; no LLM is called.
  MemOS still builds its extractor's openai client, so it gets one aimed at a closed port on loopback
  that would fail at once if anything called it.
* ``extract``: MemOS's own ``extract`` (its SIMPLE_STRUCT_MEM_READER prompt, one LLM call per session)
  turns the session into memories, which are then added. Its ``openai`` backend is pointed at the
  run's ``llm_endpoint``, so the calls are membench's: cached, retried and counted.

GeneralTextMemory has no users, so each episode gets its own collection in this worker's qdrant
store (``workdir/memos/qdrant``); ``reset`` drops every collection there first, also those a resumed
run left behind. MemOS writes logs to ``$MEMOS_BASE_PATH/.memos`` (``cwd/.memos`` by default), read
once at import, so the base path is set under the workdir before memos is first imported.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import sys
import threading
import uuid
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from membench.core.env import apply_offline_env
from membench.core.errors import ConfigError, LLMError, OutputParseError
from membench.core.types import Episode, Memory, Session, Turn
from membench.core.urls import public_url
from membench.llm.types import LLM
from membench.systems.base import ENDPOINT_PLACEHOLDER_KEY, Capabilities, LLMEndpoint, MemorySystem
from membench.systems.embedding import (
    DEFAULT_EMBEDDER,
    DEFAULT_EMBEDDER_DIM,
    DEFAULT_EMBEDDER_MODULE,
    local_model_path,
)

MODES = ("raw", "extract")
#: the extractor LLM of raw mode: port 9 (discard) on loopback, so a call that should never happen fails fast.
_UNUSED_LLM_URL = "http://127.0.0.1:9/v1"
#: turns that are instructions to the assistant, not conversation: neither stored nor extracted from.
_SKIPPED_ROLES = frozenset({"system"})
#: raw items get ids derived from (collection, turn position), so a re-run stores the same ids.
_ID_NAMESPACE = uuid.UUID("6f1d3c3e-6a4e-5b8a-9a51-0d6e6d656d6f")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
#: environment variables with which MemOS, at import, fetches its configuration (Nacos) or posts its
#: logs (CUSTOM_LOGGER_URL) to a server: a benchmark run contacts neither.
_PHONE_HOME_VARS = ("NACOS_SERVER_ADDR", "NACOS_ENABLE_WATCH", "CUSTOM_LOGGER_URL")

_IMPORT_LOCK = threading.Lock()


def _import_memos(base: Path) -> tuple[Any, Any]:
    """``(MemoryConfigFactory, MemoryFactory)``, imported with MemOS's home and phone-home switches set.

    Importing ``memos`` also imports its API server's config module, which loads a ``.env`` found in any
    folder above site-packages *over* the environment and then asks a Nacos server for settings when
    one is named: .env loading is switched off and the Nacos and log-shipping variables are removed.
    """
    with _IMPORT_LOCK:
        if "memos" not in sys.modules:
            apply_offline_env()
            os.environ["PYTHON_DOTENV_DISABLED"] = "1"
            for name in _PHONE_HOME_VARS:
                os.environ.pop(name, None)
            base.mkdir(parents=True, exist_ok=True)
            os.environ["MEMOS_BASE_PATH"] = str(base)
        elif "MEMOS_BASE_PATH" not in os.environ:
            raise ConfigError(
                "memos was imported before membench set MEMOS_BASE_PATH (its logs would go to cwd)"
            )
        try:
            from memos.configs.memory import MemoryConfigFactory
            from memos.memories.factory import MemoryFactory
        except ImportError as exc:
            raise ConfigError(f"memos is not installed ({exc}): {MemOSSystem.install_hint}") from exc
        # MemOS logs every embedding and LLM request at INFO (prompts included); its real failures are
        # exceptions or warnings, which still show. Below INFO sentence-transformers draws no progress bars.
        logging.getLogger("memos").setLevel(logging.WARNING)
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
        # Two warnings about MemOS's own code, at every build: its config factory's serializer, and the
        # payload indexes it asks of qdrant's local mode, which has none (nothing here filters on them).
        warnings.filterwarnings("ignore", message="Pydantic serializer warnings")
        warnings.filterwarnings("ignore", message="Payload indexes have no effect in the local Qdrant")
    return MemoryConfigFactory, MemoryFactory


def collection_name(episode_id: str) -> str:
    """A qdrant collection name for an episode: readable, and unique thanks to a short hash."""
    digest = hashlib.sha256(episode_id.encode()).hexdigest()[:12]
    return f"ep_{_UNSAFE_NAME_CHARS.sub('_', episode_id)[:48]}_{digest}"


def _as_llm_error(exc: BaseException) -> LLMError | None:
    """membench's LLMError for a failed call to the LLM endpoint, or None for any other error.

    A failure of membench's client behind the endpoint comes back as the proxy's error object, which
    keeps the client's own kind and attempts; anything else the openai SDK raised is classified here.
    """
    import openai

    from membench.llm.proxy import llm_error_of, openai_error_kind

    reported = llm_error_of(exc)
    if reported is not None or not isinstance(exc, openai.APIError):
        return reported
    kind = openai_error_kind(exc)
    return LLMError(kind, f"memos extraction: {exc}")


class MemOSSystem(MemorySystem):
    """MemOS GeneralTextMemory with one ``add`` per session (raw turns, or MemOS's extraction of them).

    ``retrieve`` embeds the query with MemOS's embedder and searches its qdrant store, keeping the
    score GeneralTextMemory.search drops: cosine similarity in [-1, 1], higher is better.
    """

    name = "memos"
    capabilities = Capabilities(session_memories=True)
    environment = "memos"
    modules = ("memos",)
    install_hint = "membench systems install memos"
    llm_calls_note = "one extraction call per ingested session in extract mode, none in raw mode"
    default_options: ClassVar[Mapping[str, str]] = {"mode": "raw", "llm": "", "api_base": ""}

    @classmethod
    def implied_options(cls, options: Mapping[str, str]) -> Mapping[str, str]:
        if options.get("llm") and "mode" not in options:
            return {**options, "mode": "extract"}  # -S llm=MODEL alone asks for extraction
        return options

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        super().__init__(options, workdir, llm)
        self.require_modules("memos", "qdrant_client", "sentence_transformers", DEFAULT_EMBEDDER_MODULE)
        self.model_path = local_model_path(DEFAULT_EMBEDDER)  # a missing model fails here, not mid-run
        self.state_dir = workdir / "memos"
        self._memory: Any = None  # a GeneralTextMemory once the first reset built it
        self._collection: str | None = None
        self._added: dict[str, list[Memory]] = {}
        self._sessions_ingested = 0
        self._turns_ingested = 0

    @classmethod
    def llm_options(cls, model: str, api_base: str | None) -> dict[str, str]:
        """An LLM for MemOS means extraction: ``--system-llm MODEL`` is ``-S mode=extract -S llm=MODEL``."""
        return {**super().llm_options(model, api_base), "mode": "extract"}

    def check_options(self) -> None:
        opts = self.options
        if opts["mode"] not in MODES:
            raise ConfigError(f"memos: mode must be one of {', '.join(MODES)}, got {opts['mode']!r}")
        if opts["mode"] == "extract" and not opts["llm"]:
            raise ConfigError("memos: mode=extract needs an LLM: --system-llm MODEL (or -S llm=MODEL)")
        if opts["mode"] == "raw" and (opts["llm"] or opts["api_base"]):
            raise ConfigError(
                "memos: llm and api_base are only used with mode=extract (raw mode calls no LLM)"
            )

    def identity(self) -> dict[str, Any]:
        """Options and the fixed parts of the setup; the package versions come from the env's manifest."""
        return {
            **super().identity(),
            "memory": "general_text",
            "embedder": f"sentence_transformer:{DEFAULT_EMBEDDER}",
            "vector_db": "qdrant-local:cosine",
        }

    def describe(self) -> str:
        opts = self.options
        if opts["mode"] == "raw":
            how = "raw mode: turns stored verbatim, no LLM"
        else:
            at = f" at {public_url(opts['api_base'])}" if opts["api_base"] else ""
            how = f"extract mode: MemOS extraction by {opts['llm']}{at}"
        return f"MemOS GeneralTextMemory, {how}; embedder {DEFAULT_EMBEDDER} (sentence_transformer, local)"

    # ------------------------------------------------------------ MemOS configuration

    def memos_config(self, collection: str, endpoint: LLMEndpoint | None) -> dict[str, Any]:
        """The ``MemoryConfigFactory`` arguments (the only key in it is the endpoint's placeholder)."""
        llm = endpoint or LLMEndpoint(_UNUSED_LLM_URL, "never-called", ENDPOINT_PLACEHOLDER_KEY)
        return {
            "backend": "general_text",
            "config": {
                "extractor_llm": {
                    "backend": "openai",
                    "config": {
                        "model_name_or_path": llm.model,
                        "api_key": llm.api_key,
                        "api_base": llm.base_url,
                        # MemOS's defaults are 0.7 and 0.95: sampled, so neither reproducible nor
                        # cacheable (and the endpoint refuses a top_p it cannot pass on).
                        "temperature": 0.0,
                        "top_p": 1.0,
                    },
                },
                "vector_db": {
                    "backend": "qdrant",
                    "config": {
                        "collection_name": collection,
                        "vector_dimension": DEFAULT_EMBEDDER_DIM,
                        "distance_metric": "cosine",
                        "path": str(self.state_dir / "qdrant"),
                    },
                },
                "embedder": {
                    "backend": "sentence_transformer",
                    "config": {"model_name_or_path": str(self.model_path), "trust_remote_code": False},
                },
            },
        }

    def _build(self, collection: str, endpoint: LLMEndpoint | None) -> Any:
        config_factory, memory_factory = _import_memos(self.state_dir / "home")
        return memory_factory.from_config(config_factory(**self.memos_config(collection, endpoint)))

    def _fresh_collection(self, memory: Any, collection: str) -> None:
        """Drop every collection of this worker's store (the last episode's, a resumed run's), make one."""
        store = memory.vector_db
        for name in store.list_collections():
            store.delete_collection(name)
        store.config.collection_name = collection
        store.create_collection()

    # ------------------------------------------------------------ the MemorySystem seam

    async def reset(self, episode: Episode) -> None:
        collection = collection_name(episode.episode_id)
        if self._memory is None:
            endpoint = await self.llm_endpoint() if self.options["mode"] == "extract" else None
            self._memory = await asyncio.to_thread(self._build, collection, endpoint)
        await asyncio.to_thread(self._fresh_collection, self._memory, collection)
        self._collection = collection
        self._added = {}
        self._sessions_ingested = 0
        self._turns_ingested = 0

    async def ingest(self, session: Session) -> None:
        memory = self._ready()
        session_index = self._sessions_ingested
        first_position = self._turns_ingested
        turns = [
            (first_position + i, turn)
            for i, turn in enumerate(session.turns)
            if turn.role not in _SKIPPED_ROLES and turn.content.strip()
        ]
        if self.options["mode"] == "raw":
            items = [
                {
                    "id": str(uuid.uuid5(_ID_NAMESPACE, f"{self._collection}/{position}")),
                    "memory": turn.content,
                    "metadata": {
                        "session_id": session.session_id,
                        "source": "conversation",
                        "info": {
                            "session_index": session_index,
                            "position": position,
                            "role": turn.role,
                            "timestamp": turn.timestamp or session.start_time,
                        },
                    },
                }
                for position, turn in turns
            ]
        else:
            items = await self._extract(memory, session, session_index, [turn for _, turn in turns])
        if items:
            await self._call(memory.add, items)
        stored = [_as_memory(item) for item in items]
        self._added.setdefault(session.session_id, []).extend(stored)
        self._sessions_ingested += 1
        self._turns_ingested += len(session.turns)

    async def _extract(
        self, memory: Any, session: Session, session_index: int, turns: list[Turn]
    ) -> list[Any]:
        """MemOS's extraction of ``turns`` (none without a call for a session with nothing said), each item
        labelled with its session. A turn's time goes before its text as MemOS's own reader writes it."""
        if not turns:
            return []
        messages = []
        for turn in turns:
            when = turn.timestamp or session.start_time
            content = f"[{when}]: {turn.content}" if when else turn.content
            messages.append({"role": turn.role, "content": content})
        try:
            items = await self._call(memory.extract, messages)
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            # MemOS turns a reply it cannot parse into {} and then fails looking up "memory list".
            raise OutputParseError(
                f'memos: the extraction reply is not MemOS\'s {{"memory list": [{{"key", "value", '
                f'"tags"}}]}} JSON ({type(exc).__name__}: {exc})'
            ) from exc
        for item in items:
            item.metadata.session_id = session.session_id
            item.metadata.info = {"session_index": session_index, "timestamp": session.start_time}
        return list(items)

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        """The ``k`` nearest items by cosine similarity (``score``, higher is better), best first."""
        memory = self._ready()
        if k <= 0:
            return []
        return await self._call(self._search, memory, query, k)

    @staticmethod
    def _search(memory: Any, query: str, k: int) -> list[Memory]:
        """GeneralTextMemory.search without dropping the scores: its embedder, then its vector store."""
        from memos.memories.textual.item import TextualMemoryItem

        hits = memory.vector_db.search(memory.embedder.embed([query])[0], k)
        hits.sort(key=lambda hit: hit.score, reverse=True)
        return [_as_memory(TextualMemoryItem(**hit.payload), score=hit.score) for hit in hits]

    async def session_memories(self, session: Session) -> list[Memory]:
        """What was added from ``session``: its turns (raw) or MemOS's extraction (none if not ingested)."""
        return list(self._added.get(session.session_id, []))

    async def close(self) -> None:
        """Close the qdrant client, whose file lock would block the next run on this workdir."""
        memory, self._memory = self._memory, None
        if memory is not None:
            await asyncio.to_thread(memory.vector_db.client.close)

    # ------------------------------------------------------------ helpers

    def _ready(self) -> Any:
        if self._memory is None or self._collection is None:
            raise RuntimeError("memos: reset(episode) must be called before ingest or retrieve")
        return self._memory

    @staticmethod
    async def _call(fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking MemOS call in a thread; a failed LLM call becomes a membench LLMError."""
        try:
            return await asyncio.to_thread(fn, *args)
        except Exception as exc:
            mapped = _as_llm_error(exc)
            if mapped is None:
                raise
            raise mapped from None


def _as_memory(item: Any, score: float | None = None) -> Memory:
    """A membench Memory from a MemOS item (a TextualMemoryItem, or the dict raw mode adds)."""
    if isinstance(item, dict):
        text, meta, item_id = item["memory"], item["metadata"], item["id"]
    else:
        text, meta, item_id = item.memory, item.metadata.model_dump(), item.id
    info = meta.get("info") or {}
    metadata = {"id": item_id, "session_index": info.get("session_index")}
    if info.get("role"):
        metadata["role"] = info["role"]
    if meta.get("key"):
        metadata["key"] = meta["key"]
    if meta.get("tags"):
        metadata["tags"] = meta["tags"]
    return Memory(
        text=text,
        score=score,
        session_id=meta.get("session_id"),
        position=info.get("position"),
        timestamp=info.get("timestamp"),
        metadata=metadata,
    )
