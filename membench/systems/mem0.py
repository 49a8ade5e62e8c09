"""The mem0 adapter: the real ``mem0.Memory`` (mem0ai 2.x), run offline or against an LLM endpoint.

Modes (option ``mode``):

* ``offline`` (default): ``infer=False``, every turn is stored verbatim and embedded with the packaged
  MiniLM. No LLM is called; mem0 still builds an LLM client, so it gets one aimed at a closed port
  on loopback that would fail at once if anything ever called it.
* ``llm``: ``infer=True``, one extraction call per session (mem0 2.x is ADD-only: it never updates or
  deletes a memory). ``llm`` is a litellm model string, ``api_base`` an optional OpenAI-compatible
  server (e.g. ``http://127.0.0.1:8000/v1``). The calls go through membench's LLMClient, put in
  place of mem0's own LLM client: cached, retried and counted like the reader's and the judge's.

One ``Memory`` per worker, kept across episodes: ``reset`` empties its store and history database
(cheaper than loading the embedder again), and each episode also gets its own ``user_id``. All state
lives in ``workdir/mem0``; mem0's telemetry is switched off before mem0 is first imported, because
mem0 reads the switch at import time.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from membench.core.env import apply_offline_env
from membench.core.errors import ConfigError, LLMError
from membench.core.types import Episode, Memory, Session, Usage, UsageByRole
from membench.core.urls import public_url
from membench.llm.client import LOCAL_PLACEHOLDER_KEY
from membench.llm.env import known_secrets, scrub
from membench.llm.proxy import openai_error_kind
from membench.llm.types import LLM
from membench.systems.base import Capabilities, MemorySystem
from membench.systems.embedding import (
    DEFAULT_EMBEDDER,
    DEFAULT_EMBEDDER_DIM,
    DEFAULT_EMBEDDER_MODULE,
    local_model_path,
    model_fingerprint,
)

MODES = ("offline", "llm")
VECTOR_STORES = ("qdrant-memory", "qdrant-disk", "faiss")
_COLLECTION = "membench"
#: the LLM of offline mode: port 9 (discard) on loopback, so a call that should never happen fails fast, here.
_UNUSED_LLM_URL = "http://127.0.0.1:9/v1"
#: mem0 rejects ids with whitespace; anything outside this set is replaced in the user id.
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.:-]")

_IMPORT_LOCK = threading.Lock()


def _import_mem0(home: Path) -> Any:
    """``mem0.Memory``, imported with telemetry off and mem0's home directory set.

    mem0 reads MEM0_TELEMETRY and MEM0_DIR once, at import. MEM0_DIR (a config.json with a random id)
    is process-wide: the first worker to import mem0 gives it its directory unless the harness set one.
    """
    with _IMPORT_LOCK:
        if "mem0" not in sys.modules:
            os.environ["MEM0_TELEMETRY"] = "False"  # forced: on, mem0 phones home at import and at exit
            apply_offline_env()
            os.environ.setdefault("MEM0_DIR", str(home))
            # mem0 warns at every reset and about what offline mode lacks by design (spaCy, fastembed:
            # semantic search only); its real failures are exceptions or errors, which still show.
            logging.getLogger("mem0").setLevel(logging.ERROR)
        try:
            import mem0.memory.telemetry as telemetry
            from mem0 import Memory
        except ImportError as exc:
            raise ConfigError(f"mem0 is not installed ({exc}): {Mem0System.install_hint}") from exc
    if telemetry.MEM0_TELEMETRY:
        raise ConfigError(
            "mem0 was imported with telemetry on (it phones home); set MEM0_TELEMETRY=False before anything "
            "imports mem0"
        )
    return Memory


def episode_user_id(episode_id: str) -> str:
    """A whitespace-free mem0 ``user_id`` for an episode: readable, and unique thanks to a short hash."""
    digest = hashlib.sha256(episode_id.encode()).hexdigest()[:8]
    return f"{_UNSAFE_ID_CHARS.sub('_', episode_id)[:64]}-{digest}"


def _as_llm_error(exc: BaseException) -> LLMError | None:
    """membench's LLMError for a failed LLM or embedding call inside mem0, or None for other errors.

    mem0 wraps extraction failures in its own LLMError; the openai (or litellm, which subclasses it)
    exception underneath says whether a retry can help.
    """
    import openai
    from mem0.exceptions import LLMError as Mem0LLMError

    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, (openai.APIError, LLMError)):
        cause = cause.__cause__
    if isinstance(cause, LLMError):
        return cause  # from membench's own client: already retried, classified and scrubbed
    if cause is None and not isinstance(exc, Mem0LLMError):
        return None
    kind = openai_error_kind(cause)
    return LLMError(kind, scrub(f"mem0: {exc}", known_secrets()))


def _extracts(text: str) -> bool:
    """Whether mem0 can read an extraction from ``text``, read as mem0 2.x reads it.

    mem0 turns a reply it cannot parse into "nothing extracted" without a word; such a reply is
    never cached, so a re-run or ``--retry-errors`` asks the model again instead of replaying it.
    """
    from mem0.memory.utils import extract_json, remove_code_blocks

    body = remove_code_blocks(text)
    for candidate in (body, extract_json(body)):
        try:
            value = json.loads(candidate, strict=False)
        except json.JSONDecodeError:
            continue
        return isinstance(value, dict) and isinstance(value.get("memory"), list)
    return False


class _ExtractionLLM:
    """Fills mem0's LLM slot with membench's LLMClient, so mem0's extraction calls get what every other
    LLM call gets: the response cache (an identical re-run makes no call), retries with Retry-After,
    the shared connection limit, key scrubbing, and usage counted under the ``system`` role.

    mem0 calls ``generate_response`` from the worker thread ``asyncio.to_thread`` runs it in; the call
    is handed to the run's event loop, where the client lives, and the thread waits for its answer.
    """

    def __init__(self, client: LLM, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.loop = loop
        self._usage = Usage()
        self._lock = threading.Lock()

    def generate_response(
        self,
        messages: list[dict[str, str]],
        response_format: dict[str, Any] | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str = "auto",
        **_: Any,
    ) -> str:
        if tools:
            raise NotImplementedError("mem0 asked for tool calls, which its 2.x add path never does")
        coroutine = self.client.complete(messages, response_format=response_format, usable=_extracts)
        response = asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()
        with self._lock:
            self._usage = self._usage.add(response.usage)
        return str(response.text)

    def take_usage(self) -> Usage:
        with self._lock:
            usage, self._usage = self._usage, Usage()
        return usage


class Mem0System(MemorySystem):
    """mem0 with one ``add`` per session (the whole session as role/content messages)."""

    name = "mem0"
    capabilities = Capabilities(session_memories=True)
    install_hint = "install a CPU build of torch first, then pip install 'membench[mem0]'"
    modules = ("mem0", "sentence_transformers", DEFAULT_EMBEDDER_MODULE)
    llm_calls_note = "one extraction call per ingested session in llm mode, none in offline mode"
    default_options: ClassVar[Mapping[str, str]] = {
        "mode": "offline",
        "llm": "",
        "api_base": "",
        "vector_store": "qdrant-memory",
        "embedder": "local",
        "embedding_dims": "",
        "search_threshold": "0.0",
    }

    @classmethod
    def implied_options(cls, options: Mapping[str, str]) -> Mapping[str, str]:
        if options.get("llm") and "mode" not in options:
            return {**options, "mode": "llm"}  # -S llm=MODEL alone asks for LLM extraction
        return options

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        super().__init__(options, workdir, llm)
        local_embedder = ("sentence_transformers", DEFAULT_EMBEDDER_MODULE)
        self.require_modules("mem0", *(local_embedder if self.options["embedder"] == "local" else ()))
        self.threshold = float(self.options["search_threshold"])
        self.state_dir = workdir / "mem0"
        self._memory: Any = None  # a mem0.Memory once the first reset built it
        self._user_id: str | None = None
        self._added: dict[str, list[Memory]] = {}
        self._sessions_ingested = 0
        self._extraction: _ExtractionLLM | None = None
        if self.options["mode"] == "llm" and self.llm is None:
            # Built directly (not by the runner): an uncached client of the configured model.
            from membench.llm.client import LLMClient

            api_base = self.options["api_base"] or None
            self.llm = LLMClient(self.options["llm"], role="system", api_base=api_base)

    @classmethod
    def llm_options(cls, model: str, api_base: str | None) -> dict[str, str]:
        """An LLM for mem0 means LLM extraction: ``--system-llm MODEL`` is ``-S mode=llm -S llm=MODEL``."""
        return {**super().llm_options(model, api_base), "mode": "llm"}

    def check_options(self) -> None:
        opts = self.options
        if opts["mode"] not in MODES:
            raise ConfigError(f"mem0: mode must be one of {', '.join(MODES)}, got {opts['mode']!r}")
        if opts["mode"] == "llm" and not opts["llm"]:
            raise ConfigError("mem0: mode=llm needs llm=<litellm model>, e.g. llm=openai/gpt-4o-mini")
        if opts["mode"] == "offline" and opts["llm"]:
            raise ConfigError("mem0: llm is only used with mode=llm (offline mode calls no LLM)")
        if opts["vector_store"] not in VECTOR_STORES:
            raise ConfigError(f"mem0: vector_store must be one of {', '.join(VECTOR_STORES)}")
        embedder = opts["embedder"]
        if embedder != "local" and not (embedder.startswith("openai:") and len(embedder) > len("openai:")):
            raise ConfigError(
                "mem0: embedder must be 'local' (the packaged MiniLM) or 'openai:<model>' (an "
                "OpenAI-compatible embeddings endpoint, at api_base if given; a litellm proxy is one)"
            )
        if opts["api_base"] and opts["mode"] != "llm" and embedder == "local":
            raise ConfigError("mem0: api_base is used only with mode=llm or an openai:<model> embedder")
        if opts["embedding_dims"] and not (
            opts["embedding_dims"].isdigit() and int(opts["embedding_dims"]) > 0
        ):
            raise ConfigError(
                f"mem0: embedding_dims must be a positive integer, got {opts['embedding_dims']!r}"
            )
        try:
            threshold = float(opts["search_threshold"])
        except ValueError:
            threshold = -1.0
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(
                f"mem0: search_threshold must be a number in [0, 1], got {opts['search_threshold']!r}"
            )
        if embedder == "local":
            local_model_path(DEFAULT_EMBEDDER)  # a missing model fails here, before any episode runs

    def identity(self) -> dict[str, Any]:
        ident = {**super().identity(), "mem0ai": importlib.metadata.version("mem0ai")}
        if self.options["embedder"] == "local":
            ident["embedder_model"] = model_fingerprint(DEFAULT_EMBEDDER)
        return ident

    def describe(self) -> str:
        opts = self.options
        if opts["mode"] == "offline":
            how = "offline mode: infer=False, turns stored verbatim, no LLM"
        else:
            at = f" at {public_url(opts['api_base'])}" if opts["api_base"] else ""
            how = f"llm mode: infer=True, extraction by {opts['llm']}{at}"
        embedder = "packaged MiniLM (local)" if opts["embedder"] == "local" else opts["embedder"]
        version = importlib.metadata.version("mem0ai")
        return f"mem0 {version}, {how}; embedder {embedder}; {opts['vector_store']}"

    # ------------------------------------------------------------ mem0 configuration

    def mem0_config(self) -> dict[str, Any]:
        """The ``Memory.from_config`` dictionary (no key in it unless a placeholder for a local server)."""
        dims = int(self.options["embedding_dims"] or 0)
        if self.options["embedder"] == "local":
            embedder: dict[str, Any] = {
                "provider": "huggingface",
                "config": {
                    "model": str(local_model_path(DEFAULT_EMBEDDER)),
                    "embedding_dims": dims or DEFAULT_EMBEDDER_DIM,
                    "model_kwargs": {"device": "cpu"},
                },
            }
            dims = dims or DEFAULT_EMBEDDER_DIM
        else:
            api_config = self._openai_endpoint()
            # mem0 sends `dimensions` only when embedding_dims is set; its default size is 1536.
            embedder = {
                "provider": "openai",
                "config": {"model": self.options["embedder"].removeprefix("openai:"), **api_config}
                | ({"embedding_dims": dims} if dims else {}),
            }
            dims = dims or 1536
        return {
            "embedder": embedder,
            "vector_store": self._vector_store_config(dims),
            "llm": self._llm_config(),
            "history_db_path": str(self.state_dir / "history.db"),
        }

    def _openai_endpoint(self) -> dict[str, str]:
        if not self.options["api_base"]:
            return {}  # the openai client reads OPENAI_API_KEY / OPENAI_BASE_URL itself
        endpoint = {"openai_base_url": self.options["api_base"]}
        if not os.environ.get("OPENAI_API_KEY"):
            endpoint["api_key"] = LOCAL_PLACEHOLDER_KEY
        return endpoint

    def _vector_store_config(self, dims: int) -> dict[str, Any]:
        store = self.options["vector_store"]
        if store == "faiss":
            path = str(self.state_dir / "faiss")
            config = {"collection_name": _COLLECTION, "embedding_model_dims": dims, "path": path}
            return {"provider": "faiss", "config": config | {"distance_strategy": "cosine"}}
        path = ":memory:" if store == "qdrant-memory" else str(self.state_dir / "qdrant")
        return {
            "provider": "qdrant",
            "config": {"collection_name": _COLLECTION, "embedding_model_dims": dims, "path": path},
        }

    def _llm_config(self) -> dict[str, Any]:
        """mem0's own LLM client, which is never called: in llm mode ``_ExtractionLLM`` takes its place."""
        return {
            "provider": "openai",
            "config": {
                "model": "never-called",
                "api_key": LOCAL_PLACEHOLDER_KEY,
                "openai_base_url": _UNUSED_LLM_URL,
            },
        }

    # ------------------------------------------------------------ the MemorySystem seam

    async def reset(self, episode: Episode) -> None:
        if self._memory is None:
            self._memory = await asyncio.to_thread(self._build, asyncio.get_running_loop())
        # Also when just built: a workdir reused by a resumed run may hold the last run's memories.
        await self._call(self._memory.reset)
        self._user_id = episode_user_id(episode.episode_id)
        self._added = {}
        self._sessions_ingested = 0

    def _build(self, loop: asyncio.AbstractEventLoop) -> Any:
        memory_cls = _import_mem0(self.state_dir / "home")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        memory = memory_cls.from_config(self.mem0_config())
        if self.options["mode"] == "llm":
            if self.llm is None:  # __init__ builds one for mode=llm; None here would be a bug
                raise ConfigError("mem0: mode=llm has no LLM client")
            self._extraction = _ExtractionLLM(self.llm, loop)
            memory.llm = self._extraction
        return memory

    async def ingest(self, session: Session) -> None:
        memory, user_id = self._ready()
        session_index = self._sessions_ingested
        metadata: dict[str, Any] = {"session_id": session.session_id, "session_index": session_index}
        if session.start_time is not None:
            metadata["start_time"] = session.start_time
        messages = [{"role": turn.role, "content": turn.content} for turn in session.turns]
        results: list[dict[str, Any]] = []
        if messages:  # an empty session would still cost an extraction call in llm mode
            infer = self.options["mode"] == "llm"
            added = await self._call(memory.add, messages, user_id=user_id, metadata=metadata, infer=infer)
            results = added["results"]
        stored = [
            Memory(
                text=r["memory"],
                session_id=session.session_id,
                timestamp=session.start_time,
                metadata={"id": r["id"], "session_index": session_index},
            )
            for r in results
            if r.get("event") == "ADD"
        ]
        self._added.setdefault(session.session_id, []).extend(stored)
        self._sessions_ingested += 1

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        memory, user_id = self._ready()
        if k <= 0:
            return []
        found = await self._call(
            memory.search, query, filters={"user_id": user_id}, top_k=k, threshold=self.threshold
        )
        memories = []
        for r in found["results"]:
            meta = r.get("metadata") or {}
            memories.append(
                Memory(
                    text=r["memory"],
                    score=r.get("score"),
                    session_id=meta.get("session_id"),
                    timestamp=meta.get("start_time"),
                    metadata={"id": r["id"], "session_index": meta.get("session_index")},
                )
            )
        return memories

    def take_usage(self) -> UsageByRole:
        if self._extraction is None:
            return {}
        usage = self._extraction.take_usage()
        return {"system": usage} if usage.calls else {}

    async def session_memories(self, session: Session) -> list[Memory]:
        """What mem0 reported adding from ``session`` (its ADD events), in its order; none if not ingested."""
        return list(self._added.get(session.session_id, []))

    async def close(self) -> None:
        """Close the history database and the qdrant client, whose file lock would block the next run."""
        memory, self._memory = self._memory, None
        if memory is None:
            return
        memory.close()
        client = getattr(memory.vector_store, "client", None)
        if client is not None and hasattr(client, "close"):
            client.close()

    # ------------------------------------------------------------ helpers

    def _ready(self) -> tuple[Any, str]:
        if self._memory is None or self._user_id is None:
            raise RuntimeError("mem0: reset(episode) must be called before ingest or retrieve")
        return self._memory, self._user_id

    @staticmethod
    async def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking mem0 call in a thread; LLM and embedding API failures become membench LLMErrors."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except Exception as exc:
            mapped = _as_llm_error(exc)
            if mapped is None:
                raise
            raise mapped from None  # the chained original could quote request headers
