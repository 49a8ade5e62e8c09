"""A local OpenAI-compatible server: the LLM provider of tests and throughput benchmarks.

Everything that talks to an LLM in membench (our client through litellm, mem0 through its own openai
client) is exercised against this server on 127.0.0.1, so the real HTTP stack, the real retry path
and the real cache are tested without a network or an API key. Its behaviour is scripted: a
``responder`` decides the assistant's reply, a queue of faults makes the next requests fail in the
ways providers fail (429 with Retry-After, 5xx, a hang past the client's timeout, a body that is not
JSON), and counters record what arrived so tests can assert on requests, headers and concurrency.
A responder that cannot answer a request raises ``UnanswerableRequest``: the server answers 400,
which clients do not retry, so the test sees the failure at once instead of after a retry budget.

It speaks the three dialects memory systems use: free text and ``json_object`` content; ``json_schema``
structured output (the responder reads the schema with ``json_schema_of``; a strict schema's reply is
checked against it, as OpenAI guarantees it); and tools: a responder returns a ``ToolCallsReply``,
sent as ``message.tool_calls`` with ``finish_reason: "tool_calls"``, and only as OpenAI could send it
(the tools the request offers, what its ``tool_choice`` allows).

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

#: ("status", code[, headers[, message]]) | ("delay", seconds) | ("malformed",) | ("html",): a 200
#: whose body is a web page, as a proxy's sign-in page or a wrong base URL answers.
Fault = tuple[Any, ...]

_FAULT_KINDS = {"status", "delay", "malformed", "html"}


# ---------------------------------------------------------------- responders


class UnanswerableRequest(Exception):
    """Raised by a responder for a request it cannot answer as the real service would (answered 400)."""


@dataclass(frozen=True)
class FunctionCall:
    """One tool call of a reply: the function's name and its arguments (an object, or the raw JSON text
    a model produced, to test a caller's handling of arguments that do not parse)."""

    name: str
    arguments: Mapping[str, Any] | str


@dataclass(frozen=True)
class ToolCallsReply:
    """A reply that calls tools (and may say something beside), sent with ``finish_reason: "tool_calls"``."""

    calls: Sequence[FunctionCall]
    content: str | None = None


#: decides the reply to a chat request: text (the message content), or tool calls.
Responder = Callable[[dict[str, Any]], str | ToolCallsReply]


def tool_names(request: Mapping[str, Any]) -> list[str]:
    """The names of the functions a request offers as tools, in its order."""
    return [
        str(tool.get("function", {}).get("name"))
        for tool in request.get("tools") or []
        if isinstance(tool, dict) and tool.get("type") == "function"
    ]


def json_schema_of(request: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a ``response_format: {"type": "json_schema"}`` request asks the reply to follow."""
    response_format = request.get("response_format") or {}
    if response_format.get("type") != "json_schema":
        return None
    schema = (response_format.get("json_schema") or {}).get("schema")
    if not isinstance(schema, dict):
        raise UnanswerableRequest("response_format json_schema carries no schema")
    return schema


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema_violations(
    value: Any, schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None, path: str = "$"
) -> list[str]:
    """Where ``value`` breaks ``schema``: the subset of JSON Schema that OpenAI's strict structured
    output supports (type, properties, required, additionalProperties, items, enum, anyOf, $defs refs)."""
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        return schema_violations(value, defs[str(schema["$ref"]).rsplit("/", 1)[-1]], defs, path)
    if "anyOf" in schema:
        if any(not schema_violations(value, option, defs, path) for option in schema["anyOf"]):
            return []
        return [f"{path}: matches none of its anyOf schemas"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(_JSON_TYPES[k](value) for k in kinds):
        return [f"{path}: expected {kind}, got {type(value).__name__}"]
    problems: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        problems += [f"{path}: missing {key!r}" for key in schema.get("required", []) if key not in value]
        if schema.get("additionalProperties") is False:
            problems += [f"{path}: unexpected {key!r}" for key in value if key not in properties]
        for key, sub in properties.items():
            if key in value:
                problems += schema_violations(value[key], sub, defs, f"{path}.{key}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            problems += schema_violations(item, schema["items"], defs, f"{path}[{i}]")
    return problems


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
    #: ``time.monotonic()`` as it arrived (one clock for every process of the machine): when a
    #: benchmark's calls went out, seen from outside the process that made them.
    received_at: float = field(default_factory=time.monotonic)


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
        reply = self.responder(body)
        with self._lock:
            number = len(self._requests)
        if isinstance(reply, ToolCallsReply):
            message = _tool_calls_message(body, reply, number)
            finish_reason = "tool_calls"
            completion_tokens = whitespace_tokens(reply.content or "") + sum(
                whitespace_tokens(call["function"]["arguments"]) for call in message["tool_calls"]
            )
        else:
            _check_text_reply(body, reply)
            message = {"role": "assistant", "content": reply}
            finish_reason = "stop"
            completion_tokens = whitespace_tokens(reply)
        prompt_tokens = sum(
            whitespace_tokens(message_text(m.get("content"))) for m in body.get("messages", [])
        )
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
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


def _forced_tool(request: Mapping[str, Any]) -> str | None:
    """The function a ``tool_choice`` of ``{"type": "function", "function": {"name": ...}}`` forces."""
    choice = request.get("tool_choice")
    if isinstance(choice, dict):
        return str((choice.get("function") or {}).get("name"))
    return None


def _tool_calls_message(request: Mapping[str, Any], reply: ToolCallsReply, number: int) -> dict[str, Any]:
    """The assistant message OpenAI sends for a tool-call reply (content null unless it says something),
    refusing calls OpenAI could not make: of tools not offered, or against ``tool_choice``."""
    offered = tool_names(request)
    if not offered:
        raise UnanswerableRequest("the responder called tools, but the request offers none")
    if not reply.calls:
        raise UnanswerableRequest("a ToolCallsReply needs at least one call")
    if request.get("tool_choice") == "none":
        raise UnanswerableRequest("the responder called tools, but the request's tool_choice is 'none'")
    forced = _forced_tool(request)
    for call in reply.calls:
        if call.name not in offered:
            raise UnanswerableRequest(f"the responder called {call.name!r}; the request offers {offered}")
        if forced is not None and call.name != forced:
            raise UnanswerableRequest(f"the responder called {call.name!r}; tool_choice forces {forced!r}")
    calls = [
        {
            "id": f"call_{number}_{i}",
            "type": "function",
            "function": {"name": call.name, "arguments": _arguments_text(call.arguments)},
        }
        for i, call in enumerate(reply.calls)
    ]
    return {"role": "assistant", "content": reply.content, "tool_calls": calls}


def _arguments_text(arguments: Mapping[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _check_text_reply(request: Mapping[str, Any], text: str) -> None:
    """Refuse a text reply OpenAI could not send: one its tool_choice forbids, or one breaking its strict
    schema."""
    if request.get("tool_choice") == "required" or _forced_tool(request) is not None:
        raise UnanswerableRequest("the request's tool_choice requires a tool call; the responder gave text")
    schema = json_schema_of(request)
    if schema is None or not (request["response_format"].get("json_schema") or {}).get("strict"):
        return
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnanswerableRequest(f"a strict json_schema reply must be JSON: {exc}") from None
    problems = schema_violations(value, schema)
    if problems:
        raise UnanswerableRequest(f"the reply breaks the request's strict schema: {'; '.join(problems)}")


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
            elif fault is not None and fault[0] == "html":
                self._send(200, b"<html><body>Please sign in</body></html>", "text/html")
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
