"""Pulling an official LongMemEval file, against a loopback fake of the Hugging Face hub (never the hub)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from membench.core.errors import ConfigError, RunFailure
from membench.core.hub import MANIFEST
from membench.testing.fakes.hf_hub import FakeHfHub, isolate_client
from membench_tasks.longmemeval.loader import load_longmemeval
from membench_tasks.longmemeval.pull import REPO, pull_longmemeval
from membench_tasks.longmemeval.task import LongMemEvalTask

FIXTURE = Path(__file__).parent.parent / "fixtures" / "longmemeval" / "official_sample.json"
BODY = FIXTURE.read_bytes()
DIGEST = hashlib.sha256(BODY).hexdigest()
#: the cleaned release as the hub holds it: the s and oracle files (in LFS) and the card; no m file here.
RELEASE = {
    "longmemeval_s_cleaned.json": BODY,
    "longmemeval_oracle.json": b"[]\n",
    "README.md": b"---\nlicense: mit\n---\n",
}


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHfHub]:
    isolate_client(monkeypatch, tmp_path / "client")
    with FakeHfHub(REPO, RELEASE, plain={"README.md"}) as fake:
        yield fake


def test_the_s_file_lands_under_its_revision_with_a_record_and_loads(hub: FakeHfHub, tmp_path: Path) -> None:
    path = pull_longmemeval("s", tmp_path / "data", endpoint=hub.endpoint, progress=lambda event: None)
    assert path == tmp_path / "data" / "main" / "longmemeval_s_cleaned.json"
    assert path.read_bytes() == BODY
    record = json.loads((path.parent / MANIFEST).read_text())
    assert (record["repo"], record["revision"], record["commit"]) == (REPO, "main", hub.commit)
    assert (record["file"], record["sha256"]) == ("s", {"longmemeval_s_cleaned.json": DIGEST})
    assert hub.downloads() == ["longmemeval_s_cleaned.json"]  # neither the oracle file nor the card
    assert [p.probe_id for p in load_longmemeval(path, top_k=10).probes] == [
        "q_user_1",
        "q_update_2_abs",
        "q_multi_3",
    ]


def test_the_task_pulls_the_file_and_revision_its_options_name(
    hub: FakeHfHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    pinned = hub.commit
    hub.push({**RELEASE, "longmemeval_oracle.json": b"[ ]\n"})
    task = LongMemEvalTask({"file": "oracle", "revision": pinned}, tmp_path / "data")
    path = task.pull(tmp_path / "data" / "longmemeval")
    assert path == tmp_path / "data" / "longmemeval" / pinned / "longmemeval_oracle.json"
    assert path.read_bytes() == b"[]\n", "the pinned commit's file, not main's"


def test_a_file_the_release_lacks_or_an_unknown_file_is_one_line(hub: FakeHfHub, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=rf"^{REPO} at revision main \(commit \w+\) has no longmemeval_m_cleaned"
    ):
        pull_longmemeval("m", tmp_path, endpoint=hub.endpoint)
    with pytest.raises(ConfigError, match=r"^LongMemEval file must be one of s, m, oracle, got 'xl'$"):
        pull_longmemeval("xl", tmp_path, endpoint=hub.endpoint)


def test_a_sha256_the_file_does_not_have_keeps_nothing(hub: FakeHfHub, tmp_path: Path) -> None:
    with pytest.raises(RunFailure):
        pull_longmemeval("s", tmp_path, endpoint=hub.endpoint, sha256="0" * 64, progress=lambda event: None)
    assert not (tmp_path / "main" / "longmemeval_s_cleaned.json").exists()
    assert not (tmp_path / "main" / MANIFEST).exists()
