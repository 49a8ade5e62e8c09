"""A loopback fake of the Hugging Face hub's dataset endpoints, for tests of ``membench data pull``.

The tests drive the real ``huggingface_hub`` client through it (``HF_ENDPOINT``), so it answers what
that client sends and reads, as read from its code (``hf_api.py``: ``dataset_info`` and
``list_repo_tree`` with its ``RepoFile`` / ``RepoFolder`` parsing; ``file_download.py``: the HEAD and
GET of ``hf_hub_download`` and the headers ``get_hf_file_metadata`` takes; ``utils/_http.py``: how
``hf_raise_for_status`` reads ``X-Error-Code`` and ``X-Error-Message``). The fake holds one dataset
repository with a history of commits (``push`` adds one and moves ``main`` to it); every revision is
``main`` or a commit id, and answers:

* ``GET /api/datasets/{namespace}/{name}/revision/{revision}``: the dataset's info, whose ``sha`` is
  the commit the revision resolves to (what the client pins a pull to).
* ``GET /api/datasets/{namespace}/{name}/tree/{revision}/{path}`` (the path with ``/`` or ``%2F``):
  the folder's entries (with ``?recursive=true`` everything below it), sorted by path, as the hub
  writes them: a file is ``{"type": "file", "oid", "size", "path"}`` where ``oid`` is its git blob id,
  plus ``"lfs": {"oid": <sha256>, "size", "pointerSize"}`` when it is stored in LFS (then ``oid`` is
  the blob id of its LFS pointer, as in git); a folder is ``{"type": "directory", "oid", "size": 0,
  "path"}``. Pages hold ``page_size`` entries; a further page is announced by ``Link: <absolute
  url with a cursor>; rel="next"``.
* ``GET``/``HEAD /datasets/{namespace}/{name}/resolve/{revision}/{path}``: a plain file's bytes (with
  ``ETag`` its blob id and ``X-Repo-Commit``); an LFS file answers 302 to the CDN (here ``/_cdn/<sha256>``
  on a second loopback port, another origin as the real CDN is) with ``X-Linked-Etag`` (its sha256)
  and ``X-Linked-Size``. Bytes honour ``Range: bytes=N-`` with 206 and ``Content-Range``, as the CDN
  does, which is how the client resumes a transfer that was cut.
* what the hub answers for what is not there or not allowed: 404 ``EntryNotFound`` (an unknown path),
  404 ``RevisionNotFound`` (an unknown revision), ``RepoNotFound`` for an unknown repository (401
  without a token, 404 with one), and for a gated dataset (``gated=True``) the file bytes only to a
  token in ``tokens``: 401 ``GatedRepo`` without a token, 403 ``GatedRepo`` with another one, each
  with the hub's ``X-Error-Message`` and a JSON ``{"error": ...}`` body. A gated dataset's info and
  listing stay public, as on the hub.

Paths in ``corrupt`` are served with one byte flipped (same length), as a damaged transfer would be,
while the listing keeps their true checksums. Paths in ``cut`` have their next transfer stop half-way
(the full ``Content-Length`` announced, then the connection closed), once each. Every request is
recorded in order (``requests``), with whether a token was sent but never the token.

It is not a ``FakeRestServer``: that base answers JSON bodies only, and the hub's file endpoint
answers raw bytes, redirects, ranges and headers (``Link``, ``ETag``, ``Location``) that it cannot send.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

if TYPE_CHECKING:
    from pytest import MonkeyPatch

_LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n"
#: the hub's cap on entries per listing page (without ``expand``).
HUB_PAGE_SIZE = 1000
#: what the hub answers, by case: status, X-Error-Code, X-Error-Message.
_ERRORS = {
    "entry": (404, "EntryNotFound", "Entry not found"),
    "revision": (404, "RevisionNotFound", "Invalid rev id: {revision}"),
    "repo": (401, "RepoNotFound", "Repository not found"),
    "repo-with-token": (404, "RepoNotFound", "Repository not found"),
    "gated": (
        401,
        "GatedRepo",
        "Access to dataset {repo} is restricted. You must have access to it and be authenticated to "
        "access it. Please log in.",
    ),
    "gated-with-token": (
        403,
        "GatedRepo",
        "Access to dataset {repo} is restricted and you are not in the authorized list. Visit "
        "https://huggingface.co/datasets/{repo} to ask for access.",
    ),
}
_RANGE = re.compile(r"bytes=(\d+)-$")
_DATE = "2025-11-10T08:00:00.000Z"


def git_blob_id(data: bytes) -> str:
    """git's id of a blob holding ``data``: the sha1 of ``blob <size>\\0`` and the bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class HubRequest:
    """One request as it arrived: whether it carried a token (never the token) and its Range header."""

    method: str
    path: str
    query: dict[str, str]
    has_auth: bool
    range: str | None


@dataclass
class _Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: send only this many bytes of the body, then close: a transfer cut half-way.
    cut_at: int | None = None


class FakeHfHub:
    """``with FakeHfHub("org/name", {"dir/a.json": b"..."}) as hub:`` then ``HF_ENDPOINT=hub.endpoint``.

    Files not in ``plain`` are stored in LFS, as the hub keeps large or binary files.
    """

    def __init__(
        self,
        repo: str,
        files: Mapping[str, bytes],
        *,
        plain: Collection[str] = (),
        page_size: int = HUB_PAGE_SIZE,
        gated: bool = False,
        tokens: Collection[str] = (),
    ) -> None:
        self.repo = repo
        self.plain = frozenset(plain)
        self.page_size = page_size
        self.gated = gated
        self._tokens = frozenset(tokens)
        self.corrupt: set[str] = set()
        self.cut: set[str] = set()
        #: (commit id, files) oldest first; ``main`` is the last.
        self.history: list[tuple[str, dict[str, bytes]]] = []
        self.lock = threading.Lock()
        self._requests: list[HubRequest] = []
        self._servers: list[tuple[_Server, threading.Thread]] = []
        self.push(files)

    def push(self, files: Mapping[str, bytes]) -> str:
        """Commit ``files`` as the repository's new content (``main`` moves to it); its commit id."""
        parent = self.history[-1][0] if self.history else ""
        listing = json.dumps([parent, *sorted((p, git_blob_id(d)) for p, d in files.items())])
        commit = hashlib.sha1(listing.encode(), usedforsecurity=False).hexdigest()
        with self.lock:
            self.history.append((commit, dict(files)))
        return commit

    @property
    def commit(self) -> str:
        """The commit ``main`` points to."""
        return self.history[-1][0]

    @property
    def files(self) -> dict[str, bytes]:
        """The files at ``main``."""
        return self.history[-1][1]

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Serve the hub, and the CDN on a port of its own: another origin, as the real CDN is, so a
        client that follows only same-origin redirects (the SDK's HEAD) stops at the 302."""
        if self._servers:
            raise RuntimeError("server already started")
        for name in ("FakeHfHub", "FakeHfHub-cdn"):
            server = _Server(self)
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
            )
            thread.start()
            self._servers.append((server, thread))
        return self

    def stop(self) -> None:
        for server, thread in self._servers:
            server.shutdown()
            server.server_close()
            thread.join()
        self._servers = []

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """What ``HF_ENDPOINT`` would be set to for this hub."""
        return self._origin(0)

    def _origin(self, index: int) -> str:
        if not self._servers:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._servers[index][0].server_address[1]}"

    @property
    def requests(self) -> list[HubRequest]:
        with self.lock:
            return list(self._requests)

    def downloads(self) -> list[str]:
        """The repo paths whose bytes were sent, in order: a plain file's by the hub, an LFS file's by
        the CDN (a repeated path is a file fetched again)."""
        marker = f"/datasets/{self.repo}/resolve/"
        by_sha256 = {
            hashlib.sha256(data).hexdigest(): path
            for _, files in self.history
            for path, data in files.items()
            if path not in self.plain
        }
        return [
            by_sha256[r.path.removeprefix("/_cdn/")]
            if r.path.startswith("/_cdn/")
            else unquote(r.path.removeprefix(marker).split("/", 1)[1])
            for r in self.transfers()
        ]

    def transfers(self) -> list[HubRequest]:
        """The requests that fetched bytes: a GET of a file or of a CDN object."""
        marker = f"/datasets/{self.repo}/resolve/"
        return [r for r in self.requests if r.method == "GET" and r.path.startswith((marker, "/_cdn/"))]

    # ------------------------------------------------------------ entries, as the hub lists them

    def files_at(self, revision: str) -> dict[str, bytes] | None:
        """The files at ``revision`` (``main`` or a commit id), None when there is no such revision."""
        if revision == "main":
            return self.files
        return next((files for commit, files in self.history if commit == revision), None)

    def entry(self, path: str, revision: str = "main") -> dict[str, Any]:
        """The listing entry of file or folder ``path`` at ``revision``."""
        files = self.files_at(revision)
        if files is None:
            raise KeyError(revision)
        if path not in files:
            children = sorted(p for p in files if p.startswith(path + "/"))
            folder_id = hashlib.sha1("\n".join(children).encode(), usedforsecurity=False).hexdigest()
            return {"type": "directory", "oid": folder_id, "size": 0, "path": path}
        data = files[path]
        if path in self.plain:
            return {"type": "file", "oid": git_blob_id(data), "size": len(data), "path": path}
        sha256 = hashlib.sha256(data).hexdigest()
        pointer = _LFS_POINTER.format(sha256=sha256, size=len(data)).encode()
        lfs = {"oid": sha256, "size": len(data), "pointerSize": len(pointer)}
        return {"type": "file", "oid": git_blob_id(pointer), "size": len(data), "path": path, "lfs": lfs}

    @staticmethod
    def _folders(files: Mapping[str, bytes]) -> set[str]:
        return {p.rsplit("/", i)[0] for p in files for i in range(1, p.count("/") + 1)}

    # ------------------------------------------------------------ answering (under self.lock)

    def _answer(self, method: str, target: str, token: str | None, byte_range: str | None) -> _Answer:
        split = urlsplit(target)
        query = dict(parse_qsl(split.query))
        with self.lock:
            self._requests.append(HubRequest(method, split.path, query, token is not None, byte_range))
            if split.path.startswith("/_cdn/"):
                return self._cdn(split.path.removeprefix("/_cdn/"), method, byte_range)
            for prefix, handler in (
                (f"/api/datasets/{self.repo}/revision/", self._info),
                (f"/api/datasets/{self.repo}/tree/", self._tree),
                (f"/datasets/{self.repo}/resolve/", self._resolve),
            ):
                if split.path.startswith(prefix):
                    revision, _, rest = split.path.removeprefix(prefix).partition("/")
                    files = self.files_at(unquote(revision))
                    if files is None:
                        return _error("revision", revision=unquote(revision))
                    if handler == self._resolve and self.gated and token not in self._tokens:
                        return _error("gated" if token is None else "gated-with-token", repo=self.repo)
                    path = unquote(rest).strip("/")
                    return handler(method, unquote(revision), files, path, query, byte_range)
            if split.path.startswith(("/api/datasets/", "/datasets/")):
                return _error("repo" if token is None else "repo-with-token")
            return _error("entry")

    def _info(
        self,
        method: str,
        revision: str,
        files: dict[str, bytes],
        path: str,
        query: dict[str, str],
        byte_range: str | None,
    ) -> _Answer:
        commit = self.commit if revision == "main" else revision
        info = {
            "_id": hashlib.sha1(self.repo.encode(), usedforsecurity=False).hexdigest()[:24],
            "id": self.repo,
            "author": self.repo.split("/")[0],
            "sha": commit,
            "lastModified": _DATE,
            "createdAt": _DATE,
            "private": False,
            "gated": "manual" if self.gated else False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": [{"rfilename": p} for p in sorted(files)],
            "usedStorage": sum(len(d) for d in files.values()),
        }
        return _Answer(200, {"Content-Type": "application/json"}, json.dumps(info).encode())

    def _tree(
        self,
        method: str,
        revision: str,
        files: dict[str, bytes],
        path: str,
        query: dict[str, str],
        byte_range: str | None,
    ) -> _Answer:
        if method != "GET":
            return _Answer(405)
        folders = self._folders(files)
        if path and path not in folders:
            return _error("entry")
        recursive = query.get("recursive", "").lower() in ("true", "1")
        below = sorted((folders | set(files)) - {""})
        below = [p for p in below if not path or p.startswith(path + "/")]
        if not recursive:
            depth = path.count("/") + 1 if path else 0
            below = [p for p in below if p.count("/") == depth]
        start = int(base64.urlsafe_b64decode(query["cursor"])) if "cursor" in query else 0
        page = [self.entry(p, revision) for p in below[start : start + self.page_size]]
        headers = {"Content-Type": "application/json"}
        if start + self.page_size < len(below):
            following = {k: v for k, v in query.items() if k != "cursor"}
            following["cursor"] = base64.urlsafe_b64encode(str(start + self.page_size).encode()).decode()
            url = f"{self.endpoint}/api/datasets/{self.repo}/tree/{revision}/{quote(path, safe='')}"
            headers["Link"] = f'<{url}?{urlencode(following)}>; rel="next"'
        return _Answer(200, headers, json.dumps(page).encode())

    def _resolve(
        self,
        method: str,
        revision: str,
        files: dict[str, bytes],
        path: str,
        query: dict[str, str],
        byte_range: str | None,
    ) -> _Answer:
        if path not in files:
            return _error("entry")
        entry = self.entry(path, revision)
        commit = self.commit if revision == "main" else revision
        headers = {"X-Repo-Commit": commit, "ETag": f'"{entry["oid"]}"'}
        if "lfs" not in entry:
            return self._bytes(path, files[path], headers, method, byte_range)
        sha256 = entry["lfs"]["oid"]
        headers |= {
            "Location": f"{self._origin(1)}/_cdn/{sha256}",
            "X-Linked-Etag": f'"{sha256}"',
            "X-Linked-Size": str(entry["size"]),
            "Content-Length": "0",
        }
        return _Answer(302, headers)

    def _cdn(self, sha256: str, method: str, byte_range: str | None) -> _Answer:
        for _, files in reversed(self.history):
            for path in sorted(files):
                if path not in self.plain and hashlib.sha256(files[path]).hexdigest() == sha256:
                    return self._bytes(path, files[path], {"ETag": f'"{sha256}"'}, method, byte_range)
        return _Answer(403, {"Content-Type": "application/xml"}, b"<Error><Code>AccessDenied</Code></Error>")

    def _bytes(
        self, path: str, data: bytes, headers: dict[str, str], method: str, byte_range: str | None
    ) -> _Answer:
        if path in self.corrupt and data:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        headers |= {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
        status, start = 200, 0
        wanted = _RANGE.match(byte_range or "")
        if wanted and int(wanted.group(1)) < len(data):
            status, start = 206, int(wanted.group(1))
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        headers["Content-Length"] = str(len(body))
        if method == "HEAD":
            return _Answer(status, headers)
        cut_at = None
        if path in self.cut:
            self.cut.discard(path)
            cut_at = len(body) // 2
        return _Answer(status, headers, body, cut_at)


def _error(case: str, **fields: str) -> _Answer:
    status, code, message = _ERRORS[case]
    message = message.format(**fields)
    headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
    return _Answer(status, headers, json.dumps({"error": message}).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: FakeHfHub) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so stopping the server leaves no kept-alive handler behind,
    # and a body cut short ends with the connection, as a dropped transfer does.
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines http.server writes to stderr."""

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _handle(self) -> None:
        authorization = self.headers.get("Authorization")
        token = authorization.removeprefix("Bearer ").strip() if authorization else None
        answer = self.server.owner._answer(self.command, self.path, token, self.headers.get("Range"))
        self.send_response(answer.status)
        answer.headers.setdefault("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body if answer.cut_at is None else answer.body[: answer.cut_at])


#: what the hub client reads from the environment that a test must not take from the user's.
_CLIENT_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT")
_PROXY_ENV = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def isolate_client(monkeypatch: MonkeyPatch, home: Path) -> None:
    """Keep the user's hub set-up out of a test: no token, no mirror, no proxy, and the client's
    token files and cache under ``home``, so what the fake sees is what the test sent."""
    from huggingface_hub import constants

    for name in (*_CLIENT_ENV, *_PROXY_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
