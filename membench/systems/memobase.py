"""The Memobase adapter: the official ``memobase`` client (0.0.27) against a self-hosted Memobase server.

Memobase is a server (FastAPI with Postgres+pgvector and Redis, deployed with docker compose from
memodb-io/memobase ``src/server``); the LLM and embedder named in the server's ``config.yaml`` turn
buffered chats into a user profile and a list of events. membench only talks to it, so the LLM calls
are the server's: membench neither routes nor counts them.

Per episode, one Memobase user: ``reset`` deletes the previous episode's user and creates a new one
(the server picks its UUID). ``ingest`` inserts the session as one ChatBlob; ChatBlob admits only the
``user`` and ``assistant`` roles, so other turns (system prompts) are left out, and each message carries
its turn's (else the session's) time as ``created_at``, which the extraction prompt sees. ``settle``
then calls ``flush(sync=True)``: it returns once the server's LLM has extracted that session's profile
changes and events, so the runner records extraction as index wait, apart from the add time. It also
waits for blobs the server started processing on its own (an insert that fills the buffer is flushed
in the background) and fails if the server reports any buffered blob as failed.

Retrieval is ``search_event``: the user's top ``k`` events by embedding similarity (above
``similarity_threshold``), best first. Not ``context``: it packs profile and events into one prompt
string under a token budget, which no ``k`` bounds and the shared reader cannot rank. An event reads as
Memobase embeds it: its tip (the event summary), then each profile change it made as
``topic::sub_topic: content``; an event with neither is skipped.

``session_memories`` are the events that appeared while that session was settled. Each settle flushes
one session only (an ingest first settles a session left unsettled), so the attribution is exact.

The key comes only from ``MEMOBASE_API_KEY``: the client refuses to start without one, and a
self-hosted server checks it against its ``ACCESS_TOKEN``. Two client quirks are handled here: a
``base_url`` with a path loses its last slash (the client appends ``api/v1`` to it), and
``search_event`` puts the query into its URL unescaped, so a ``&`` or ``#`` in a question would cut it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from membench.core.errors import ConfigError, MembenchError
from membench.core.types import Episode, Memory, Session
from membench.llm.types import LLM
from membench.systems.base import Capabilities, MemorySystem
from membench.systems.hosted import (
    REFUSED_STATUSES,
    Endpoint,
    ServiceError,
    call_in_thread,
    poll_until,
    service_url,
)

API_KEY_ENV = "MEMOBASE_API_KEY"
#: the roles a ChatBlob message may have (memobase.core.blob.OpenAICompatibleMessage).
CHAT_ROLES = ("user", "assistant")
#: how often settle asks whether blobs the server is processing on its own are done.
_POLL_S = 0.5
#: events one settle may add beyond those already seen, for the listing that finds the new ones.
_NEW_EVENTS_PAGE = 1000


class MemobaseSystem(MemorySystem):
    """Memobase: one user per episode, one ChatBlob per session, flushed in ``settle``, events searched."""

    name = "memobase"
    concurrent_retrieval = True  # one search request once settled (the runner settles first)
    llm_calls_note = "its server's LLM extracts at each flush (one per session), uncounted here"
    capabilities = Capabilities(session_memories=True)
    install_hint = "pip install 'membench[hosted]'"
    modules = ("memobase",)
    required_env = (API_KEY_ENV,)
    needs = "a running Memobase server and its LLM (-S base_url=URL)"
    default_options: ClassVar[Mapping[str, str]] = {
        "base_url": "",
        "similarity_threshold": "0.2",
        "timeout_s": "600",
    }

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        super().__init__(options, workdir, llm)
        self.require_modules("memobase")
        self.base_url = _base_url(self.options["base_url"])
        self.threshold = _number(self.options, "similarity_threshold", low=0.0, high=1.0)
        self.timeout_s = _number(self.options, "timeout_s", low=1.0, high=None)
        self._service = Endpoint("memobase", self.base_url, API_KEY_ENV, self_hosted=True)
        self._client: Any = None  # a memobase.MemoBaseClient once the first reset built it
        self._user: Any = None  # this episode's memobase.User
        self._pending: tuple[Session, int] | None = None  # inserted, not yet flushed: (session, index)
        self._sessions_ingested = 0
        self._event_session: dict[str, tuple[Session, int]] = {}  # event id -> where it came from
        self._by_session: dict[str, list[Memory]] = {}
        self._failed_seen: set[str] = set()

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "memobase": importlib.metadata.version("memobase")}

    def describe(self) -> str:
        version = importlib.metadata.version("memobase")
        return (
            f"memobase {version} client, server {self._service.url}: one ChatBlob per session, "
            f"flushed (LLM extraction) in settle; retrieval search_event, similarity > {self.threshold}"
        )

    # ------------------------------------------------------------ the MemorySystem seam

    async def reset(self, episode: Episode) -> None:
        if self._client is None:
            self._client = await self._call(self._connect)
        previous, self._user = self._user, None
        self._pending = None
        self._sessions_ingested = 0
        self._event_session = {}
        self._by_session = {}
        self._failed_seen = set()
        if previous is not None:
            await self._call(self._client.delete_user, previous.user_id)
        user_id = await self._call(self._client.add_user, {"membench_episode": episode.episode_id})
        self._user = self._client.get_user(user_id, no_get=True)

    async def ingest(self, session: Session) -> None:
        user = self._ready()
        if self._pending is not None:
            await self.settle()  # one session per flush, so every event is attributed to its session
        index = self._sessions_ingested
        self._sessions_ingested += 1
        messages = _chat_messages(session)
        if not messages:
            return
        from memobase import ChatBlob

        await self._call(user.insert, ChatBlob(messages=messages))
        self._pending = (session, index)

    async def settle(self) -> None:
        """Flush the buffer (the server's LLM extracts now), wait for its own background work, and
        attribute the events that appeared to the session just ingested."""
        user = self._ready()
        if self._pending is None:
            return
        from memobase.core.blob import BlobType

        await self._call(user.flush, BlobType.chat, sync=True)
        await self._wait_for_processing(user)
        pending, self._pending = self._pending, None
        await self._collect_events(user, *pending)

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        user = self._ready()
        if k <= 0:
            return []
        if self._pending is not None:
            await self.settle()  # a caller that never settles still finds what it ingested
        events = await self._call(
            user.search_event, quote(query, safe=""), topk=k, similarity_threshold=self.threshold
        )
        memories = []
        for event in events:
            text = event_text(event)
            if text:
                memories.append(self._memory(event, text, score=event.similarity))
        return memories[:k]

    async def session_memories(self, session: Session) -> list[Memory]:
        """The events Memobase extracted from ``session``, oldest first; none if it was never ingested."""
        self._ready()
        if self._pending is not None:
            await self.settle()
        return list(self._by_session.get(session.session_id, []))

    async def close(self) -> None:
        """Delete the last episode's user and close the HTTP client."""
        client, self._client = self._client, None
        user, self._user = self._user, None
        if client is None:
            return
        try:
            if user is not None:
                await self._call(client.delete_user, user.user_id)
        finally:
            client.client.close()

    # ------------------------------------------------------------ helpers

    def _connect(self) -> Any:
        import httpx
        from memobase import MemoBaseClient

        key = os.environ.get(API_KEY_ENV)
        if not key:
            raise ConfigError(f"memobase: set {API_KEY_ENV} (the server's ACCESS_TOKEN or project token)")
        client = MemoBaseClient(project_url=self.base_url, api_key=key)
        client.client.timeout = httpx.Timeout(self.timeout_s)  # the client's own is 60 s, less than a flush
        return client

    def _ready(self) -> Any:
        if self._client is None or self._user is None:
            raise RuntimeError("memobase: reset(episode) must be called before ingest or retrieve")
        return self._user

    async def _wait_for_processing(self, user: Any) -> None:
        from memobase.core.blob import BlobType

        async def idle() -> bool:
            return not await self._call(user.buffer, BlobType.chat, "processing")

        await poll_until(
            idle,
            timeout_s=self.timeout_s,
            timed_out=lambda: ServiceError(
                f"memobase: the server at {self._service.url} was still processing chats "
                f"after {self.timeout_s:g} s"
            ),
            first_wait_s=_POLL_S,
            max_wait_s=_POLL_S,
        )
        failed = set(await self._call(user.buffer, BlobType.chat, "failed")) - self._failed_seen
        if failed:
            self._failed_seen |= failed
            raise ServiceError(
                f"memobase: the server failed to process {len(failed)} chat blob(s) (its LLM extraction); "
                "see the server's log"
            )

    async def _collect_events(self, user: Any, session: Session, index: int) -> None:
        topk = len(self._event_session) + _NEW_EVENTS_PAGE
        events = await self._call(user.event, topk=topk)
        if len(events) >= topk:
            raise ServiceError(f"memobase: more than {_NEW_EVENTS_PAGE} new events in one session")
        new = [event for event in events if str(event.id) not in self._event_session]
        for event in reversed(new):  # the server lists newest first
            self._event_session[str(event.id)] = (session, index)
        stored = [self._memory(event, text) for event in reversed(new) if (text := event_text(event))]
        self._by_session.setdefault(session.session_id, []).extend(stored)

    def _memory(self, event: Any, text: str, score: float | None = None) -> Memory:
        session, index = self._event_session.get(str(event.id), (None, None))
        return Memory(
            text=text,
            score=score,
            session_id=session.session_id if session else None,
            timestamp=session.start_time if session else None,
            metadata={"id": str(event.id), "session_index": index},
        )

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking client call in a thread; its failures become errors that name the server."""
        return await call_in_thread(functools.partial(fn, *args, **kwargs), self._failure)

    def _failure(self, exc: Exception) -> MembenchError | None:
        """What a failed call means, said without the key; None for what is not the server's doing."""
        import httpx
        from memobase.error import ServerError

        url = self._service.url
        if isinstance(exc, httpx.ConnectError):
            return self._service.failure(
                "unreachable", f"cannot connect to {url} ({exc}): the Memobase server must be running there"
            )
        if isinstance(exc, httpx.TimeoutException):
            return self._service.failure(
                "timeout", f"{url} did not answer within {self.timeout_s:g} s ({type(exc).__name__})"
            )
        if isinstance(exc, httpx.HTTPStatusError):
            status, body = exc.response.status_code, exc.response.text[:300]
            if status in REFUSED_STATUSES:
                return self._service.failure(
                    "refused", f"the server at {url} refused the key in {API_KEY_ENV} (HTTP {status}): {body}"
                )
            return self._service.failure("status", f"HTTP {status} from {url}: {body}")
        if isinstance(exc, ServerError):
            return self._service.failure("other", f"the server at {url} reported: {exc}")
        return None


def event_text(event: Any) -> str:
    """An event as Memobase embeds it for search: its tip, then each profile change on a line."""
    data = event.event_data
    if data is None:
        return ""
    lines = [data.event_tip] if data.event_tip else []
    for delta in data.profile_delta or []:
        attributes = delta.attributes or {}
        where = "::".join(str(attributes[k]) for k in ("topic", "sub_topic") if attributes.get(k))
        lines.append(f"{where}: {delta.content}" if where else delta.content)
    return "\n".join(line for line in lines if line)


def _chat_messages(session: Session) -> list[dict[str, str]]:
    messages = []
    for turn in session.turns:
        if turn.role not in CHAT_ROLES:
            continue
        message = {"role": turn.role, "content": turn.content}
        when = turn.timestamp or session.start_time
        if when:
            message["created_at"] = when
        messages.append(message)
    return messages


def _base_url(value: str) -> str:
    """The server's URL as the client needs it: given, http(s), and ending in a slash."""
    if not value:
        raise ConfigError(
            "memobase needs -S base_url=<your Memobase server>, e.g. http://localhost:8019 (the server's "
            "project URL)"
        )
    return service_url("memobase", value) + "/"


def _number(options: Mapping[str, str], option: str, low: float, high: float | None) -> float:
    try:
        value = float(options[option])
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < low or (high is not None and value > high):
        bounds = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
        raise ConfigError(f"memobase: {option} must be a number {bounds}, got {options[option]!r}")
    return value
