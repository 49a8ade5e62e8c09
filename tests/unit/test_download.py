"""The checksum-verified fetch of data outside the hub (membench.core.download), against a stdlib HTTP
server on loopback."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from membench.core.download import Checksum, download, hash_file, verified_copy
from membench.core.errors import RunFailure
from membench.testing.fakes.hf_hub import git_blob_id

BODY = b"".join(b"line %d of the release\n" % i for i in range(400))
DIGEST = hashlib.sha256(BODY).hexdigest()
ADVICE = "Download it by hand and pass -T data=PATH"


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves BODY at /release.txt; /short/release.txt announces all of it and sends half."""

    def do_GET(self) -> None:
        if self.path not in ("/release.txt", "/short/release.txt"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY[: len(BODY) // 2] if self.path.startswith("/short") else BODY)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_a_download_lands_complete_and_checked(server: str, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    final = tmp_path / "data" / "release.txt"
    fetched = download(
        f"{server}/release.txt",
        final,
        advice=ADVICE,
        expected=Checksum("sha256", DIGEST),
        progress=lambda n, total: seen.append((n, total)),
    )
    assert (fetched.path, fetched.size, fetched.sha256) == (final, len(BODY), DIGEST)
    assert final.read_bytes() == BODY
    assert seen[-1] == (len(BODY), len(BODY))
    assert [p.name for p in final.parent.iterdir()] == ["release.txt"]


def test_a_checksum_mismatch_keeps_nothing_and_the_old_copy_stays(server: str, tmp_path: Path) -> None:
    final = tmp_path / "release.txt"
    final.write_bytes(b"previous good copy\n")
    with pytest.raises(RunFailure) as info:
        download(f"{server}/release.txt", final, advice=ADVICE, expected=Checksum("sha256", "ab" * 32))
    assert str(info.value) == (
        f"the download of {server}/release.txt has sha256 {DIGEST}, expected {'ab' * 32}: release.txt was "
        "not saved (a changed release or a corrupted transfer)"
    )
    assert final.read_bytes() == b"previous good copy\n"
    assert list(tmp_path.iterdir()) == [final]


def test_a_short_transfer_keeps_nothing(server: str, tmp_path: Path) -> None:
    with pytest.raises(
        RunFailure, match=rf"stopped after {len(BODY) // 2} of {len(BODY)} bytes\)\. {ADVICE}"
    ):
        download(f"{server}/short/release.txt", tmp_path / "release.txt", advice=ADVICE)
    assert list(tmp_path.iterdir()) == []


def test_http_errors_and_an_unreachable_server_say_what_to_do(server: str, tmp_path: Path) -> None:
    with pytest.raises(RunFailure) as info:
        download(f"{server}/missing.txt", tmp_path / "missing.txt", advice=ADVICE)
    assert str(info.value) == f"could not download {server}/missing.txt (HTTP 404 Not Found). {ADVICE}"
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RunFailure) as info:
        download(f"http://127.0.0.1:{port}/release.txt", tmp_path / "release.txt", advice=ADVICE)
    message = str(info.value)
    assert message.startswith(f"could not download http://127.0.0.1:{port}/release.txt (")
    assert message.endswith(ADVICE) and "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_kept_copy_is_recognised_by_either_checksum(tmp_path: Path) -> None:
    path = tmp_path / "release.txt"
    path.write_bytes(BODY)
    blob = Checksum("git-sha1", git_blob_id(BODY), len(BODY))
    assert hash_file(path, blob)[1] == git_blob_id(BODY)
    assert verified_copy(path, Checksum("sha256", DIGEST.upper())) is not None
    assert verified_copy(path, blob) is not None
    assert verified_copy(path, Checksum("git-sha1", git_blob_id(BODY), len(BODY) + 1)) is None
    assert verified_copy(path, Checksum("sha256", "ab" * 32)) is None
    assert verified_copy(tmp_path / "absent.txt", blob) is None
