"""Downloading the official file, against a stdlib HTTP server on loopback (never the real hub)."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from membench.core.errors import ConfigError
from membench_tasks.halumem.pull import hub_url, pull_halumem

FIXTURE = Path(__file__).parent.parent / "fixtures" / "halumem" / "official_sample.jsonl"
BODY = FIXTURE.read_bytes()
DIGEST = hashlib.sha256(BODY).hexdigest()
MEDIUM_PATH = "/datasets/IAAR-Shanghai/HaluMem/resolve/main/HaluMem-Medium.jsonl"


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the fixture as HaluMem-Medium.jsonl; ``/short`` endpoints cut the body in half."""

    def do_GET(self) -> None:
        short = self.path.startswith("/short")
        if self.path.removeprefix("/short") != MEDIUM_PATH:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY[: len(BODY) // 2] if short else BODY)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture()
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_download_lands_complete_under_the_official_name(endpoint: str, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    path = pull_halumem(
        "medium",
        tmp_path / "data",
        endpoint=endpoint,
        sha256=DIGEST,
        progress=lambda n, t: seen.append((n, t)),
    )
    assert path == tmp_path / "data" / "HaluMem-Medium.jsonl"
    assert path.read_bytes() == BODY
    assert seen[-1] == (len(BODY), len(BODY))
    assert [p.name for p in path.parent.iterdir()] == ["HaluMem-Medium.jsonl"]


def test_endpoint_defaults_to_hf_endpoint(
    endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", endpoint + "/")
    assert pull_halumem("medium", tmp_path).read_bytes() == BODY


def test_checksum_mismatch_keeps_nothing(endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        pull_halumem("medium", tmp_path, endpoint=endpoint, sha256="ab" * 32)
    message = str(info.value)
    assert DIGEST in message and "ab" * 32 in message and "not saved" in message
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_never_replaces_an_existing_file(endpoint: str, tmp_path: Path) -> None:
    existing = tmp_path / "HaluMem-Medium.jsonl"
    existing.write_bytes(b"previous good copy\n")
    with pytest.raises(ConfigError):
        pull_halumem("medium", tmp_path, endpoint=endpoint, sha256="ab" * 32)
    assert existing.read_bytes() == b"previous good copy\n"
    assert list(tmp_path.iterdir()) == [existing]


def test_a_short_transfer_keeps_nothing(endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"stopped after {len(BODY) // 2} of {len(BODY)} bytes"):
        pull_halumem("medium", tmp_path, endpoint=endpoint + "/short")
    assert list(tmp_path.iterdir()) == []


def test_http_errors_explain_what_to_do(endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        pull_halumem("long", tmp_path, endpoint=endpoint)
    message = str(info.value)
    assert "HTTP 404" in message
    assert "unreachable from this machine" in message and "-T data=PATH" in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_hub_explains_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConfigError) as info:
        pull_halumem("medium", tmp_path, endpoint=f"http://127.0.0.1:{port}")
    message = str(info.value)
    assert message.startswith(f"could not download http://127.0.0.1:{port}{MEDIUM_PATH} (")
    assert "download the file on another machine" in message and "-T data=PATH" in message
    assert list(tmp_path.iterdir()) == []


def test_hub_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert (
        hub_url("long")
        == "https://huggingface.co/datasets/IAAR-Shanghai/HaluMem/resolve/main/HaluMem-Long.jsonl"
    )
    assert hub_url("medium", "https://hf-mirror.com/").startswith("https://hf-mirror.com/datasets/")
    with pytest.raises(ConfigError, match="variant must be one of medium, long, got 'huge'"):
        hub_url("huge")
