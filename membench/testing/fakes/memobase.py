"""A loopback fake of a self-hosted Memobase server's REST API, as the ``memobase`` 0.0.27 client calls it.

Read from ``memobase/core/entry.py``, ``memobase/network.py`` and ``memobase/core/{blob,user,type}.py``
(and the server's ``api_layer`` for what it answers): the base path ``/api/v1``, the ``Authorization:
Bearer <key>`` header, every answer wrapped as ``{"data", "errno", "errmsg"}``. As on the server, a
missing or wrong key is HTTP 401 (the client raises ``httpx.HTTPStatusError``), an unknown user or a
bad request is HTTP 200 with a non-zero ``errno`` (the client raises ``memobase.error.ServerError``),
and an unknown path is FastAPI's 404 ``{"detail": "Not Found"}``. What it serves:

* users (``POST /users``, ``GET``/``DELETE /users/{uuid}``);
* chat blobs (``POST /blobs/insert/{uuid}``): each goes to the user's buffer, ``idle``; with
  ``background=True`` the fake instead starts processing it at once, as the server does with a full
  buffer: ``processing`` for ``processing_s``, then ``done`` (or ``failed``);
* the flush (``POST /users/buffer/{uuid}/chat?wait_process=...``): the server's LLM extraction, made
  deterministic: every user message of an idle blob becomes one event whose tip is the message, stated
  verbatim. With ``fail_extraction`` set it fails instead, as an LLM error would;
* buffer status (``GET /users/buffer/capacity/{uuid}/chat?status=...``): the blob ids in that status;
* events (``GET /users/event/{uuid}?topk=``, newest first) and event search (``GET
  /users/event/search/{uuid}?query=&topk=&similarity_threshold=&time_range_in_days=``): similarity is
  token overlap with the query, only events above the threshold, best first, within the one user.

Every request is recorded in order (``requests``), so a test can show when the flush happened.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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

#: the blob types the server knows (memobase.core.blob.BlobType); only chat is processed here.
BLOB_TYPES = ("chat", "summary", "doc", "image", "code", "transcript")
CHAT_ROLES = ("user", "assistant")


def _ok(data: Any = None) -> Reply:
    return 200, {"data": data, "errno": 0, "errmsg": ""}


def _error(errno: int, message: str) -> Reply:
    return 200, {"data": None, "errno": errno, "errmsg": message}


@dataclass
class _Blob:
    id: str
    messages: list[dict[str, Any]]
    status: str = "idle"  # idle | processing | done | failed


@dataclass
class _User:
    id: str
    data: dict[str, Any] | None
    created_at: str
    buffer: list[_Blob] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first


class FakeMemobase(FakeRestServer):
    """``with FakeMemobase("key") as server: MemoBaseClient(server.base_url, "key")``.

    ``base_url`` is the project URL the client takes (it appends ``api/v1`` itself).
    """

    prefix: ClassVar[str] = "/api/v1"

    def __init__(self, api_key: str, *, background: bool = False, processing_s: float = 0.3) -> None:
        super().__init__(api_key)
        self.background = background
        self.processing_s = processing_s
        self.fail_extraction = False
        self.users: dict[str, _User] = {}
        self._timers: list[threading.Timer] = []

    @property
    def base_url(self) -> str:
        return super().base_url.removesuffix(self.prefix)

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/users", self._create_user),
            Route("GET", "/users/{user_id}", self._get_user),
            Route("DELETE", "/users/{user_id}", self._delete_user),
            Route("POST", "/blobs/insert/{user_id}", self._insert),
            Route("POST", "/users/buffer/{user_id}/{blob_type}", self._flush),
            Route("GET", "/users/buffer/capacity/{user_id}/{blob_type}", self._capacity),
            Route("GET", "/users/event/search/{user_id}", self._search_events),
            Route("GET", "/users/event/{user_id}", self._events),
        ]

    def expected_authorization(self) -> str:
        return f"Bearer {self.api_key}"

    def unauthorized(self) -> Reply:
        message = "Unauthorized access. Wrong secret key"
        return 401, {"data": None, "errno": 401, "errmsg": message}

    def not_found(self, what: str) -> Reply:
        return 404, {"detail": "Not Found"}

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        super().stop()

    # ------------------------------------------------------------ handlers (run under self.lock)

    def _user(self, call: ApiCall) -> _User:
        user_id = call.params["user_id"]
        try:
            uuid.UUID(user_id)
        except ValueError:
            detail = [{"loc": ["path", "user_id"], "msg": "Input should be a valid UUID"}]
            raise ReplyNow((422, {"detail": detail})) from None
        user = self.users.get(user_id)
        if user is None:
            raise ReplyNow(_error(404, f"User {user_id} not found"))
        return user

    def _create_user(self, call: ApiCall) -> Reply:
        body = call.body if isinstance(call.body, dict) else {}
        user_id = str(body.get("id") or uuid.uuid4())
        if user_id in self.users:
            return _error(409, f"User {user_id} already exists")
        self.users[user_id] = _User(user_id, body.get("data"), now_iso())
        return _ok({"id": user_id})

    def _get_user(self, call: ApiCall) -> Reply:
        user = self._user(call)
        return _ok(
            {"data": user.data, "id": user.id, "created_at": user.created_at, "updated_at": user.created_at}
        )

    def _delete_user(self, call: ApiCall) -> Reply:
        user = self._user(call)
        del self.users[user.id]
        return _ok()

    def _insert(self, call: ApiCall) -> Reply:
        user = self._user(call)
        body = call.body if isinstance(call.body, dict) else {}
        if body.get("blob_type") != "chat":
            return _error(400, f"the fake stores chat blobs only, got {body.get('blob_type')!r}")
        messages = (body.get("blob_data") or {}).get("messages")
        if not isinstance(messages, list) or any(
            not isinstance(m, dict)
            or m.get("role") not in CHAT_ROLES
            or not isinstance(m.get("content"), str)
            for m in messages
        ):
            return 422, {"detail": [{"loc": ["body", "blob_data"], "msg": "invalid chat messages"}]}
        blob = _Blob(str(uuid.uuid4()), messages)
        user.buffer.append(blob)
        if self.background:
            blob.status = "processing"
            timer = threading.Timer(self.processing_s, self._finish_in_background, (user, blob))
            self._timers.append(timer)
            timer.start()
        return _ok({"id": blob.id, "chat_results": []})

    def _finish_in_background(self, user: _User, blob: _Blob) -> None:
        with self.lock:
            self._process(user, [blob])

    def _flush(self, call: ApiCall) -> Reply:
        user = self._user(call)
        if call.params["blob_type"] not in BLOB_TYPES:
            return 422, {"detail": [{"loc": ["path", "buffer_type"], "msg": "not a blob type"}]}
        idle = [blob for blob in user.buffer if blob.status == "idle"]
        if not idle:
            return _ok([])
        event_ids = self._process(user, idle)
        if event_ids is None:
            return _error(500, "Failed to extract memories from the chats (LLM error)")
        # The server answers one extraction summary per flush (ChatModalAPIResponse); the client drops it.
        summary: dict[str, Any] = {"event_id": event_ids[-1] if event_ids else None}
        return _ok([summary | {"add_profiles": [], "update_profiles": [], "delete_profiles": []}])

    def _process(self, user: _User, blobs: list[_Blob]) -> list[str] | None:
        """The extraction: each user message one event, stated verbatim; None if it fails."""
        if self.fail_extraction:
            for blob in blobs:
                blob.status = "failed"
            return None
        event_ids: list[str] = []
        for blob in blobs:
            for message in blob.messages:
                if message["role"] != "user":
                    continue
                event_id = str(uuid.uuid4())
                event_data = {"profile_delta": [], "event_tip": message["content"], "event_tags": None}
                stamp = now_iso()
                user.events.append(
                    {"id": event_id, "event_data": event_data, "created_at": stamp, "updated_at": stamp}
                )
                event_ids.append(event_id)
            blob.status = "done"
        return event_ids

    def _capacity(self, call: ApiCall) -> Reply:
        user = self._user(call)
        status = call.query.get("status", "processing")
        return _ok({"ids": [blob.id for blob in user.buffer if blob.status == status]})

    def _events(self, call: ApiCall) -> Reply:
        user = self._user(call)
        topk = int(call.query.get("topk", "10"))
        return _ok({"events": list(reversed(user.events))[:topk]})

    def _search_events(self, call: ApiCall) -> Reply:
        user = self._user(call)
        if "query" not in call.query:
            return 422, {"detail": [{"loc": ["query", "query"], "msg": "Field required"}]}
        query = call.query["query"]
        topk = int(call.query.get("topk", "10"))
        threshold = float(call.query.get("similarity_threshold", "0.2"))
        since = datetime.now(UTC) - timedelta(days=int(call.query.get("time_range_in_days", "180")))
        scored = []
        for event in user.events:
            similarity = overlap_score(query, event["event_data"]["event_tip"] or "")
            created = parse_iso(event["created_at"])
            if similarity > threshold and created > since:
                scored.append({**event, "similarity": similarity})
        scored.sort(key=lambda event: -event["similarity"])  # stable: ties stay oldest first
        return _ok({"events": scored[:topk]})
