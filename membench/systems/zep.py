"""The Zep adapter: Zep Cloud, a hosted service, through its official SDK (``zep-cloud`` 4.x, API v4).

One episode is one Zep user (a user owns one graph) with one thread. ``reset`` deletes the last
episode's user and creates the next one, its ``user_id`` made of a prefix kept in the worker
directory (random, so two runs or two machines never share a user; kept, so a resumed run finds and
deletes what its interrupted attempt left) and the episode id. ``ingest`` adds the session's turns
as thread messages (at most 30 a call, Zep's limit), each with its role, its time as the
``reference_time`` Zep reasons about, and the session in its metadata. Zep builds the graph from
them asynchronously: each call returns a task, and ``settle`` polls those tasks (``task.get``) until
they succeed, raising when one fails, succeeds only in part, or is still running after
``index_timeout_s`` seconds; so a probe never meets a half-built graph.

``retrieve`` searches the user's graph with the SDK's ``graph.search_*``; option ``search_scope``
says what comes back: ``edges`` (the default) are Zep's facts (the edge's ``fact`` text, with its
``valid_at`` and ``invalid_at``), ``episodes`` the stored messages themselves. Scores are Zep's, in
its order. Each result is traced to the session it came from through the episodes each session's
tasks reported. Zep cannot list what it stored from one session, so ``session_memories`` is not
offered.

The API key is read from ZEP_API_KEY, and from nowhere else; errors name the variable and the
service's URL, never the key.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from membench.core.errors import ConfigError, MembenchError
from membench.core.types import Episode, Memory, Session, Turn
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

#: the SDK's own default (``zep_cloud.environment.ZepEnvironment.DEFAULT``), kept here so that naming
#: the system's options imports nothing.
DEFAULT_BASE_URL = "https://api.getzep.com/api/v4"
API_KEY_ENV = "ZEP_API_KEY"
SCOPES = ("edges", "episodes")
#: the most messages one ``thread.add_messages`` call may carry.
MAX_MESSAGES_PER_CALL = 30
_RUNNING = ("pending", "processing")
#: options that change how long membench waits, not what the system returns: not in the run identity.
_OPERATIONAL = ("index_timeout_s",)
_ROLES = {"user": "user", "human": "user", "assistant": "assistant", "ai": "assistant", "system": "system"}
_ROLES |= {"tool": "tool", "function": "function"}
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class _SessionRef:
    session_id: str
    session_index: int
    start_time: str | None


def zep_role(role: str) -> tuple[str, str | None]:
    """Zep's role for a turn's role, and the sender name to give when Zep has no such role (a
    ``document`` turn is sent as a user message named ``document``)."""
    mapped = _ROLES.get(role.lower())
    return (mapped, None) if mapped is not None else ("user", role)


class ZepSystem(MemorySystem):
    """Zep Cloud: a user graph per episode, sessions as thread messages, graph search to retrieve."""

    name = "zep"
    concurrent_retrieval = True  # one search request; httpx clients are thread-safe
    install_hint = "pip install 'membench[hosted]'"
    modules = ("zep_cloud",)
    required_env = (API_KEY_ENV,)
    needs = "the hosted service (api.getzep.com)"
    default_options: ClassVar[Mapping[str, str]] = {
        "base_url": DEFAULT_BASE_URL,
        "search_scope": "edges",
        "index_timeout_s": "300",
    }

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        super().__init__(options, workdir, llm)
        self.require_modules("zep_cloud")
        self.base_url = service_url("zep", self.options["base_url"])
        if self.options["search_scope"] not in SCOPES:
            raise ConfigError(f"zep: search_scope must be one of {', '.join(SCOPES)}")
        self.index_timeout_s = positive_seconds("zep", "index_timeout_s", self.options["index_timeout_s"])
        self._service = Endpoint("zep", self.base_url, API_KEY_ENV, self_hosted=False)
        self._client: Any = None  # a zep_cloud.Zep once the first reset built it
        self._http: Any = None  # its httpx.Client, closed by close()
        self._user_uuid: str | None = None
        self._thread_uuid: str | None = None
        self._pending: list[tuple[str, _SessionRef]] = []  # tasks of ingested sessions not yet settled
        self._episode_sessions: dict[str, _SessionRef] = {}  # Zep episode uuid -> the session it holds
        self._sessions_ingested = 0

    def identity(self) -> dict[str, Any]:
        ident = without_options(super().identity(), _OPERATIONAL)
        return {**ident, "zep-cloud": importlib.metadata.version("zep-cloud")}

    def describe(self) -> str:
        version = importlib.metadata.version("zep-cloud")
        what = "facts (edges)" if self.options["search_scope"] == "edges" else "messages (episodes)"
        return f"zep (zep-cloud {version}), hosted at {public_url(self.base_url)}; graph search over {what}"

    # ------------------------------------------------------------ the MemorySystem seam

    async def reset(self, episode: Episode) -> None:
        client = self._connect()
        self._pending = []
        self._episode_sessions = {}
        self._sessions_ingested = 0
        self._thread_uuid = None
        last, self._user_uuid = self._user_uuid, None
        if last is not None:  # its deletion runs on at Zep's end: nothing waits for it
            await self._call("deleting the last episode's user", client.user.delete, last, missing_ok=True)
        prefix = namespace_prefix(self.workdir, "zep")
        user_id = episode_name(prefix, episode.episode_id, unsafe=_UNSAFE_ID_CHARS, keep=64)
        await self._delete_leftover(user_id)
        user = await self._call(
            "creating the episode's user",
            client.user.create,
            user_id=user_id,
            metadata={"membench_episode": episode.episode_id},
        )
        thread = await self._call("creating the episode's thread", client.thread.create, user_uuid=user.uuid_)
        self._user_uuid, self._thread_uuid = user.uuid_, thread.uuid_

    async def ingest(self, session: Session) -> None:
        client, thread_uuid = self._ready()
        ref = _SessionRef(session.session_id, self._sessions_ingested, session.start_time)
        # Zep refuses an empty message, and one holds nothing to remember.
        messages = [self._message(turn, session, ref) for turn in session.turns if turn.content.strip()]
        for start in range(0, len(messages), MAX_MESSAGES_PER_CALL):
            added = await self._call(
                f"adding session {session.session_id!r}",
                client.thread.add_messages,
                thread_uuid,
                messages=messages[start : start + MAX_MESSAGES_PER_CALL],
            )
            if added.task is None or not added.task.uuid_:
                raise ServiceError(
                    f"zep: Zep took session {session.session_id!r} without a task to follow, so membench "
                    "cannot tell when it is in the graph"
                )
            self._pending.append((added.task.uuid_, ref))
        self._sessions_ingested += 1

    async def settle(self) -> None:
        """Poll the tasks of the sessions ingested since the last settle until every one succeeded."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        finished = await self._await_tasks({task: f"session {ref.session_id!r}" for task, ref in pending})
        for task_uuid, ref in pending:
            result = finished[task_uuid].result
            for episode in (result.episodes if result is not None else None) or []:
                if episode.episode_uuid:
                    self._episode_sessions[episode.episode_uuid] = ref

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        client, _ = self._ready()
        if k <= 0:
            return []
        edges = self.options["search_scope"] == "edges"
        search, what = (
            (client.graph.search_edges, "facts") if edges else (client.graph.search_episodes, "episodes")
        )
        page = await self._call(
            f"searching the graph's {what}", search, self._user_uuid, query=query, page_size=k
        )
        if edges:
            return [self._edge_memory(edge) for edge in (page.items or []) if edge.fact][:k]
        return [self._episode_memory(episode) for episode in (page.items or []) if episode.content][:k]

    async def close(self) -> None:
        """Delete the last episode's user (Zep keeps it otherwise) and close the HTTP client."""
        client, self._client = self._client, None
        if client is None:
            return
        last, self._user_uuid = self._user_uuid, None
        try:
            if last is not None:
                await self._call("deleting the episode's user", client.user.delete, last, missing_ok=True)
        finally:
            self._http.close()

    # ------------------------------------------------------------ Zep calls

    def _connect(self) -> Any:
        """The SDK client, built at the first reset (so that naming or describing the system needs no key)."""
        if self._client is None:
            api_key = os.environ.get(API_KEY_ENV)
            if not api_key:
                raise ConfigError(f"zep: set {API_KEY_ENV} to a Zep Cloud project API key")
            import httpx
            from zep_cloud import Zep

            self._http = httpx.Client(timeout=60.0, follow_redirects=True)
            self._client = Zep(api_key=api_key, base_url=self.base_url, httpx_client=self._http)
        return self._client

    def _ready(self) -> tuple[Any, str]:
        if self._client is None or self._thread_uuid is None:
            raise RuntimeError("zep: reset(episode) must be called before ingest or retrieve")
        return self._client, self._thread_uuid

    async def _delete_leftover(self, user_id: str) -> None:
        """Delete a user of this name that an interrupted attempt of this run left, and wait until it is
        gone: Zep keeps the ``user_id`` taken while the deletion runs."""
        client = self._client
        leftover = await self._call(
            "looking up the episode's user", client.user.lookup, user_id=user_id, missing_ok=True
        )
        if leftover is None:
            return
        deleted = await self._call(
            "deleting a leftover user", client.user.delete, leftover.uuid_, missing_ok=True
        )
        if deleted is not None and deleted.task is not None and deleted.task.uuid_:
            await self._await_tasks({deleted.task.uuid_: f"deleting the leftover user {user_id!r}"})

    async def _await_tasks(self, pending: dict[str, str]) -> dict[str, Any]:
        """Poll each task (uuid -> what it does) until all succeeded; the finished tasks by uuid."""
        client = self._client
        finished: dict[str, Any] = {}
        left = dict(pending)

        async def all_done() -> bool:
            for task_uuid, what in list(left.items()):
                task = await self._call(f"polling the task of {what}", client.task.get, task_uuid)
                if task.status in _RUNNING:
                    continue
                if task.status != "succeeded":
                    raise ServiceError(
                        f"zep: Zep's processing of {what} ended {task.status!r}{_task_error(task)}"
                    )
                finished[task_uuid] = task
                del left[task_uuid]
            return not left

        await poll_until(
            all_done,
            timeout_s=self.index_timeout_s,
            timed_out=lambda: ServiceError(
                f"zep: {', '.join(left.values())} still processing at Zep after "
                f"{self.index_timeout_s:g} s (option index_timeout_s)"
            ),
        )
        return finished

    async def _call(
        self, what: str, fn: Callable[..., Any], *args: Any, missing_ok: bool = False, **kwargs: Any
    ) -> Any:
        """Run a blocking SDK call in a thread; its failure becomes one line naming what failed (None for
        a 404 when ``missing_ok``: a resource already gone)."""
        return await call_in_thread(
            functools.partial(fn, *args, **kwargs),
            functools.partial(self._failure, what),
            missing=_is_missing if missing_ok else None,
        )

    def _failure(self, what: str, exc: Exception) -> MembenchError:
        """What a failed call means, said without the key: a refused key, an unreachable URL, or the
        service's own answer."""
        import httpx
        from zep_cloud.core.api_error import ApiError

        where = self._service.url
        if isinstance(exc, ApiError) and exc.status_code in REFUSED_STATUSES:
            return self._service.failure(
                "refused",
                f"{what}: Zep at {where} refused the API key (HTTP {exc.status_code}): check {API_KEY_ENV}",
            )
        if isinstance(exc, ApiError):
            return self._service.failure(
                "status", f"{what} failed: HTTP {exc.status_code}: {_error_body(exc.body)}"
            )
        if isinstance(exc, httpx.ConnectError):
            return self._service.failure(
                "unreachable", f"{what} failed: cannot connect to {where} ({exc}); check -S base_url"
            )
        if isinstance(exc, httpx.TimeoutException):
            return self._service.failure(
                "timeout", f"{what} failed: no answer from {where} in time ({type(exc).__name__})"
            )
        return self._service.failure("other", f"{what} failed: {type(exc).__name__}: {exc}")

    # ------------------------------------------------------------ conversions

    def _message(self, turn: Turn, session: Session, ref: _SessionRef) -> Any:
        from zep_cloud.types import AddMessage

        role, name = zep_role(turn.role)
        fields: dict[str, Any] = {
            "role": role,
            "content": turn.content,
            "metadata": {"session_id": ref.session_id, "session_index": ref.session_index},
        }
        when = rfc3339(turn.timestamp or session.start_time)
        if when is not None:
            fields["reference_time"] = when
        if name is not None:
            fields["name"] = name
        return AddMessage(**fields)

    def _session_of(self, episode_uuids: list[str] | None) -> _SessionRef | None:
        """The earliest ingested session among those that gave these episodes (where a fact first came)."""
        refs = [self._episode_sessions[e] for e in episode_uuids or [] if e in self._episode_sessions]
        return min(refs, key=lambda ref: ref.session_index) if refs else None

    def _edge_memory(self, edge: Any) -> Memory:
        ref = self._session_of(edge.episode_uuids)
        metadata: dict[str, Any] = {"id": edge.uuid_, "kind": "edge", "name": edge.name}
        metadata |= {"valid_at": edge.valid_at, "invalid_at": edge.invalid_at}
        return _memory(edge.fact, edge.score, ref, edge.valid_at, metadata)

    def _episode_memory(self, episode: Any) -> Memory:
        ref = self._session_of([episode.uuid_] if episode.uuid_ else [])
        metadata = {"id": episode.uuid_, "kind": "episode", "role": episode.role}
        return _memory(episode.content, episode.score, ref, episode.reference_time, metadata)


def _memory(
    text: str, score: float | None, ref: _SessionRef | None, zep_time: str | None, metadata: dict[str, Any]
) -> Memory:
    """A search result as membench keeps it: Zep's text and score, and the session it came from (its
    start time as the dataset gives it; Zep's own time when the session is not known)."""
    if ref is None:
        return Memory(text=text, score=score, timestamp=zep_time, metadata=metadata)
    return Memory(
        text=text,
        score=score,
        session_id=ref.session_id,
        timestamp=ref.start_time or zep_time,
        metadata={**metadata, "session_index": ref.session_index},
    )


def _is_missing(exc: Exception) -> bool:
    """Whether a failed call says the resource is not there (Zep's 404)."""
    from zep_cloud.core.api_error import ApiError

    return isinstance(exc, ApiError) and exc.status_code == 404


def _task_error(task: Any) -> str:
    error = task.error
    if error is None:
        return ""
    return f": {error.code or 'error'}: {error.message or ''}".rstrip(": ")


def _error_body(body: Any) -> str:
    """The service's error message from a response body (``{"error": {"code", "message"}}``)."""
    error = getattr(body, "error", None)
    if error is not None and (error.code or error.message):
        return f"{error.code or 'error'}: {error.message or ''}".rstrip(": ")
    return str(body)[:500]
