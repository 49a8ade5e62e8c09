"""A local OpenAI-compatible server: the LLM provider of tests and throughput benchmarks.

Everything that talks to an LLM in membench (our client through litellm, mem0 through its own openai
client) is exercised against this server on 127.0.0.1, so the real HTTP stack, the real retry path
and the real cache are tested without a network or an API key. Its behaviour is scripted: a
``responder`` decides the assistant's text, a queue of faults makes the next requests fail in the
ways providers fail (429 with Retry-After, 5xx, a hang past the client's timeout, a body that is not
JSON), and counters record what arrived so tests can assert on requests, headers and concurrency.
A responder that cannot answer a request raises ``UnanswerableRequest``: the server answers 400,
which clients do not retry, so the test sees the failure at once instead of after a retry budget.

Only the standard library is used so that the server starts in milliseconds and needs no extra.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

Responder = Callable[[dict[str, Any]], str]
#: ("status", code[, headers[, message]]) | ("delay", seconds) | ("malformed",)
Fault = tuple[Any, ...]

_FAULT_KINDS = {"status", "delay", "malformed"}


# ---------------------------------------------------------------- responders


class UnanswerableRequest(Exception):
    """Raised by a responder for a request it cannot answer as the real service would (answered 400)."""


def message_text(content: Any) -> str:
    """The text of a message's ``content``, whether a string or a list of OpenAI content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def echo_responder(request: dict[str, Any]) -> str:
    """Answer with the last user message, prefixed: deterministic, and shows what the model saw."""
    users = [m for m in request.get("messages", []) if m.get("role") == "user"]
    last = message_text(users[-1].get("content")) if users else ""
    return f"Echo: {last}"


_SECTION = re.compile(r"^##\s+New Messages\s*$(.*?)(?=^#|\Z)", re.MULTILINE | re.DOTALL)
_USER_LINE = re.compile(r"^\s*user:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)


def _user_statements(request: dict[str, Any]) -> list[str]:
    """The user lines of the conversation mem0 asks to extract from.

    mem0 2.x puts the conversation in a ``## New Messages`` section of its user prompt (other
    sections repeat older messages, which must not become new memories); mem0 1.x sends the
    conversation alone. Either way each ``user: ...`` line becomes one memory.
    """
    users = [m for m in request.get("messages", []) if m.get("role") == "user"]
    text = message_text(users[-1].get("content")) if users else ""
    section = _SECTION.search(text)
    return _USER_LINE.findall(section.group(1) if section else text)


def mem0_responder(request: dict[str, Any]) -> str:
    """Answer mem0's extraction calls with the JSON it parses; any other call is echoed.

    mem0 asks for ``response_format={"type": "json_object"}``. A prompt that names a ``"facts"`` key
    (mem0 1.x fact retrieval) gets ``{"facts": [...]}``; otherwise (mem0 2.x additive extraction)
    the answer is ``{"memory": [{"id", "text", "attributed_to", "linked_memory_ids"}, ...]}``.
    """
    if (request.get("response_format") or {}).get("type") != "json_object":
        return echo_responder(request)
    statements = _user_statements(request)
    prompt = " ".join(message_text(m.get("content")) for m in request.get("messages", []))
    if '"facts"' in prompt:
        return json.dumps({"facts": statements})
    memories = [
        {"id": str(i), "text": text, "attributed_to": "user", "linked_memory_ids": []}
        for i, text in enumerate(statements)
    ]
    return json.dumps({"memory": memories})


def hashed_embedding(text: str, dim: int) -> list[float]:
    """A unit vector from hashed lowercase words: identical texts match, shared words bring texts closer.

    A bag of hashed words (rather than one hash of the whole text) keeps retrieval over the fake
    embeddings meaningful enough for plumbing tests of memory systems.
    """
    vector = [0.0] * dim
    words = re.findall(r"\w+", text.lower()) or [""]
    for word in words:
        digest = hashlib.sha256(word.encode()).digest()
        index = int.from_bytes(digest[:4], "little") % dim
        vector[index] += 1.0 if digest[4] % 2 == 0 else -1.0
    norm = sum(v * v for v in vector) ** 0.5
    if norm == 0.0:  # words cancelled out: fall back to a fixed direction
        return [1.0] + [0.0] * (dim - 1)
    return [v / norm for v in vector]


def whitespace_tokens(text: str) -> int:
    return len(text.split())


# ---------------------------------------------------------------- the server


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server saw it; header names are lower-cased (HTTP names are case-blind)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


def _validate_fault(fault: Fault) -> Fault:
    if not fault or fault[0] not in _FAULT_KINDS:
        raise ValueError(f"unknown fault {fault!r}; expected one of {sorted(_FAULT_KINDS)}")
    if fault[0] == "status" and not (2 <= len(fault) <= 4 and isinstance(fault[1], int)):
        raise ValueError(f"a status fault is ('status', code[, headers[, message]]), got {fault!r}")
    if fault[0] == "delay" and not (len(fault) == 2 and float(fault[1]) >= 0):
        raise ValueError(f"a delay fault is ('delay', seconds), got {fault!r}")
    return fault


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Listen backlog: the benchmark opens dozens of connections at once; the default of 5 would
    # drop SYNs and add one-second retransmits to the measured latency.
    request_queue_size = 256

    def __init__(self, owner: FakeOpenAIServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class FakeOpenAIServer:
    """OpenAI-compatible chat, embeddings and models endpoints on ``127.0.0.1:<free port>``.

    ``with FakeOpenAIServer() as srv: srv.base_url`` gives ``http://127.0.0.1:PORT/v1``.

    Faults are consumed one per request, in order, by whichever endpoint is called next:
    ``("status", 429, {"Retry-After": "1"})`` answers that status (headers and an error message are
    optional), ``("delay", 5)`` answers normally but only after 5 s (past a client's timeout), and
    ``("malformed",)`` answers 200 with a body that is not JSON. ``latency_s`` delays every request,
    to measure throughput under a realistic round-trip.
    """

    def __init__(
        self,
        responder: Responder = echo_responder,
        *,
        faults: Iterable[Fault] = (),
        latency_s: float = 0.0,
        embedding_dim: int = 16,
        models: Iterable[str] = ("fake-model",),
    ) -> None:
        if embedding_dim < 1:
            raise ValueError("embedding_dim must be at least 1")
        self.responder = responder
        self.latency_s = latency_s
        self.embedding_dim = embedding_dim
        self.models = tuple(models)
        self._faults: deque[Fault] = deque(_validate_fault(f) for f in faults)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._requests: list[ReceivedRequest] = []
        self._path_counts: Counter[str] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeOpenAIServer:
        if self._server is not None:
            raise RuntimeError("server already started")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake delayed handlers, close kept-alive connections and join threads."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ------------------------------------------------------------ scripting and counters

    def add_faults(self, *faults: Fault) -> None:
        """Queue faults for the next requests (one each, in order)."""
        checked = [_validate_fault(f) for f in faults]
        with self._lock:
            self._faults.extend(checked)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def total_requests(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def path_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._path_counts)

    @property
    def max_in_flight(self) -> int:
        """The most requests the server was handling at the same moment."""
        with self._lock:
            return self._max_in_flight

    def reset_counters(self) -> None:
        with self._lock:
            self._requests.clear()
            self._path_counts.clear()
            self._max_in_flight = self._in_flight

    # ------------------------------------------------------------ used by the handler

    def _track_connection(self, conn: socket.socket, open_: bool) -> None:
        with self._lock:
            if not open_:
                self._connections.discard(conn)
                return
            self._connections.add(conn)
            if self._stopping.is_set():
                # Accepted just as stop() ran, after it closed the others: close this one too, or its
                # handler would wait on it forever and stop() would never join.
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def _begin(self, request: ReceivedRequest) -> Fault | None:
        with self._lock:
            self._requests.append(request)
            self._path_counts[request.path] += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            return self._faults.popleft() if self._faults else None

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _wait(self, seconds: float) -> None:
        """Sleep, but wake at once when the server stops (so shutdown never waits on a delay)."""
        if seconds > 0:
            self._stopping.wait(seconds)

    # ------------------------------------------------------------ endpoint bodies

    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        text = self.responder(body)
        prompt_tokens = sum(
            whitespace_tokens(message_text(m.get("content"))) for m in body.get("messages", [])
        )
        completion_tokens = whitespace_tokens(text)
        with self._lock:
            number = len(self._requests)
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("input", [])
        inputs = [raw] if isinstance(raw, str) else list(raw)
        dim = int(body.get("dimensions") or self.embedding_dim)
        data = []
        tokens = 0
        for i, item in enumerate(inputs):
            # Token-id inputs (lists of ints) are embedded from their decimal spelling.
            text = item if isinstance(item, str) else " ".join(str(t) for t in item)
            tokens += whitespace_tokens(text)
            vector = hashed_embedding(text, dim)
            encoded: Any = vector
            if body.get("encoding_format") == "base64":  # the openai SDK's default
                encoded = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": encoded})
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", ""),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": m, "object": "model", "created": 0, "owned_by": "membench"} for m in self.models],
        }


_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive, as real providers do; every response sets Content-Length.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the body then waits for the
    # client's delayed ACK (about 40 ms), which would swamp the latency a benchmark sets.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.owner._track_connection(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track_connection(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines http.server writes to stderr."""

    def do_GET(self) -> None:
        self._handle(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        self._handle(body)

    def _handle(self, body: Any) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        fault = owner._begin(
            ReceivedRequest(self.command, path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        try:
            owner._wait(owner.latency_s)
            if fault is not None and fault[0] == "delay":
                owner._wait(float(fault[1]))
                fault = None
            if owner._stopping.is_set():
                self.close_connection = True
                return
            if fault is not None and fault[0] == "status":
                headers = fault[2] if len(fault) > 2 else {}
                message = fault[3] if len(fault) > 3 else f"injected fault: HTTP {fault[1]}"
                self._send_error(fault[1], message, headers)
            elif fault is not None and fault[0] == "malformed":
                self._send(200, b'{"id": "chatcmpl-broken", "choices": [', "application/json")
            else:
                self._route(path, body)
        except ConnectionError:
            self.close_connection = True  # the client gave up (its timeout) before we answered
        finally:
            owner._end()

    def _route(self, path: str, body: Any) -> None:
        owner = self.server.owner
        route = path.removeprefix("/v1")
        if self.command == "GET" and route == "/models":
            self._send_json(200, owner._models())
            return
        if self.command != "POST" or route not in ("/chat/completions", "/embeddings"):
            self._send_error(404, f"no route for {self.command} {path}")
            return
        if not isinstance(body, dict):
            self._send_error(400, "request body is not a JSON object")
            return
        if route == "/embeddings":
            self._send_json(200, owner._embeddings(body))
        elif body.get("stream"):
            self._send_error(400, "FakeOpenAIServer does not stream; send stream=false")
        elif not isinstance(body.get("messages"), list):
            self._send_error(400, "'messages' must be a list")
        else:
            try:
                payload = owner._chat(body)
            except UnanswerableRequest as exc:
                self._send_error(400, f"the responder cannot answer this request: {exc}")
                return
            except Exception as exc:  # a scripted responder's bug must reach the test as a 500
                self._send_error(500, f"responder failed: {exc!r}")
                return
            self._send_json(200, payload)

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        kind = _STATUS_TYPES.get(status, "server_error")
        error = {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}
        self._send(status, json.dumps(error).encode(), "application/json", headers)

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
