"""A loopback fake of a Letta server's REST API, as the ``letta-client`` 1.12 SDK calls it.

Read from ``letta_client/_client.py`` (``Authorization: Bearer <key>``), ``letta_client/resources/
agents/{agents,passages,messages}.py`` (paths, methods, query and body fields) and ``letta_client/
types`` (``AgentState``, ``Passage``, ``PassageSearchResponse``, ``LettaResponse``), and from the
server's ``routers/v1/agents.py`` for what it answers. The fake is a server started with
``SECURE=true``: any request without ``Bearer <password>`` is 401 ``{"detail": "Unauthorized"}``;
errors are FastAPI's ``{"detail": ...}``. What it serves, under ``/v1``:

* agents (``POST /agents/``, ``GET``/``DELETE /agents/{agent_id}``): a model or embedding handle the
  server does not offer (``models``, ``embeddings``) is refused, as Letta refuses an unknown handle;
* archival memory (``POST``/``GET /agents/{agent_id}/archival-memory``, ``DELETE .../{memory_id}``,
  ``GET .../archival-memory/search``): passages with their tags and dates, listed oldest first with
  ``after``/``limit`` paging, and searched by token overlap with the query (Letta embeds), best first,
  ``top_k`` of them, within the one agent, optionally only those with the given tags;
* messages (``POST /agents/{agent_id}/messages``): a deterministic agent standing in for the LLM. For
  every ``user: ...`` line of a user message it calls ``archival_memory_insert`` with that line's text
  (one step per call, then one to answer), and answers with the tool calls, their returns, an
  assistant message, ``stop_reason`` and ``usage`` (tokens counted as words). ``stop_reason`` can be
  forced, to test an agent step that fails.

``write_errors`` makes the next that many writes (passage creates, messages) answer 500 without
storing anything, to show what a client does with a failed write.

Every request is recorded in order (``requests``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from membench.testing.fakes import (
    ApiCall,
    FakeRestServer,
    Reply,
    ReplyNow,
    Route,
    now_iso,
    overlap_score,
    parse_iso,
)

DEFAULT_MODELS = ("openai/gpt-4o-mini",)
DEFAULT_EMBEDDINGS = ("openai/text-embedding-3-small",)
#: the tool Letta's agents archive with, and the line prefix the fake agent archives.
INSERT_TOOL = "archival_memory_insert"
_USER_LINE = "user: "


def _detail(status: int, detail: Any) -> Reply:
    return status, {"detail": detail}


@dataclass
class _Passage:
    id: str
    text: str
    tags: list[str]
    created_at: datetime

    def as_json(self, agent: _Agent) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "tags": self.tags,
            "created_at": self.created_at.isoformat(),
            "archive_id": agent.archive_id,
            "embedding": None,
            "embedding_config": agent.embedding_config(),
            "metadata": {},
            "is_deleted": False,
        }


@dataclass
class _Agent:
    id: str
    name: str
    model: str
    embedding: str
    tags: list[str]
    metadata: dict[str, Any] | None
    blocks: list[dict[str, Any]]
    created_at: str
    archive_id: str = field(default_factory=lambda: f"archive-{uuid.uuid4()}")
    passages: list[_Passage] = field(default_factory=list)  # oldest first

    def embedding_config(self) -> dict[str, Any]:
        provider, _, model = self.embedding.partition("/")
        return {
            "embedding_model": model,
            "embedding_endpoint_type": provider,
            "embedding_dim": 1536,
            "handle": self.embedding,
        }

    def as_json(self) -> dict[str, Any]:
        provider, _, model = self.model.partition("/")
        return {
            "id": self.id,
            "name": self.name,
            "agent_type": "letta_v1_agent",
            "system": "You are a helpful assistant with a long-term memory.",
            "tags": self.tags,
            "metadata": self.metadata,
            "blocks": self.blocks,
            "memory": {"blocks": self.blocks},
            "llm_config": {
                "model": model,
                "model_endpoint_type": provider,
                "context_window": 128000,
                "handle": self.model,
            },
            "embedding_config": self.embedding_config(),
            "sources": [],
            "tools": [],
            "created_at": self.created_at,
        }


class FakeLetta(FakeRestServer):
    """``with FakeLetta("password") as server: Letta(base_url=server.base_url, api_key="password")``."""

    prefix: ClassVar[str] = ""

    def __init__(
        self,
        password: str,
        *,
        models: Iterable[str] = DEFAULT_MODELS,
        embeddings: Iterable[str] = DEFAULT_EMBEDDINGS,
    ) -> None:
        super().__init__(password)
        self.models = tuple(models)
        self.embeddings = tuple(embeddings)
        #: when set, the agent's next steps end with this stop reason instead of ``end_turn``.
        self.stop_reason: str | None = None
        #: how many of the next writes answer 500 ``Internal Server Error``.
        self.write_errors = 0
        self.agents: dict[str, _Agent] = {}

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/v1/agents/", self._create_agent),
            Route("GET", "/v1/agents/{agent_id}", self._get_agent),
            Route("DELETE", "/v1/agents/{agent_id}", self._delete_agent),
            Route("GET", "/v1/agents/{agent_id}/archival-memory/search", self._search),
            Route("POST", "/v1/agents/{agent_id}/archival-memory", self._create_passage),
            Route("GET", "/v1/agents/{agent_id}/archival-memory", self._list_passages),
            Route("DELETE", "/v1/agents/{agent_id}/archival-memory/{memory_id}", self._delete_passage),
            Route("POST", "/v1/agents/{agent_id}/messages", self._send_message),
        ]

    def expected_authorization(self) -> str:
        return f"Bearer {self.api_key}"

    def unauthorized(self) -> Reply:
        return _detail(401, "Unauthorized")

    def not_found(self, what: str) -> Reply:
        return _detail(404, "Not Found")

    # ------------------------------------------------------------ handlers (run under self.lock)

    def _agent(self, call: ApiCall) -> _Agent:
        agent = self.agents.get(call.params["agent_id"])
        if agent is None:
            raise ReplyNow(_detail(404, f"Agent with id={call.params['agent_id']} not found"))
        return agent

    def _create_agent(self, call: ApiCall) -> Reply:
        body = call.body if isinstance(call.body, dict) else {}
        model, embedding = body.get("model"), body.get("embedding")
        if model not in self.models:
            return _detail(404, f"Handle {model} not found, must be one of {list(self.models)}")
        if embedding not in self.embeddings:
            return _detail(404, f"Handle {embedding} not found, must be one of {list(self.embeddings)}")
        blocks = [
            {"id": f"block-{uuid.uuid4()}", "label": b["label"], "value": b["value"], "limit": 20000}
            for b in body.get("memory_blocks") or []
        ]
        agent = _Agent(
            id=f"agent-{uuid.uuid4()}",
            name=str(body.get("name") or "agent"),
            model=model,
            embedding=embedding,
            tags=list(body.get("tags") or []),
            metadata=body.get("metadata"),
            blocks=blocks,
            created_at=now_iso(),
        )
        self.agents[agent.id] = agent
        return 200, agent.as_json()

    def _get_agent(self, call: ApiCall) -> Reply:
        return 200, self._agent(call).as_json()

    def _delete_agent(self, call: ApiCall) -> Reply:
        agent = self._agent(call)
        del self.agents[agent.id]
        return 200, {"message": f"Agent id={agent.id} successfully deleted"}

    def _fail_a_write(self) -> None:
        """Answer this write 500 without storing anything, if ``write_errors`` says so."""
        if self.write_errors > 0:
            self.write_errors -= 1
            raise ReplyNow(_detail(500, "Internal Server Error"))

    def _create_passage(self, call: ApiCall) -> Reply:
        agent = self._agent(call)
        self._fail_a_write()
        body = call.body if isinstance(call.body, dict) else {}
        if not isinstance(body.get("text"), str):
            return _detail(422, [{"loc": ["body", "text"], "msg": "Field required"}])
        when = body.get("created_at")  # none: the server dates the passage now
        try:
            created = datetime.now(UTC) if when is None else parse_iso(str(when))
        except ValueError:
            return _detail(422, [{"loc": ["body", "created_at"], "msg": "Input should be a valid datetime"}])
        passage = _Passage(f"passage-{uuid.uuid4()}", body["text"], list(body.get("tags") or []), created)
        agent.passages.append(passage)
        return 200, [passage.as_json(agent)]

    def _list_passages(self, call: ApiCall) -> Reply:
        agent = self._agent(call)
        passages = list(agent.passages)
        if call.query.get("ascending", "true") == "false":
            passages.reverse()
        if "after" in call.query:
            ids = [p.id for p in passages]
            passages = passages[ids.index(call.query["after"]) + 1 :] if call.query["after"] in ids else []
        if "search" in call.query:
            passages = [p for p in passages if call.query["search"].lower() in p.text.lower()]
        limit = int(call.query.get("limit", "100"))
        return 200, [p.as_json(agent) for p in passages[:limit]]

    def _delete_passage(self, call: ApiCall) -> Reply:
        agent = self._agent(call)
        memory_id = call.params["memory_id"]
        agent.passages = [p for p in agent.passages if p.id != memory_id]
        return 200, {"message": f"Memory id={memory_id} successfully deleted"}

    def _search(self, call: ApiCall) -> Reply:
        agent = self._agent(call)
        if "query" not in call.query:
            return _detail(422, [{"loc": ["query", "query"], "msg": "Field required"}])
        query = call.query["query"]
        candidates = agent.passages
        if "tags" in call.query:  # the recorded query keeps one value per name: one tag
            candidates = [p for p in candidates if call.query["tags"] in p.tags]
        ranked = sorted(candidates, key=lambda p: -overlap_score(query, p.text))  # stable: oldest first
        ranked = [p for p in ranked if overlap_score(query, p.text) > 0]
        top_k = int(call.query.get("top_k", "10"))
        results = [
            {
                "id": p.id,
                "content": p.text,
                "timestamp": p.created_at.strftime("%Y-%m-%d %I:%M:%S %p UTC%z"),
                "tags": p.tags,
            }
            for p in ranked[:top_k]
        ]
        return 200, {"results": results, "count": len(results)}

    def _send_message(self, call: ApiCall) -> Reply:
        agent = self._agent(call)
        self._fail_a_write()
        body = call.body if isinstance(call.body, dict) else {}
        messages = body.get("messages") or []
        if not messages:
            return _detail(422, "Messages must not be empty")
        said = [
            line.removeprefix(_USER_LINE)
            for message in messages
            if message.get("role") == "user" and isinstance(message.get("content"), str)
            for line in message["content"].splitlines()
            if line.startswith(_USER_LINE)
        ]
        replies: list[dict[str, Any]] = []
        for text in said:
            agent.passages.append(_Passage(f"passage-{uuid.uuid4()}", text, [], datetime.now(UTC)))
            call_id = f"call-{uuid.uuid4()}"
            replies.append(
                {
                    "id": f"message-{uuid.uuid4()}",
                    "date": now_iso(),
                    "message_type": "tool_call_message",
                    "tool_call": {
                        "name": INSERT_TOOL,
                        "arguments": json.dumps({"content": text}),
                        "tool_call_id": call_id,
                    },
                }
            )
            replies.append(
                {
                    "id": f"message-{uuid.uuid4()}",
                    "date": now_iso(),
                    "message_type": "tool_return_message",
                    "status": "success",
                    "tool_call_id": call_id,
                    "tool_return": "None",
                }
            )
        replies.append(
            {
                "id": f"message-{uuid.uuid4()}",
                "date": now_iso(),
                "message_type": "assistant_message",
                "content": "Noted.",
            }
        )
        prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
        usage = {
            "message_type": "usage_statistics",
            "prompt_tokens": prompt,
            "completion_tokens": 2 * len(said) + 1,
            "total_tokens": prompt + 2 * len(said) + 1,
            "step_count": len(said) + 1,
        }
        stop = {"message_type": "stop_reason", "stop_reason": self.stop_reason or "end_turn"}
        return 200, {"messages": replies, "stop_reason": stop, "usage": usage}
