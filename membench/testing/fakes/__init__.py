"""Loopback fakes of hosted memory services' REST APIs, for tests that drive the real SDKs through them.

Each fake answers the paths, methods, status codes and JSON bodies its SDK sends and parses (read from
the SDK's own code), checks the API key as the service does, and records every request so a test can
assert on what reached it. This module holds what they share: a JSON-over-HTTP server on 127.0.0.1
with a table of routes, whose handlers run one at a time under the fake's lock (a fake's state is a
few dictionaries; serialising requests keeps it consistent without any further locking), the
simple real search the fakes rank with (token overlap), and the services' way of writing times.

Only the standard library is used, so a fake starts in milliseconds and needs no extra.
"""

from __future__ import annotations

import json
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "ApiCall",
    "FakeRestServer",
    "RecordedRequest",
    "Reply",
    "ReplyNow",
    "Route",
    "now_iso",
    "overlap_score",
    "parse_iso",
]

#: a handler's answer: the HTTP status and the JSON body (None: an empty body).
Reply = tuple[int, Any]
_WORD = re.compile(r"\w+")


def overlap_score(query: str, text: str) -> float:
    """The share of the query's words that ``text`` contains: 0 when none, 1 when all (case-blind)."""
    wanted = set(_WORD.findall(query.lower()))
    return len(wanted & set(_WORD.findall(text.lower()))) / len(wanted) if wanted else 0.0


def now_iso() -> str:
    """The current UTC time as the services write it (``2025-01-02T03:04:05.678901Z``)."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    """An ISO 8601 time as the services read one (a ``Z`` or an offset; none means UTC); a
    ``ValueError`` for anything else, which a handler answers as the service's 422."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ReplyNow(Exception):
    """Raised by a handler, or by a lookup it calls, to answer with ``reply`` at once: a lookup of a
    resource that is not there ends the request with the service's 404 without every handler checking."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply[0])
        self.reply = reply


@dataclass(frozen=True)
class ApiCall:
    """One authorised request as a handler sees it: path parameters by name, query, parsed JSON body."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any


Handler = Callable[[ApiCall], Reply]


@dataclass(frozen=True)
class Route:
    """``METHOD /path/{param}/...`` (relative to the fake's prefix) and the handler that answers it."""

    method: str
    pattern: str
    handler: Handler

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.pattern))
        found = re.fullmatch(regex, path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived. The key itself is never kept: only whether one was sent, and whether
    it was the fake's."""

    method: str
    path: str
    query: dict[str, str]
    has_auth: bool
    authorized: bool
    body: Any


class FakeRestServer(ABC):
    """A JSON REST API on ``127.0.0.1:<free port>``; ``with Fake(api_key) as fake: fake.base_url``.

    Subclasses set ``prefix`` (the API's base path, part of ``base_url``), list their ``routes``, say
    which ``Authorization`` header the service expects, and how it answers a request without it.
    """

    prefix: ClassVar[str] = ""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._routes = self.routes()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @abstractmethod
    def routes(self) -> list[Route]:
        """Every endpoint the fake serves."""

    @abstractmethod
    def expected_authorization(self) -> str:
        """The ``Authorization`` header value the service accepts for ``api_key``."""

    @abstractmethod
    def unauthorized(self) -> Reply:
        """The service's answer to a request without a valid key."""

    @abstractmethod
    def not_found(self, what: str) -> Reply:
        """The service's answer for an unknown path or resource."""

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("server already started")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._requests)

    # ------------------------------------------------------------ used by the handler

    def _answer(self, method: str, target: str, authorization: str | None, body: Any) -> Reply:
        split = urlsplit(target)
        path = split.path.removeprefix(self.prefix) if split.path.startswith(self.prefix) else split.path
        query = dict(parse_qsl(split.query))
        authorized = authorization == self.expected_authorization()
        with self.lock:
            self._requests.append(
                RecordedRequest(method, path, query, authorization is not None, authorized, body)
            )
            if not authorized:
                return self.unauthorized()
            for route in self._routes:
                params = route.match(method, path)
                if params is not None:
                    try:
                        return route.handler(ApiCall(method, path, params, query, body))
                    except ReplyNow as now:
                        return now.reply
            return self.not_found(f"{method} {split.path}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: FakeRestServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so stopping the server leaves no kept-alive handler behind.
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines http.server writes to stderr."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        status, reply = self.server.owner._answer(
            self.command, self.path, self.headers.get("Authorization"), body
        )
        payload = b"" if reply is None else json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
