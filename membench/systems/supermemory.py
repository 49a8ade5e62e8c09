"""The Supermemory adapter: Supermemory, a hosted service, through its official SDK (``supermemory``
5.x, API v5, where the older "container tag" is the namespace in every path).

One episode is one namespace, named from a prefix kept in the worker directory (random, so two runs
or two machines never share one; kept, so a resumed run finds and deletes what its interrupted
attempt left) and the episode id. A namespace exists once it holds a document, so ``reset`` only
deletes: the last episode's namespace and any leftover of the next one's name. ``ingest`` adds the
session as one document: one ``[time] role: content`` line per turn, the session's start as its
``date``, and the session's id, index and start time as its metadata, which Supermemory carries onto
every memory and chunk it derives. Processing is asynchronous: ``settle`` polls each document
(``documents.get``) until its status is ``done`` and, unless only chunks are searched, its memories
are generated (``dreamingStatus`` ``done``: with the default ``dreaming=dynamic`` that can come
minutes after the status); a ``failed`` document, or one still processing after ``index_timeout_s``
seconds, is an error. So a probe never meets a half-built memory.

``retrieve`` is ``search`` within the namespace, in ``search_mode`` (``hybrid``, the service's default:
learned memories and source chunks together; ``memories``; ``chunks``), with Supermemory's
``similarity`` as the score and its order. Supermemory cannot list what it learned from one session,
so ``session_memories`` is not offered.

The API key is read from SUPERMEMORY_API_KEY, and from nowhere else; errors name the variable and
the service's URL, never the key.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from membench.core.errors import ConfigError, MembenchError
from membench.core.types import Episode, Memory, Session
from membench.core.urls import public_url
from membench.llm.types import LLM
from membench.systems.base import MemorySystem
from membench.systems.hosted import (
    REFUSED_STATUSES,
    Endpoint,
    ServiceError,
    call_in_thread,
    episode_name,
    namespace_prefix,
    poll_until,
    positive_seconds,
    rfc3339,
    service_url,
    without_options,
)

#: the SDK's own default (``supermemory.environment.SupermemoryEnvironment.DEFAULT``), kept here:
#: importing the SDK takes 0.3 s, too much for naming the system's options.
DEFAULT_BASE_URL = "https://api.supermemory.ai"
API_KEY_ENV = "SUPERMEMORY_API_KEY"
SEARCH_MODES = ("hybrid", "memories", "chunks")
DREAMING_MODES = ("dynamic", "instant")
#: options that change how long membench waits, not what the system returns: not in the run identity.
_OPERATIONAL = ("index_timeout_s",)
#: a namespace matches ^[a-zA-Z0-9_:-]+$ and has at most 100 characters.
_UNSAFE_NAMESPACE_CHARS = re.compile(r"[^A-Za-z0-9_-]")
#: the episode id's share of a namespace: with the rest of its name, at most 92 characters.
_NAMESPACE_ID_CHARS = 60


def session_text(session: Session) -> str:
    """The document of a session: one ``[time] role: content`` line per non-empty turn."""
    lines = []
    for turn in session.turns:
        if turn.content.strip():
            stamp = f"[{turn.timestamp}] " if turn.timestamp else ""
            lines.append(f"{stamp}{turn.role}: {turn.content}")
    return "\n".join(lines)


class SupermemorySystem(MemorySystem):
    """Supermemory: a namespace per episode, a document per session, namespace search to retrieve."""

    name = "supermemory"
    concurrent_retrieval = True  # one search request; httpx clients are thread-safe
    install_hint = "pip install 'membench[hosted]'"
    modules = ("supermemory",)
    required_env = (API_KEY_ENV,)
    needs = "the hosted service (api.supermemory.ai)"
    default_options: ClassVar[Mapping[str, str]] = {
        "base_url": DEFAULT_BASE_URL,
        "search_mode": "hybrid",
        "dreaming": "dynamic",
        "index_timeout_s": "300",
    }

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        super().__init__(options, workdir, llm)
        self.require_modules("supermemory")
        self.base_url = service_url("supermemory", self.options["base_url"])
        for option, allowed in (("search_mode", SEARCH_MODES), ("dreaming", DREAMING_MODES)):
            if self.options[option] not in allowed:
                raise ConfigError(f"supermemory: {option} must be one of {', '.join(allowed)}")
        self.index_timeout_s = positive_seconds(
            "supermemory", "index_timeout_s", self.options["index_timeout_s"]
        )
        self._service = Endpoint("supermemory", self.base_url, API_KEY_ENV, self_hosted=False)
        self._client: Any = None  # a supermemory.Supermemory once the first reset built it
        self._namespace: str | None = None
        self._pending: list[tuple[str, str]] = []  # (document id, session id) not yet settled
        self._sessions_ingested = 0

    def identity(self) -> dict[str, Any]:
        ident = without_options(super().identity(), _OPERATIONAL)
        return {**ident, "supermemory": importlib.metadata.version("supermemory")}

    def describe(self) -> str:
        version = importlib.metadata.version("supermemory")
        opts = self.options
        return (
            f"supermemory {version}, hosted at {public_url(self.base_url)}; "
            f"{opts['search_mode']} search, {opts['dreaming']} dreaming"
        )

    # ------------------------------------------------------------ the MemorySystem seam

    async def reset(self, episode: Episode) -> None:
        client = self._connect()
        self._pending = []
        self._sessions_ingested = 0
        last, self._namespace = self._namespace, None
        if last is not None:
            await self._call(
                "deleting the last episode's namespace", client.namespaces.delete, last, missing_ok=True
            )
        prefix = namespace_prefix(self.workdir, "supermemory")
        namespace = episode_name(
            prefix, episode.episode_id, unsafe=_UNSAFE_NAMESPACE_CHARS, keep=_NAMESPACE_ID_CHARS
        )
        # A leftover of an interrupted attempt of this run, if any (usually there is none: a 404).
        await self._call(
            "clearing the episode's namespace", client.namespaces.delete, namespace, missing_ok=True
        )
        self._namespace = namespace

    async def ingest(self, session: Session) -> None:
        client, namespace = self._ready()
        index = self._sessions_ingested
        self._sessions_ingested += 1
        content = session_text(session)
        if not content:  # nothing to remember, and Supermemory refuses empty content
            return
        metadata: dict[str, Any] = {"session_id": session.session_id, "session_index": index}
        extra: dict[str, Any] = {}
        if session.start_time:
            metadata["start_time"] = session.start_time
            date = rfc3339(session.start_time)
            if date is not None:
                extra["date"] = date
        added = await self._call(
            f"adding session {session.session_id!r}",
            client.add,
            namespace,
            content=content,
            metadata=metadata,
            dreaming=self.options["dreaming"],
            **extra,
        )
        self._pending.append((added.id, session.session_id))

    async def settle(self) -> None:
        """Poll each document ingested since the last settle until Supermemory has processed it."""
        if not self._pending:
            return
        client, namespace = self._ready()
        left, self._pending = dict(self._pending), []
        needs_memories = self.options["search_mode"] != "chunks"
        states: dict[str, str] = {}

        async def all_done() -> bool:
            for document_id, session_id in list(left.items()):
                document = await self._call(
                    f"polling session {session_id!r}", client.documents.get, namespace, document_id
                )
                status, dreaming = document.system.status, document.system.dreaming_status
                if status == "failed":
                    raise ServiceError(
                        f"supermemory: processing session {session_id!r} failed (document {document_id})"
                    )
                if status == "done" and (dreaming == "done" or not needs_memories):
                    del left[document_id]
                else:
                    states[session_id] = f"status {status}, dreaming {dreaming}"
            return not left

        def timed_out() -> ServiceError:
            waiting = "; ".join(f"session {sid!r}: {states[sid]}" for sid in left.values())
            return ServiceError(
                f"supermemory: still processing after {self.index_timeout_s:g} s "
                f"(option index_timeout_s): {waiting}"
            )

        await poll_until(all_done, timeout_s=self.index_timeout_s, timed_out=timed_out)

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        client, namespace = self._ready()
        if k <= 0:
            return []
        found = await self._call(
            "searching the namespace",
            client.search,
            namespace,
            query=query,
            limit=k,
            search_mode=self.options["search_mode"],
        )
        memories = [_memory(result) for result in found.results if result.memory or result.chunk]
        return memories[:k]

    async def close(self) -> None:
        """Delete the last episode's namespace (Supermemory keeps it otherwise) and close the HTTP client."""
        client, self._client = self._client, None
        if client is None:
            return
        last, self._namespace = self._namespace, None
        try:
            if last is not None:
                await self._call(
                    "deleting the episode's namespace", client.namespaces.delete, last, missing_ok=True
                )
        finally:
            client.close()

    # ------------------------------------------------------------ Supermemory calls

    def _connect(self) -> Any:
        """The SDK client, built at the first reset (so that naming or describing the system needs no key)."""
        if self._client is None:
            api_key = os.environ.get(API_KEY_ENV)
            if not api_key:
                raise ConfigError(f"supermemory: set {API_KEY_ENV} to a Supermemory API key")
            from supermemory import Supermemory

            self._client = Supermemory(api_key=api_key, base_url=self.base_url)
        return self._client

    def _ready(self) -> tuple[Any, str]:
        if self._client is None or self._namespace is None:
            raise RuntimeError("supermemory: reset(episode) must be called before ingest or retrieve")
        return self._client, self._namespace

    async def _call(
        self, what: str, fn: Callable[..., Any], *args: Any, missing_ok: bool = False, **kwargs: Any
    ) -> Any:
        """Run a blocking SDK call in a thread; its failure becomes one line naming what failed (None for
        a 404 when ``missing_ok``: deleting a namespace that holds nothing)."""
        return await call_in_thread(
            functools.partial(fn, *args, **kwargs),
            functools.partial(self._failure, what),
            missing=_is_missing if missing_ok else None,
        )

    def _failure(self, what: str, exc: Exception) -> MembenchError:
        """What a failed call means, said without the key: a refused key, an unreachable URL, or the
        service's own answer. The SDK raises its own errors for both (``supermemory.APIError``)."""
        from supermemory import APIConnectionError, APIStatusError, APITimeoutError

        where = self._service.url
        if isinstance(exc, APIStatusError) and exc.status_code in REFUSED_STATUSES:
            return self._service.failure(
                "refused",
                f"{what}: Supermemory at {where} refused the API key (HTTP {exc.status_code}): "
                f"check {API_KEY_ENV}",
            )
        if isinstance(exc, APIStatusError):
            return self._service.failure(
                "status", f"{what} failed: HTTP {exc.status_code}: {_error_body(exc.body)}"
            )
        if isinstance(exc, APITimeoutError):
            return self._service.failure("timeout", f"{what} failed: no answer from {where} in time")
        if isinstance(exc, APIConnectionError):
            cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
            return self._service.failure(
                "unreachable", f"{what} failed: cannot connect to {where}{cause}; check -S base_url"
            )
        return self._service.failure("other", f"{what} failed: {type(exc).__name__}: {exc}")


def _is_missing(exc: Exception) -> bool:
    """Whether a failed call says the resource is not there (Supermemory's 404)."""
    from supermemory import APIStatusError

    return isinstance(exc, APIStatusError) and exc.status_code == 404


def _memory(result: Any) -> Memory:
    """A search result as membench keeps it: its text and similarity, and the session its metadata names."""
    meta = result.metadata or {}
    index = meta.get("session_index")
    kind = "memory" if result.memory else "chunk"
    metadata: dict[str, Any] = {"id": result.id, "kind": kind, "is_inference": result.is_inference}
    metadata |= {"is_latest": result.is_latest}
    if isinstance(index, (int, float)) and not isinstance(index, bool):
        metadata["session_index"] = int(index)
    session_id, start = meta.get("session_id"), meta.get("start_time")
    return Memory(
        text=result.memory or result.chunk,
        score=result.similarity,
        session_id=session_id if isinstance(session_id, str) else None,
        timestamp=start if isinstance(start, str) else None,
        metadata=metadata,
    )


def _error_body(body: Any) -> str:
    """The service's error message from a response body (``{"error", "details"}``)."""
    error = body.get("error") if isinstance(body, dict) else getattr(body, "error", None)
    details = body.get("details") if isinstance(body, dict) else getattr(body, "details", None)
    if isinstance(error, str):
        return f"{error}: {details}" if details else error
    return str(body)[:500]
