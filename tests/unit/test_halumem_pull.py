"""Pulling the official HaluMem file, against a loopback fake of the Hugging Face hub (never the hub)."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from membench.core.errors import ConfigError, RunFailure
from membench.core.hub import MANIFEST
from membench.testing.fakes.hf_hub import FakeHfHub, isolate_client
from membench_tasks.halumem.pull import REPO, pull_halumem
from membench_tasks.halumem.task import HaluMemTask

FIXTURE = Path(__file__).parent.parent / "fixtures" / "halumem" / "official_sample.jsonl"
BODY = FIXTURE.read_bytes()
DIGEST = hashlib.sha256(BODY).hexdigest()
#: the release as the hub holds it: the Medium file (in LFS) and the card; no Long file in this fake.
RELEASE = {"HaluMem-Medium.jsonl": BODY, "README.md": b"---\nlicense: cc-by-nc-nd-4.0\n---\n"}


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHfHub]:
    isolate_client(monkeypatch, tmp_path / "client")
    with FakeHfHub(REPO, RELEASE, plain={"README.md"}) as fake:
        yield fake


def test_the_file_lands_under_its_revision_with_a_record(hub: FakeHfHub, tmp_path: Path) -> None:
    path = pull_halumem("medium", tmp_path / "data", endpoint=hub.endpoint, sha256=DIGEST)
    assert path == tmp_path / "data" / "main" / "HaluMem-Medium.jsonl"
    assert path.read_bytes() == BODY
    assert sorted(p.name for p in path.parent.iterdir()) == [".cache", "HaluMem-Medium.jsonl", MANIFEST]
    record = json.loads((path.parent / MANIFEST).read_text())
    assert (record["repo"], record["revision"], record["commit"]) == (REPO, "main", hub.commit)
    assert (record["variant"], record["sha256"]) == ("medium", {"HaluMem-Medium.jsonl": DIGEST})
    assert hub.downloads() == ["HaluMem-Medium.jsonl"]  # the card is not fetched


def test_the_endpoint_defaults_to_hf_endpoint(
    hub: FakeHfHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint + "/")
    assert pull_halumem("medium", tmp_path).read_bytes() == BODY


def test_a_pinned_commit_gets_its_own_folder(hub: FakeHfHub, tmp_path: Path) -> None:
    pinned = hub.commit
    hub.push({**RELEASE, "HaluMem-Medium.jsonl": BODY + b"\n"})
    path = pull_halumem("medium", tmp_path, revision=pinned, endpoint=hub.endpoint)
    assert path == tmp_path / pinned / "HaluMem-Medium.jsonl"
    assert path.read_bytes() == BODY


def test_a_sha256_the_file_does_not_have_keeps_nothing(hub: FakeHfHub, tmp_path: Path) -> None:
    with pytest.raises(RunFailure) as info:
        pull_halumem("medium", tmp_path, endpoint=hub.endpoint, sha256="ab" * 32)
    assert str(info.value) == (
        f"HaluMem-Medium.jsonl of {REPO} at revision main (commit {hub.commit}) has sha256 {DIGEST}, not "
        f"the {'ab' * 32} asked for: it was not kept (the release changed since that digest; pin the "
        "revision it belongs to)"
    )
    assert not (tmp_path / "main" / "HaluMem-Medium.jsonl").exists()
    assert not (tmp_path / "main" / MANIFEST).exists()


def test_a_file_the_revision_lacks_is_named(hub: FakeHfHub, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        pull_halumem("long", tmp_path, endpoint=hub.endpoint)
    assert str(info.value) == f"{REPO} at revision main (commit {hub.commit}) has no HaluMem-Long.jsonl"
    assert hub.downloads() == []


def test_an_unreachable_hub_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_client(monkeypatch, tmp_path / "client")
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(RunFailure) as info:
        pull_halumem("medium", tmp_path, endpoint=endpoint)
    message = str(info.value)
    assert message.startswith(f"could not pull {REPO} at revision main from {endpoint} (")
    assert "download the file on another machine" in message and "-T data=PATH" in message
    assert list(tmp_path.glob("main")) == []


def test_an_unknown_variant_is_refused_before_the_hub(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="variant must be one of medium, long, got 'huge'"):
        pull_halumem("huge", tmp_path, endpoint="http://127.0.0.1:9")


def test_the_task_pulls_its_variant_at_its_revision(
    hub: FakeHfHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    task = HaluMemTask({"revision": hub.commit, "sha256": DIGEST}, tmp_path / "halumem")
    path = task.pull(tmp_path / "halumem")
    assert path == tmp_path / "halumem" / hub.commit / "HaluMem-Medium.jsonl"
    assert path.read_bytes() == BODY
