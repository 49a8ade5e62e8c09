"""A loopback fake of the Hugging Face hub's download endpoints, for tests of ``membench data pull``.

Read from the ``huggingface_hub`` client (``hf_api.py``: ``list_repo_tree`` and its ``RepoFile`` /
``RepoFolder`` parsing; ``file_download.py``: ``hf_hub_url`` and the file metadata it reads;
``utils/_http.py``: the error headers it interprets). The fake holds one dataset repository at one
commit, reachable by the branch ``main`` and by the commit id, and answers:

* ``GET /api/datasets/{namespace}/{name}/tree/{revision}/{path}`` (the path with ``/`` or ``%2F``):
  the folder's entries (with ``?recursive=true`` everything below it), sorted by path, as the hub
  writes them: a file is ``{"type": "file", "oid", "size", "path"}`` where ``oid`` is its git blob id,
  plus ``"lfs": {"oid": <sha256>, "size", "pointerSize"}`` when it is stored in LFS (then ``oid`` is
  the blob id of its LFS pointer, as in git); a folder is ``{"type": "directory", "oid", "size": 0,
  "path"}``. Pages hold ``page_size`` entries; a further page is announced by ``Link: <absolute
  url with a cursor>; rel="next"``.
* ``GET``/``HEAD /datasets/{namespace}/{name}/resolve/{revision}/{path}``: a plain file's bytes (with
  ``ETag`` its blob id and ``X-Repo-Commit``); an LFS file answers 302 to the CDN (here ``/_cdn/<sha256>``
  on a second loopback port, another origin as the real CDN is) with ``X-Linked-Etag`` and
  ``X-Linked-Size``.
* what the hub answers for what is not there: 404 with ``X-Error-Code: EntryNotFound`` (an unknown
  path) or ``RevisionNotFound`` (an unknown revision), 401 with ``RepoNotFound`` for an unknown
  repository, each with ``X-Error-Message`` and a JSON ``{"error": ...}`` body.

Paths in ``corrupt`` are served with one byte flipped (same length), as a damaged transfer would be,
while the listing keeps their true checksums. Every request is recorded in order (``requests``).

It is not a ``FakeRestServer``: that base answers JSON bodies only, and the hub's file endpoint
answers raw bytes, redirects and headers (``Link``, ``ETag``, ``Location``) that it cannot send.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Collection, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from membench.testing.fakes import RecordedRequest

_LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n"
#: the hub's cap on entries per listing page (without ``expand``).
HUB_PAGE_SIZE = 1000
#: what the hub answers, by case: status, X-Error-Code, X-Error-Message.
_ERRORS = {
    "entry": (404, "EntryNotFound", "Entry not found"),
    "revision": (404, "RevisionNotFound", "Invalid rev id: {revision}"),
    "repo": (401, "RepoNotFound", "Repository not found"),
}


def git_blob_id(data: bytes) -> str:
    """git's id of a blob holding ``data``: the sha1 of ``blob <size>\\0`` and the bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


#: one answer: status, headers, body.
_Answer = tuple[int, dict[str, str], bytes]


class FakeHfHub:
    """``with FakeHfHub("org/name", {"dir/a.json": b"..."}) as hub: pull(..., endpoint=hub.endpoint)``.

    Files not in ``plain`` are stored in LFS, as the hub keeps large or binary files.
    """

    def __init__(
        self,
        repo: str,
        files: Mapping[str, bytes],
        *,
        plain: Collection[str] = (),
        page_size: int = HUB_PAGE_SIZE,
    ) -> None:
        self.repo = repo
        self.files = dict(files)
        self.plain = frozenset(plain)
        self.page_size = page_size
        self.corrupt: set[str] = set()
        self.commit = hashlib.sha1(
            json.dumps(sorted((p, git_blob_id(d)) for p, d in self.files.items())).encode(),
            usedforsecurity=False,
        ).hexdigest()
        self.lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._servers: list[tuple[_Server, threading.Thread]] = []

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
    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._requests)

    def downloads(self) -> list[str]:
        """The repo paths whose bytes were requested (``GET .../resolve/...``), in order."""
        marker = f"/datasets/{self.repo}/resolve/"
        return [
            unquote(r.path.split(marker, 1)[1].split("/", 1)[1])
            for r in self.requests
            if r.method == "GET" and r.path.startswith(marker)
        ]

    # ------------------------------------------------------------ entries, as the hub lists them

    def entry(self, path: str) -> dict[str, Any]:
        """The listing entry of file or folder ``path``."""
        if path not in self.files:
            children = sorted(p for p in self.files if p.startswith(path + "/"))
            folder_id = hashlib.sha1("\n".join(children).encode(), usedforsecurity=False).hexdigest()
            return {"type": "directory", "oid": folder_id, "size": 0, "path": path}
        data = self.files[path]
        if path in self.plain:
            return {"type": "file", "oid": git_blob_id(data), "size": len(data), "path": path}
        sha256 = hashlib.sha256(data).hexdigest()
        pointer = _LFS_POINTER.format(sha256=sha256, size=len(data)).encode()
        lfs = {"oid": sha256, "size": len(data), "pointerSize": len(pointer)}
        return {"type": "file", "oid": git_blob_id(pointer), "size": len(data), "path": path, "lfs": lfs}

    def _folders(self) -> set[str]:
        return {p.rsplit("/", i)[0] for p in self.files for i in range(1, p.count("/") + 1)}

    # ------------------------------------------------------------ answering (under self.lock)

    def _answer(self, method: str, target: str, has_auth: bool) -> _Answer:
        split = urlsplit(target)
        query = dict(parse_qsl(split.query))
        with self.lock:
            self._requests.append(RecordedRequest(method, split.path, query, has_auth, True, None))
            if split.path.startswith("/_cdn/"):
                return self._cdn(split.path.removeprefix("/_cdn/"), method)
            for prefix, handler in (
                (f"/api/datasets/{self.repo}/tree/", self._tree),
                (f"/datasets/{self.repo}/resolve/", self._resolve),
            ):
                if split.path.startswith(prefix):
                    revision, _, rest = split.path.removeprefix(prefix).partition("/")
                    if unquote(revision) not in ("main", self.commit):
                        return _error("revision", revision=unquote(revision))
                    return handler(method, revision, unquote(rest).strip("/"), query)
            if split.path.startswith(("/api/datasets/", "/datasets/")):
                return _error("repo")
            return _error("entry")

    def _tree(self, method: str, revision: str, path: str, query: dict[str, str]) -> _Answer:
        if method != "GET":
            return 405, {}, b""
        if path and path not in self._folders():
            return _error("entry")
        recursive = query.get("recursive", "").lower() in ("true", "1")
        below = sorted((self._folders() | set(self.files)) - {""})
        below = [p for p in below if not path or p.startswith(path + "/")]
        if not recursive:
            depth = path.count("/") + 1 if path else 0
            below = [p for p in below if p.count("/") == depth]
        start = int(base64.urlsafe_b64decode(query["cursor"])) if "cursor" in query else 0
        page = [self.entry(p) for p in below[start : start + self.page_size]]
        headers = {"Content-Type": "application/json"}
        if start + self.page_size < len(below):
            following = {k: v for k, v in query.items() if k != "cursor"}
            following["cursor"] = base64.urlsafe_b64encode(str(start + self.page_size).encode()).decode()
            url = f"{self.endpoint}/api/datasets/{self.repo}/tree/{revision}/{quote(path, safe='')}"
            headers["Link"] = f'<{url}?{urlencode(following)}>; rel="next"'
        return 200, headers, json.dumps(page).encode()

    def _resolve(self, method: str, revision: str, path: str, query: dict[str, str]) -> _Answer:
        if path not in self.files:
            return _error("entry")
        entry = self.entry(path)
        headers = {"X-Repo-Commit": self.commit, "ETag": f'"{entry["oid"]}"'}
        if "lfs" not in entry:
            return self._bytes(path, headers, method)
        sha256 = entry["lfs"]["oid"]
        headers |= {
            "Location": f"{self._origin(1)}/_cdn/{sha256}",
            "X-Linked-Etag": f'"{sha256}"',
            "X-Linked-Size": str(entry["size"]),
            "Content-Length": "0",
        }
        return 302, headers, b""

    def _cdn(self, sha256: str, method: str) -> _Answer:
        for path in sorted(self.files):
            if path not in self.plain and hashlib.sha256(self.files[path]).hexdigest() == sha256:
                return self._bytes(path, {"ETag": f'"{sha256}"'}, method)
        return 403, {"Content-Type": "application/xml"}, b"<Error><Code>AccessDenied</Code></Error>"

    def _bytes(self, path: str, headers: dict[str, str], method: str) -> _Answer:
        data = self.files[path]
        if path in self.corrupt and data:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        headers |= {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))}
        return 200, headers, b"" if method == "HEAD" else data


def _error(case: str, **fields: str) -> _Answer:
    status, code, message = _ERRORS[case]
    message = message.format(**fields)
    headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
    return status, headers, json.dumps({"error": message}).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: FakeHfHub) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so stopping the server leaves no kept-alive handler behind.
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines http.server writes to stderr."""

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _handle(self) -> None:
        status, headers, body = self.server.owner._answer(
            self.command, self.path, self.headers.get("Authorization") is not None
        )
        self.send_response(status)
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
