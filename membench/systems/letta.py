"""The Letta adapter: the official ``letta-client`` SDK (1.x) against a running Letta server.

Letta (formerly MemGPT) keeps memory per agent, on a server (``letta/letta`` in docker, or the
``letta==0.16.8`` Python server, with Postgres+pgvector). Per episode, one agent: ``reset`` deletes the
previous episode's agent and creates a new one with the ``model`` and ``embedding`` handles
(``provider/model``, defaults ``openai/gpt-4o-mini`` and ``openai/text-embedding-3-small``; the server
must offer them: the endpoints and keys behind a handle are the server's configuration, e.g.
``OPENAI_API_KEY`` and ``OPENAI_API_BASE`` in its environment, not membench's).

Two ways to ingest (option ``mode``), two different things measured:

* ``archival`` (default): every turn is written to the agent's archival memory as it was said
  (``role: content``), one ``passages.create`` per turn, tagged ``session:<session id>`` and dated with
  the turn's (else the session's) time. Storage is deterministic and the server only embeds, so this
  measures Letta's archival store and its search, with no LLM call and nothing lost or rephrased.
* ``agent``: each session is sent to the agent as one user message (a line naming the session and its
  time, then ``role: content`` lines), one ``messages.create`` per session, and the agent decides what
  to keep through its own memory tools (``archival_memory_insert``, core-memory edits). This measures
  the agent's memory management: what it chose to archive, in its words. Its LLM calls are the
  server's; their token counts (from each response's usage) are reported as the ``system`` role's,
  with no cost (the model's price is the server's business). Core-memory blocks are not retrieved.

Retrieval, in both modes, is the server's archival search (``passages.search``, ``top_k=k``), best
first; the API gives an order, not a score. ``session_memories``: in archival mode the agent's
passages tagged with that session (listed from the server); in agent mode the passages that appeared
while that session was sent.

A server started with ``SECURE=true`` wants its password as a bearer token: set ``LETTA_API_KEY``
to it (read from the environment only; an open server needs none). Reads and deletes are retried by
the client; writes are sent once, since a write retried after a timeout may already have been done.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from membench.core.errors import ConfigError, MembenchError
from membench.core.types import Episode, Memory, Session, Usage, UsageByRole
from membench.llm.types import LLM
from membench.systems.base import Capabilities, MemorySystem
from membench.systems.baselines import turn_text
from membench.systems.hosted import (
    REFUSED_STATUSES,
    Endpoint,
    ServiceError,
    call_in_thread,
    parse_time,
    positive_seconds,
    service_url,
)

API_KEY_ENV = "LETTA_API_KEY"
MODES = ("archival", "agent")
SESSION_TAG = "session:"
#: how an agent's step may end with its memory edits done; any other stop reason is a failure.
_FINISHED = frozenset({"end_turn", "max_steps", "no_tool_call", "tool_rule"})
#: passages asked for per page when listing an agent's archival memory.
_PAGE = 500
#: the client's own retries of reads and deletes after a refused connection, a timeout or a 5xx (its
#: backoff: 0.5 s, doubling). Writes are sent once: a write retried after a timeout may have been done,
#: and would then store a turn twice or show the agent a session twice.
_RETRIES = 2


class LettaSystem(MemorySystem):
    """Letta: one agent per episode; turns stored as archival passages, or sent to the agent itself."""

    name = "letta"
    concurrent_retrieval = True  # passage search and listing only read; httpx is thread-safe
    llm_calls_note = "agent mode: the server's agent calls its LLM at least once per session; archival: none"
    capabilities = Capabilities(session_memories=True)
    install_hint = "pip install 'membench[hosted]'"
    modules = ("letta_client",)
    needs = "a running Letta server (-S base_url=URL, default http://localhost:8283)"
    default_options: ClassVar[Mapping[str, str]] = {
        "base_url": "http://localhost:8283",
        "mode": "archival",
        "model": "openai/gpt-4o-mini",
        "embedding": "openai/text-embedding-3-small",
        "timeout_s": "300",
    }

    def __init__(self, options: Mapping[str, str], workdir: Path, llm: LLM | None = None) -> None:
        super().__init__(options, workdir, llm)
        self.require_modules("letta_client")
        self.base_url = service_url(
            "letta", self.options["base_url"], what="the http(s) URL of a Letta server"
        )
        self.mode = self.options["mode"]
        if self.mode not in MODES:
            raise ConfigError(f"letta: mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        for option in ("model", "embedding"):
            if "/" not in self.options[option]:
                raise ConfigError(
                    f"letta: {option} must be a handle provider/model, got {self.options[option]!r}"
                )
        self.timeout_s = positive_seconds("letta", "timeout_s", self.options["timeout_s"])
        self._service = Endpoint("letta", self.base_url, API_KEY_ENV, self_hosted=True)
        self._client: Any = None  # a letta_client.Letta once the first reset built it
        self._writer: Any = None  # the same client, for writes: never retried
        self._agent_id: str | None = None
        self._sessions_ingested = 0
        self._next_position = 0
        self._stored: dict[str, Memory] = {}  # passage id -> the memory with its provenance
        self._session_passages: dict[str, list[str]] = {}  # agent mode: session id -> passage ids
        self._usage = Usage()

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "letta_client": importlib.metadata.version("letta-client")}

    def describe(self) -> str:
        version = importlib.metadata.version("letta-client")
        opts = self.options
        if self.mode == "archival":
            how = "archival mode: each turn a passage tagged by session, no LLM"
        else:
            how = f"agent mode: sessions sent to the agent ({opts['model']}), which archives what it keeps"
        return (
            f"letta (letta-client {version}), server {self._service.url}: {how}; embedding "
            f"{opts['embedding']}; retrieval archival search top_k"
        )

    # ------------------------------------------------------------ the MemorySystem seam

    async def reset(self, episode: Episode) -> None:
        if self._client is None:
            self._client = await self._call(self._connect)
            self._writer = self._client.with_options(max_retries=0)
        previous, self._agent_id = self._agent_id, None
        self._sessions_ingested = 0
        self._next_position = 0
        self._stored = {}
        self._session_passages = {}
        if previous is not None:
            await self._call(self._client.agents.delete, previous)
        agent = await self._call(
            self._writer.agents.create,
            name=f"membench-{hashlib.sha256(episode.episode_id.encode()).hexdigest()[:16]}",
            model=self.options["model"],
            embedding=self.options["embedding"],
            memory_blocks=[
                {"label": "human", "value": ""},
                {"label": "persona", "value": "I am a helpful assistant with a long-term memory."},
            ],
            tags=["membench"],
            metadata={"membench_episode": episode.episode_id},
        )
        self._agent_id = str(agent.id)

    async def ingest(self, session: Session) -> None:
        agent_id = self._ready()
        index = self._sessions_ingested
        self._sessions_ingested += 1
        if not session.turns:
            return
        if self.mode == "archival":
            await self._call(self._store_turns, agent_id, session, index)
        else:
            await self._call(self._tell_agent, agent_id, session, index)

    async def retrieve(self, query: str, k: int) -> list[Memory]:
        agent_id = self._ready()
        if k <= 0:
            return []
        found = await self._call(self._client.agents.passages.search, agent_id, query=query, top_k=k)
        return [self._memory(r.id, r.content, r.tags) for r in found.results[:k]]

    async def session_memories(self, session: Session) -> list[Memory]:
        """The passages stored from ``session``, oldest first, as the server lists them now."""
        agent_id = self._ready()
        passages = await self._call(self._all_passages, agent_id)
        if self.mode == "archival":
            tag = SESSION_TAG + session.session_id
            chosen = [p for p in passages if tag in (p.tags or [])]
        else:
            ids = set(self._session_passages.get(session.session_id, []))
            chosen = [p for p in passages if p.id in ids]
        return [self._memory(str(p.id), p.text, p.tags) for p in chosen]

    def take_usage(self) -> UsageByRole:
        """Tokens of the agent's LLM calls (agent mode), as the server reported them; no cost."""
        usage, self._usage = self._usage, Usage()
        return {"system": usage} if usage.calls else {}

    async def close(self) -> None:
        """Delete the last episode's agent and close the client."""
        client, self._client, self._writer = self._client, None, None
        agent_id, self._agent_id = self._agent_id, None
        if client is None:
            return
        try:
            if agent_id is not None:
                await self._call(client.agents.delete, agent_id)
        finally:
            client.close()

    # ------------------------------------------------------------ what runs in a thread

    def _connect(self) -> Any:
        from letta_client import Letta

        return Letta(
            base_url=self.base_url,
            api_key=os.environ.get(API_KEY_ENV) or None,
            timeout=self.timeout_s,
            max_retries=_RETRIES,
        )

    def _store_turns(self, agent_id: str, session: Session, index: int) -> None:
        tags = [SESSION_TAG + session.session_id]
        for turn in session.turns:
            when = turn.timestamp or session.start_time
            position = self._next_position
            self._next_position += 1
            # the server reads ISO 8601 only: a time it cannot read is left out, and it dates the passage
            extra = {"created_at": when} if parse_time(when, layouts=()) is not None else {}
            created = self._writer.agents.passages.create(
                agent_id, text=turn_text(turn.role, turn.content), tags=tags, **extra
            )
            for passage in created:  # the server may split a long text into several passages
                self._stored[str(passage.id)] = Memory(
                    text=passage.text,
                    session_id=session.session_id,
                    position=position,
                    timestamp=when,
                    metadata={"session_index": index, "role": turn.role},
                )

    def _tell_agent(self, agent_id: str, session: Session, index: int) -> None:
        when = f", {session.start_time}" if session.start_time else ""
        lines = [f"Conversation (session {session.session_id}{when}):"]
        lines += [turn_text(turn.role, turn.content) for turn in session.turns]
        response = self._writer.agents.messages.create(
            agent_id, messages=[{"role": "user", "content": "\n".join(lines)}]
        )
        usage = response.usage
        self._usage = self._usage.add(
            Usage(
                calls=usage.step_count or 0,
                prompt_tokens=usage.prompt_tokens or 0,
                completion_tokens=usage.completion_tokens or 0,
            )
        )
        reason = response.stop_reason.stop_reason
        if reason not in _FINISHED:
            raise ServiceError(f"letta: the agent stopped ({reason}) on session {session.session_id}")
        new = [p for p in self._all_passages(agent_id) if str(p.id) not in self._stored]
        for passage in new:
            self._stored[str(passage.id)] = Memory(
                text=passage.text,
                session_id=session.session_id,
                timestamp=session.start_time,
                metadata={"session_index": index},
            )
        self._session_passages[session.session_id] = [str(p.id) for p in new]

    def _all_passages(self, agent_id: str) -> list[Any]:
        """Every passage of the agent's archival memory, oldest first (the list endpoint pages)."""
        passages: list[Any] = []
        after: dict[str, str] = {}
        while True:
            page = self._client.agents.passages.list(agent_id, limit=_PAGE, ascending=True, **after)
            passages += page
            if len(page) < _PAGE:
                return passages
            after = {"after": str(page[-1].id)}

    # ------------------------------------------------------------ helpers

    def _ready(self) -> str:
        if self._client is None or self._agent_id is None:
            raise RuntimeError("letta: reset(episode) must be called before ingest or retrieve")
        return self._agent_id

    def _memory(self, passage_id: str, text: str, tags: list[str] | None) -> Memory:
        known = self._stored.get(passage_id)
        tagged = next((t.removeprefix(SESSION_TAG) for t in tags or [] if t.startswith(SESSION_TAG)), None)
        metadata = {"id": passage_id, "tags": list(tags or [])}
        if known is None:
            return Memory(text=text, session_id=tagged, metadata=metadata)
        return known.model_copy(update={"text": text, "metadata": {**known.metadata, **metadata}})

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking SDK call in a thread; its failures become errors that name the server."""
        return await call_in_thread(functools.partial(fn, *args, **kwargs), self._failure)

    def _failure(self, exc: Exception) -> MembenchError | None:
        """What a failed call means, said without the password; None for what is not the server's doing."""
        import letta_client

        url = self._service.url
        if isinstance(exc, letta_client.APITimeoutError):
            return self._service.failure("timeout", f"{url} did not answer within {self.timeout_s:g} s")
        if isinstance(exc, letta_client.APIConnectionError):
            return self._service.failure(
                "unreachable",
                f"cannot connect to {url} ({exc.__cause__ or exc}): the Letta server must be running there",
            )
        if isinstance(exc, letta_client.APIStatusError):
            status, body = exc.status_code, exc.response.text[:300]
            if status in REFUSED_STATUSES:
                return self._service.failure(
                    "refused",
                    f"the server at {url} refused the request (HTTP {status}: {body}); set "
                    f"{API_KEY_ENV} to its password (LETTA_SERVER_PASSWORD)",
                )
            return self._service.failure("status", f"HTTP {status} from {url}: {body}")
        return None
