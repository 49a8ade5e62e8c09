"""The worker protocol's pieces: lines, error kinds, the loopback guard, environments' states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from membench.core.errors import ConfigError, LLMError, NotSupported
from membench.systems import envs
from membench.systems.worker.protocol import (
    WorkerCrashed,
    WorkerError,
    decode,
    encode,
    error_payload,
    raise_reported,
)
from membench.systems.worker.serve import refuse_off_machine


def test_a_line_is_one_json_object_with_no_raw_line_breaks_inside() -> None:
    message = {"id": 1, "method": "ingest", "params": {"text": "a\u2028b\nc"}}
    line = encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and b"\xe2\x80\xa8" not in line
    assert decode(line) == message


@pytest.mark.parametrize("line", [b"not json\n", b"[1, 2]\n"])
def test_a_line_that_is_not_a_json_object_is_a_broken_worker(line: bytes) -> None:
    with pytest.raises(WorkerCrashed):
        decode(line)


@pytest.mark.parametrize(
    ("exc", "raised", "text"),
    [
        (ConfigError("bad option x"), ConfigError, "bad option x"),
        (NotSupported("no session memories"), NotSupported, "no session memories"),
        (LLMError("rate_limit", "slow down", attempts=3), LLMError, "rate_limit: slow down"),
        (KeyError("id"), WorkerError, "KeyError: 'id'"),
    ],
)
def test_an_error_crosses_the_channel_as_the_kind_it_is(exc: Exception, raised: type, text: str) -> None:
    payload = json.loads(json.dumps(error_payload(exc)))
    with pytest.raises(raised) as caught:
        raise_reported(payload)
    assert str(caught.value) == text
    if isinstance(exc, LLMError):
        assert isinstance(caught.value, LLMError) and caught.value.kind == "rate_limit"


@pytest.mark.parametrize(
    "address", [("127.0.0.1", 80), ("::1", 80, 0, 0), ("localhost", 8080), "/run/x.sock"]
)
def test_the_worker_guard_lets_loopback_through(address: object) -> None:
    refuse_off_machine("socket.connect", (None, address))


@pytest.mark.parametrize("address", [("192.0.2.1", 443), ("2001:db8::1", 443, 0, 0), ("example.org", 80)])
def test_the_worker_guard_refuses_anything_off_the_machine(address: object) -> None:
    with pytest.raises(ConnectionRefusedError, match="loopback only"):
        refuse_off_machine("socket.connect", (None, address))


@pytest.mark.parametrize(
    ("host", "refused"),
    [("example.org", True), (b"pypi.org", True), ("localhost", False), ("127.0.0.1", False), (None, False)],
)
def test_the_worker_guard_refuses_to_look_up_names_off_the_machine(host: object, refused: bool) -> None:
    lookup = ("socket.getaddrinfo", (host, 443, 0, 0, 0, 0))
    if refused:
        with pytest.raises(ConnectionRefusedError, match="loopback only"):
            refuse_off_machine(*lookup)
    else:
        refuse_off_machine(*lookup)


# ---------------------------------------------------------------- environments


@pytest.fixture
def envs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(envs.ENVS_VAR, str(tmp_path / "envs"))
    requirements = tmp_path / "req" / "toy.txt"
    requirements.parent.mkdir()
    requirements.write_text("# membench-first: pip\n# nothing else: pip is in every venv\n")
    monkeypatch.setattr(envs, "requirements_file", lambda name: requirements)
    return tmp_path / "envs"


def _manifest(root: Path, sha: str) -> None:
    (root / "toy" / "bin").mkdir(parents=True)
    (root / "toy" / "bin" / "python").touch()
    (root / "toy" / envs.MANIFEST).write_text(
        json.dumps({"requirements_sha256": sha, "packages": {"Pip": "24.0", "extra": "1"}})
    )


def test_an_environment_is_used_only_when_whole_and_made_from_the_current_requirements(
    envs_root: Path,
) -> None:
    assert envs.env_status("toy").state == "missing"
    assert "membench systems install toy" in (envs.env_status("toy").problem() or "")
    (envs_root / "toy").mkdir(parents=True)
    assert envs.env_status("toy").state == "incomplete"  # an install that died before its manifest
    (envs_root / "toy").rmdir()
    _manifest(envs_root, "0" * 64)
    assert envs.env_status("toy").state == "outdated"
    (envs_root / "toy" / envs.MANIFEST).unlink()
    (envs_root / "toy" / "bin" / "python").unlink()
    (envs_root / "toy" / "bin").rmdir()
    (envs_root / "toy").rmdir()
    _manifest(envs_root, envs.requirements_hash("toy"))
    assert envs.env_status("toy").state == "installed" and envs.env_status("toy").problem() is None
    # the identity names what the requirements pin, with the versions installed, not the whole freeze
    assert envs.pinned_packages("toy") == {"pip": "24.0"}
