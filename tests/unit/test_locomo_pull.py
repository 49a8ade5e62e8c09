"""``membench data pull locomo``: the checksum-verified HTTP fetch, against a server on loopback that
serves the repository's raw files the way GitHub does (``/<revision>/data/locomo10.json``)."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from membench.core.errors import RunFailure
from membench.core.hub import PullProgress
from membench_tasks.locomo.loader import load_locomo
from membench_tasks.locomo.pull import KNOWN_SHA256, PINNED_COMMIT, pull_locomo

FIXTURE = Path(__file__).parents[1] / "fixtures" / "locomo" / "locomo10.json"
BODY = FIXTURE.read_bytes()
DIGEST = hashlib.sha256(BODY).hexdigest()
REVISIONS = ("v-test", PINNED_COMMIT)


@dataclass
class Raw:
    base_url: str
    paths: list[str] = field(default_factory=list)


@pytest.fixture()
def raw(monkeypatch: pytest.MonkeyPatch) -> Iterator[Raw]:
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            if self.path not in {f"/{r}/data/locomo10.json" for r in REVISIONS}:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield Raw(f"http://127.0.0.1:{httpd.server_address[1]}", seen)
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_a_pull_fetches_checks_records_and_the_loader_reads_it(raw: Raw, tmp_path: Path) -> None:
    events: list[PullProgress] = []
    path = pull_locomo(
        tmp_path, revision="v-test", sha256=DIGEST, base_url=raw.base_url, progress=events.append
    )
    assert path == tmp_path / "v-test" / "locomo10.json" and path.read_bytes() == BODY
    assert raw.paths == ["/v-test/data/locomo10.json"]
    assert events == [PullProgress(1, 1, "data/locomo10.json", len(BODY), False)]
    manifest = json.loads((path.parent / "membench-pull.json").read_text("utf-8"))
    assert manifest == {
        "source": f"{raw.base_url}/v-test/data/locomo10.json",
        "revision": "v-test",
        "checked": "the given --sha256",
        "files": 1,
        "bytes": len(BODY),
        "sha256": {"data/locomo10.json": DIGEST},
    }
    assert len(load_locomo(path, top_k=10).episodes) == 2


def test_a_good_copy_is_kept_not_fetched_again(raw: Raw, tmp_path: Path) -> None:
    pull_locomo(tmp_path, revision="v-test", sha256=DIGEST, base_url=raw.base_url, progress=lambda e: None)
    events: list[PullProgress] = []
    pull_locomo(tmp_path, revision="v-test", sha256=DIGEST, base_url=raw.base_url, progress=events.append)
    assert len(raw.paths) == 1 and events[0].kept


def test_without_a_known_digest_the_file_is_recorded_not_checked(raw: Raw, tmp_path: Path) -> None:
    path = pull_locomo(tmp_path, revision="v-test", base_url=raw.base_url, progress=lambda e: None)
    manifest = json.loads((path.parent / "membench-pull.json").read_text("utf-8"))
    assert manifest["checked"] == "no" and manifest["sha256"] == {"data/locomo10.json": DIGEST}


def test_the_pinned_commit_is_checked_against_its_known_digest(raw: Raw, tmp_path: Path) -> None:
    """The loopback server serves the fixture, not the release: its digest is refused, nothing kept."""
    with pytest.raises(RunFailure) as info:
        pull_locomo(tmp_path, base_url=raw.base_url, progress=lambda e: None)
    url = f"{raw.base_url}/{PINNED_COMMIT}/data/locomo10.json"
    assert str(info.value) == (
        f"the download of {url} has sha256 {DIGEST}, expected {KNOWN_SHA256[PINNED_COMMIT]}: locomo10.json "
        "was not saved (a changed release or a corrupted transfer)"
    )
    assert not (tmp_path / PINNED_COMMIT / "locomo10.json").exists()
    assert not (tmp_path / PINNED_COMMIT / "membench-pull.json").exists()


def test_a_missing_revision_is_one_line_with_what_to_do(raw: Raw, tmp_path: Path) -> None:
    with pytest.raises(RunFailure) as info:
        pull_locomo(tmp_path, revision="nope", base_url=raw.base_url, progress=lambda e: None)
    message = str(info.value)
    assert message.startswith(f"could not download {raw.base_url}/nope/data/locomo10.json (HTTP 404 ")
    assert message.endswith("copy it here and pass it with -T data=PATH") and "\n" not in message
