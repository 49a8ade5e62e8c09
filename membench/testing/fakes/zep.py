"""A loopback fake of Zep's v4 REST API, as the ``zep-cloud`` 4.x SDK calls it.

Read from ``zep_cloud/{user,thread,task,graph}/raw_client.py`` and ``zep_cloud/types``: the base path
``/api/v4``, the ``Authorization: Api-Key <key>`` header, the request bodies and the JSON the SDK
parses (``User``, ``Thread``, ``AddMessagesResult``, ``Task``, ``EdgePage``, ``EpisodePage``, errors
as ``{"error": {"code", "message"}}``). What it serves:

* users (``POST /users``, ``POST /users/lookup``, ``DELETE /users/{uuid}``): a ``user_id`` is unique
  in the project; deleting is asynchronous (a task), and the ``user_id`` stays taken until it is done;
* threads (``POST /threads``) and their messages (``POST /threads/{uuid}/messages``, at most 30 a
  call, as the service allows): each message becomes one episode of the user's graph, tracked by the
  call's task;
* tasks (``GET /tasks/{uuid}``): ``pending``, then ``processing`` for the first ``processing_polls``
  polls, then ``task_outcome`` (``succeeded``, ``partial`` or ``failed``). Only then are the task's
  episodes in the graph, so a search before that finds nothing of them;
* graph search (``POST /graphs/{graph_or_user_uuid}/search/edges`` and ``/search/episodes``): Zep
  derives facts with an LLM; here each processed message is one fact stated verbatim (its edge), and
  both searches rank by token overlap with the query, within the one graph, best first.

It records each status poll per task and, for each search, how many episodes of that graph were still
unprocessed (``searches``), so a test can show that no search ever met a half-built graph.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from membench.testing.fakes import ApiCall, FakeRestServer, Reply, Route, now_iso, overlap_score

TaskOutcome = Literal["succeeded", "partial", "failed"]
#: the most messages one ``thread.add_messages`` call may carry (Zep's documented limit).
MAX_MESSAGES_PER_CALL = 30


def _error(status: int, code: str, message: str) -> Reply:
    return status, {"error": {"code": code, "message": message}}


@dataclass
class _Task:
    uuid: str
    type: str
    created_at: str
    episode_uuids: list[str] = field(default_factory=list)
    user_uuid: str | None = None  # a user deletion's user
    polls: int = 0
    status: str = "pending"

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "uuid": self.uuid,
            "type": self.type,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": now_iso(),
        }
        if self.status in ("succeeded", "partial", "failed"):
            body["completed_at"] = body["updated_at"]
        if self.status in ("succeeded", "partial") and self.episode_uuids:
            body["result"] = {"episodes": [{"episode_uuid": e} for e in self.episode_uuids]}
        if self.status in ("partial", "failed"):
            body["error"] = {"code": "extraction_failed", "message": "graph extraction failed"}
        return body


@dataclass
class _Episode:
    uuid: str
    graph_uuid: str
    user_uuid: str
    thread_uuid: str
    content: str
    role: str | None
    role_name: str | None
    metadata: dict[str, Any] | None
    reference_time: str
    created_at: str
    processed: bool = False


class FakeZep(FakeRestServer):
    """Zep Cloud's v4 API for one project whose key is ``api_key``.

    ``processing_polls`` and ``task_outcome`` script the next tasks; ``task_polls`` counts the status
    polls of each task, and ``searches`` records ``(graph, query, unprocessed episodes)`` per search.
    """

    prefix: ClassVar[str] = "/api/v4"

    def __init__(self, api_key: str, *, processing_polls: int = 2) -> None:
        self.processing_polls = processing_polls
        self.task_outcome: TaskOutcome = "succeeded"
        self.users: dict[str, dict[str, Any]] = {}
        self.threads: dict[str, dict[str, Any]] = {}
        self.episodes: dict[str, _Episode] = {}
        self.tasks: dict[str, _Task] = {}
        self._outcomes: dict[str, TaskOutcome] = {}
        self._deleting: dict[str, str] = {}  # user uuid -> its deletion task
        self.task_polls: Counter[str] = Counter()
        self.searches: list[tuple[str, str, int]] = []
        super().__init__(api_key)

    def expected_authorization(self) -> str:
        return f"Api-Key {self.api_key}"

    def unauthorized(self) -> Reply:
        return _error(401, "unauthorized", "invalid or missing API key")

    def not_found(self, what: str) -> Reply:
        return _error(404, "not_found", f"{what} not found")

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/users", self._create_user),
            Route("POST", "/users/lookup", self._lookup_user),
            Route("DELETE", "/users/{user_uuid}", self._delete_user),
            Route("POST", "/threads", self._create_thread),
            Route("POST", "/threads/{thread_uuid}/messages", self._add_messages),
            Route("GET", "/tasks/{task_uuid}", self._get_task),
            Route("POST", "/graphs/{graph_uuid}/search/edges", self._search_edges),
            Route("POST", "/graphs/{graph_uuid}/search/episodes", self._search_episodes),
        ]

    # ------------------------------------------------------------ users and threads

    def _create_user(self, call: ApiCall) -> Reply:
        body = call.body or {}
        user_id = body.get("user_id")
        if user_id is not None and any(u["user_id"] == user_id for u in self.users.values()):
            return _error(409, "conflict", f"a user with user_id {user_id!r} already exists")
        user: dict[str, Any] = {
            "uuid": str(uuid.uuid4()),
            "user_id": user_id,
            "graph_uuid": str(uuid.uuid4()),
            "metadata": body.get("metadata"),
            "created_at": now_iso(),
        }
        self.users[user["uuid"]] = user
        return 201, user

    def _lookup_user(self, call: ApiCall) -> Reply:
        user_id = (call.body or {}).get("user_id")
        found = next((u for u in self.users.values() if u["user_id"] == user_id), None)
        return (200, found) if found is not None else self.not_found(f"user {user_id!r}")

    def _delete_user(self, call: ApiCall) -> Reply:
        user_uuid = call.params["user_uuid"]
        if user_uuid not in self.users:
            return self.not_found(f"user {user_uuid}")
        if user_uuid not in self._deleting:
            task = self._new_task("user_delete", outcome="succeeded")
            task.user_uuid = user_uuid
            self._deleting[user_uuid] = task.uuid
        return 202, {"task": self.tasks[self._deleting[user_uuid]].as_json()}

    def _create_thread(self, call: ApiCall) -> Reply:
        user_uuid = str((call.body or {}).get("user_uuid"))
        user = self.users.get(user_uuid)
        if user is None:
            return self.not_found(f"user {user_uuid}")
        thread = {
            "uuid": str(uuid.uuid4()),
            "user_uuid": user["uuid"],
            "graph_uuid": user["graph_uuid"],
            "created_at": now_iso(),
        }
        self.threads[thread["uuid"]] = thread
        return 201, thread

    def _add_messages(self, call: ApiCall) -> Reply:
        thread = self.threads.get(call.params["thread_uuid"])
        if thread is None or thread["user_uuid"] not in self.users:
            return self.not_found(f"thread {call.params['thread_uuid']}")
        messages = (call.body or {}).get("messages") or []
        if not 1 <= len(messages) <= MAX_MESSAGES_PER_CALL:
            return _error(400, "bad_request", f"messages must hold 1 to {MAX_MESSAGES_PER_CALL} items")
        if any(not (m.get("content") or "").strip() for m in messages):
            return _error(400, "bad_request", "message content must not be empty")
        task = self._new_task("add_messages", outcome=self.task_outcome)
        added = []
        for message in messages:
            created = now_iso()
            episode = _Episode(
                uuid=str(uuid.uuid4()),
                graph_uuid=thread["graph_uuid"],
                user_uuid=thread["user_uuid"],
                thread_uuid=thread["uuid"],
                content=message["content"],
                role=message.get("role"),
                role_name=message.get("name"),
                metadata=message.get("metadata"),
                reference_time=message.get("reference_time") or created,
                created_at=created,
            )
            self.episodes[episode.uuid] = episode
            task.episode_uuids.append(episode.uuid)
            added.append(
                {
                    "uuid": episode.uuid,
                    "thread_uuid": thread["uuid"],
                    "content": episode.content,
                    "role": episode.role,
                    "name": episode.role_name,
                    "metadata": episode.metadata,
                    "reference_time": episode.reference_time,
                    "created_at": created,
                    "processed": False,
                }
            )
        return 202, {"messages": added, "task": task.as_json()}

    # ------------------------------------------------------------ tasks

    def _new_task(self, kind: str, outcome: TaskOutcome) -> _Task:
        task = _Task(uuid=str(uuid.uuid4()), type=kind, created_at=now_iso())
        self.tasks[task.uuid] = task
        self._outcomes[task.uuid] = outcome
        return task

    def _get_task(self, call: ApiCall) -> Reply:
        task = self.tasks.get(call.params["task_uuid"])
        if task is None:
            return self.not_found(f"task {call.params['task_uuid']}")
        self.task_polls[task.uuid] += 1
        if task.status in ("pending", "processing"):
            task.polls += 1
            if task.polls <= self.processing_polls:
                task.status = "processing"
            else:
                self._finish(task)
        return 200, task.as_json()

    def _finish(self, task: _Task) -> None:
        outcome = self._outcomes[task.uuid]
        task.status = outcome
        if task.user_uuid is not None:
            self._forget_user(task.user_uuid)
            return
        # A partial task processed its first half; a failed one nothing.
        keep = {"succeeded": len(task.episode_uuids), "partial": len(task.episode_uuids) // 2}.get(outcome, 0)
        for episode_uuid in task.episode_uuids[:keep]:
            self.episodes[episode_uuid].processed = True
        task.episode_uuids = task.episode_uuids[:keep]

    def _forget_user(self, user_uuid: str) -> None:
        """A finished deletion: the user, its threads and its graph are gone and its ``user_id`` is free."""
        self.users.pop(user_uuid, None)
        self._deleting.pop(user_uuid, None)
        for thread_uuid in [t for t, thread in self.threads.items() if thread["user_uuid"] == user_uuid]:
            del self.threads[thread_uuid]
        for episode_uuid in [e for e, ep in self.episodes.items() if ep.user_uuid == user_uuid]:
            del self.episodes[episode_uuid]

    # ------------------------------------------------------------ search

    def _graph_episodes(self, graph_or_user: str, query: str) -> tuple[list[_Episode], int]:
        """The processed episodes of one graph (named by its own or its user's uuid), and how many
        of its episodes are not processed yet."""
        in_graph = [e for e in self.episodes.values() if graph_or_user in (e.graph_uuid, e.user_uuid)]
        unprocessed = sum(not e.processed for e in in_graph)
        self.searches.append((graph_or_user, query, unprocessed))
        return [e for e in in_graph if e.processed], unprocessed

    def _ranked(self, call: ApiCall) -> list[tuple[float, _Episode]]:
        query = str((call.body or {}).get("query") or "")
        episodes, _ = self._graph_episodes(call.params["graph_uuid"], query)
        scored = [(overlap_score(query, e.content), e) for e in episodes]
        ranked = sorted((pair for pair in scored if pair[0] > 0), key=lambda pair: -pair[0])
        return ranked[: int(call.query.get("page_size") or 10)]

    def _search_edges(self, call: ApiCall) -> Reply:
        items = [
            {
                "uuid": f"edge-{episode.uuid}",
                "name": "STATED",
                "fact": episode.content,
                "score": score,
                "scope": "entity",
                "episode_uuids": [episode.uuid],
                "graph_uuid": episode.graph_uuid,
                "user_uuid": episode.user_uuid,
                "created_at": episode.created_at,
                "valid_at": episode.reference_time,
                "source_node_name": episode.role_name or episode.role,
            }
            for score, episode in self._ranked(call)
        ]
        return 200, {"items": items}

    def _search_episodes(self, call: ApiCall) -> Reply:
        items = [
            {
                "uuid": episode.uuid,
                "content": episode.content,
                "score": score,
                "source": "message",
                "role": episode.role,
                "role_name": episode.role_name,
                "metadata": episode.metadata,
                "thread_uuid": episode.thread_uuid,
                "graph_uuid": episode.graph_uuid,
                "user_uuid": episode.user_uuid,
                "reference_time": episode.reference_time,
                "created_at": episode.created_at,
                "processed": True,
            }
            for score, episode in self._ranked(call)
        ]
        return 200, {"items": items}
