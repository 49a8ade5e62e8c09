"""Pulling the official ConvoMem tree, against a loopback fake of the Hugging Face hub (never the hub)."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from membench.core.errors import ConfigError, RunFailure
from membench.core.hub import MANIFEST, PullProgress
from membench.testing.fakes.hf_hub import FakeHfHub, git_blob_id, isolate_client
from membench_tasks.convomem.pull import REPO, pull_convomem

EQ = "core_benchmark/evidence_questions"
FILLER = "core_benchmark/filler_conversations"
PRE = "core_benchmark/pre_mixed_testcases"
FILES = {
    f"{EQ}/user_evidence/1_evidence/p1.json": b'{"evidence_items": [], "checkpoint": "u1p1"}',
    f"{EQ}/user_evidence/1_evidence/p2.json": b'{"evidence_items": [], "checkpoint": "u1p2"}',
    f"{EQ}/user_evidence/2_evidence/p1.json": b'{"evidence_items": [], "checkpoint": "u2p1"}',
    f"{EQ}/changing_evidence/2_evidence/p1.json": b'{"evidence_items": [], "checkpoint": "c2p1"}',
    f"{EQ}/preference_evidence/1_evidence/p2.json": b'{"evidence_items": [], "checkpoint": "r1p2"}',
    f"{FILLER}/p1.json": b'{"evidence_items": [], "checkpoint": "f1"}',
    f"{FILLER}/p2.json": b'{"evidence_items": [], "checkpoint": "f2"}',
    f"{PRE}/user_evidence/1_evidence/batched_000.json": b"[]",
    "core_benchmark/personas/personas_default.json": b"[]",
    "README.md": b"# ConvoMem\n",
}
#: files kept in plain git (checked by git blob id, not LFS sha256), as small files on the hub are.
PLAIN = {f"{EQ}/preference_evidence/1_evidence/p2.json", f"{FILLER}/p2.json"}
EVIDENCE_PART = sorted(p for p in FILES if p.startswith((EQ, FILLER)))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHfHub]:
    isolate_client(monkeypatch, tmp_path / "client")
    # three entries a page: every listing here takes several pages, followed through Link headers.
    with FakeHfHub(REPO, FILES, plain=PLAIN, page_size=3) as fake:
        yield fake


def pulled(root: Path) -> list[str]:
    """Every file under ``root`` but the manifest and the client's bookkeeping (``.cache/``), as hub
    paths (hidden temporaries included)."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name != MANIFEST and p.relative_to(root).parts[0] != ".cache"
    )


def test_a_full_pull_mirrors_the_hub_and_records_it(
    hub: FakeHfHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint + "/")
    seen: list[PullProgress] = []
    root = pull_convomem(
        tmp_path, parts=["evidence"], categories=None, evidence=None, revision="main", progress=seen.append
    )
    assert root == tmp_path / "main"
    assert pulled(root) == EVIDENCE_PART
    assert all((root / p).read_bytes() == FILES[p] for p in EVIDENCE_PART)
    manifest = json.loads((root / MANIFEST).read_text())
    assert manifest == {
        "repo": "Salesforce/ConvoMem",
        "revision": "main",
        "commit": hub.commit,
        "endpoint": hub.endpoint,
        "parts": ["evidence"],
        "categories": [
            "user_facts",
            "assistant_facts",
            "changing_facts",
            "abstention",
            "preferences",
            "implicit_connections",
        ],
        "evidence": [1, 2],
        "files": 7,
        "bytes": sum(len(FILES[p]) for p in EVIDENCE_PART),
        "sha256": {p: sha256(FILES[p]) for p in EVIDENCE_PART},
    }
    # main resolved once; evidence_questions lists 7 folders and 5 files (4 pages of 3), the filler
    # folder 2 files (1 page), each at the commit.
    api = [r for r in hub.requests if r.path.startswith("/api/")]
    assert api[0].path == f"/api/datasets/{REPO}/revision/main"
    assert all(f"/tree/{hub.commit}/" in r.path for r in api[1:])
    assert [r.query.get("cursor") is not None for r in api[1:]] == [False, True, True, True, False]
    assert hub.downloads() == EVIDENCE_PART
    assert seen == [
        PullProgress(i, 7, p, len(FILES[p]), kept=False) for i, p in enumerate(EVIDENCE_PART, start=1)
    ]


def test_categories_and_evidence_counts_select_the_cells(hub: FakeHfHub, tmp_path: Path) -> None:
    root = pull_convomem(
        tmp_path, parts=["evidence"], categories=["user_facts"], evidence=[1], endpoint=hub.endpoint
    )
    assert pulled(root) == [
        f"{EQ}/user_evidence/1_evidence/p1.json",
        f"{EQ}/user_evidence/1_evidence/p2.json",
        f"{FILLER}/p1.json",
        f"{FILLER}/p2.json",
    ]
    manifest = json.loads((root / MANIFEST).read_text())
    assert (manifest["categories"], manifest["evidence"], manifest["files"]) == (["user_facts"], [1], 4)


def test_pre_mixed_alone_takes_no_filler_and_folder_names_work(hub: FakeHfHub, tmp_path: Path) -> None:
    root = pull_convomem(
        tmp_path, parts=["pre_mixed"], categories=["user_evidence"], evidence=None, endpoint=hub.endpoint
    )
    assert pulled(root) == [f"{PRE}/user_evidence/1_evidence/batched_000.json"]
    assert json.loads((root / MANIFEST).read_text())["parts"] == ["pre_mixed"]


def test_a_pinned_commit_gets_its_own_folder(hub: FakeHfHub, tmp_path: Path) -> None:
    root = pull_convomem(
        tmp_path,
        parts=["evidence"],
        categories=["changing_facts"],
        evidence=[2],
        revision=hub.commit,
        endpoint=hub.endpoint,
    )
    assert root == tmp_path / hub.commit
    assert pulled(root) == [
        f"{EQ}/changing_evidence/2_evidence/p1.json",
        f"{FILLER}/p1.json",
        f"{FILLER}/p2.json",
    ]
    assert all(f"/resolve/{hub.commit}/" in r.path for r in hub.requests if "/resolve/" in r.path)
    assert json.loads((root / MANIFEST).read_text())["commit"] == hub.commit


@pytest.mark.parametrize(
    ("path", "algorithm"),
    [(f"{EQ}/user_evidence/1_evidence/p2.json", "sha256"), (f"{FILLER}/p2.json", "git-sha1")],
)
def test_a_corrupted_file_is_refused_and_not_kept(
    hub: FakeHfHub, tmp_path: Path, path: str, algorithm: str
) -> None:
    hub.corrupt = {path}
    data = FILES[path]
    damaged = data[:-1] + bytes([data[-1] ^ 0xFF])
    if algorithm == "sha256":
        expected, got = sha256(data), sha256(damaged)
    else:
        expected, got = git_blob_id(data), git_blob_id(damaged)
    with pytest.raises(RunFailure) as info:
        pull_convomem(tmp_path, parts=["evidence"], categories=None, evidence=None, endpoint=hub.endpoint)
    message = str(info.value)
    assert (
        f"the download of {path} of {REPO} at revision main has {algorithm} {got}, expected {expected}"
        in (message)
    )
    assert "it was not kept" in message
    root = tmp_path / "main"
    assert path not in pulled(root)
    assert [p for p in pulled(root) if p.split("/")[-1].startswith(".")] == []
    assert not (root / MANIFEST).exists()


def test_a_rerun_fetches_only_what_is_missing_or_wrong(hub: FakeHfHub, tmp_path: Path) -> None:
    broken = f"{EQ}/user_evidence/1_evidence/p1.json"
    hub.corrupt = {broken}
    with pytest.raises(RunFailure):
        pull_convomem(tmp_path, parts=["evidence"], categories=None, evidence=None, endpoint=hub.endpoint)
    first = hub.downloads()
    assert first == EVIDENCE_PART[: EVIDENCE_PART.index(broken) + 1]
    root = tmp_path / "main"
    tampered = f"{EQ}/changing_evidence/2_evidence/p1.json"
    (root / tampered).write_bytes(b"edited by hand")
    hub.corrupt = set()
    seen: list[PullProgress] = []
    pull_convomem(
        tmp_path,
        parts=["evidence"],
        categories=None,
        evidence=None,
        endpoint=hub.endpoint,
        progress=seen.append,
    )
    refetched = hub.downloads()[len(first) :]
    assert refetched == [tampered, *EVIDENCE_PART[EVIDENCE_PART.index(broken) :]]
    assert {e.path for e in seen if e.kept} == set(first) - {broken, tampered}
    assert all((root / p).read_bytes() == FILES[p] for p in EVIDENCE_PART)
    assert json.loads((root / MANIFEST).read_text())["sha256"] == {p: sha256(FILES[p]) for p in EVIDENCE_PART}


def test_an_unreachable_hub_fails_at_once_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_client(monkeypatch, tmp_path / "client")
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dest = tmp_path / "convomem"
    with pytest.raises(RunFailure) as info:
        pull_convomem(
            dest, parts=["evidence"], categories=None, evidence=None, endpoint=f"http://127.0.0.1:{port}"
        )
    message = str(info.value)
    assert message.startswith(f"could not pull {REPO} at revision main from http://127.0.0.1:{port} (")
    assert "-T data=PATH" in message and "HF_ENDPOINT" in message and "\n" not in message
    assert not dest.exists()


def test_an_unknown_revision_is_named(hub: FakeHfHub, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"the dataset {REPO} has no revision 'v9' on {hub.endpoint}: "):
        pull_convomem(
            tmp_path, parts=["evidence"], categories=None, evidence=None, revision="v9", endpoint=hub.endpoint
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("parts", "categories", "evidence", "problem"),
    [
        (["haystacks"], None, None, "ConvoMem parts are evidence and/or pre_mixed, got haystacks"),
        (["evidence"], ["user_facts", "moods"], None, r"\(or their folder names\), got moods"),
        (["evidence"], None, [0, 1], r"evidence counts are positive integers, got \[0, 1\]"),
        (
            ["evidence"],
            ["changing_facts"],
            [1],
            "no core_benchmark/evidence_questions file of Salesforce/ConvoMem at revision main matches "
            "categories changing_facts and evidence 1",
        ),
    ],
)
def test_bad_selections_say_what_is_wrong(
    hub: FakeHfHub,
    tmp_path: Path,
    parts: list[str],
    categories: list[str] | None,
    evidence: list[int] | None,
    problem: str,
) -> None:
    with pytest.raises(ConfigError, match=problem):
        pull_convomem(tmp_path, parts=parts, categories=categories, evidence=evidence, endpoint=hub.endpoint)
    assert list(tmp_path.iterdir()) == []


def test_membench_data_pull_reaches_the_hub_with_hf_hub_offline_set(
    hub: FakeHfHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user's command, as the Makefile's environment runs it: HF_HUB_OFFLINE=1, HF_ENDPOINT a mirror."""
    from huggingface_hub import constants

    from membench.cli.main import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # what the client read at import
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    options = ["-T", "categories=user_facts", "-T", "evidence=1", "-T", f"revision={hub.commit}"]
    code = main(["data", "pull", "convomem", *options, "--data-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    root = tmp_path / "convomem" / hub.commit
    assert code == 0 and str(root) in out
    assert pulled(root) == [
        f"{EQ}/user_evidence/1_evidence/p1.json",
        f"{EQ}/user_evidence/1_evidence/p2.json",
        f"{FILLER}/p1.json",
        f"{FILLER}/p2.json",
    ]
    assert err.splitlines() == [
        "1/4 fetched …/evidence_questions/user_evidence/1_evidence/p1.json (44 B)",
        "2/4 fetched …/evidence_questions/user_evidence/1_evidence/p2.json (44 B)",
        "3/4 fetched core_benchmark/filler_conversations/p1.json (42 B)",
        "4/4 fetched core_benchmark/filler_conversations/p2.json (42 B)",
    ]
    assert constants.HF_HUB_OFFLINE is True
