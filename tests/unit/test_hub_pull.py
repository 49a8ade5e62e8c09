"""One pull mechanism for hub datasets (membench.core.hub): the real huggingface_hub client against a
loopback fake of the hub (never the hub), reached through its endpoint as HF_ENDPOINT would be."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import OfflineModeIsEnabled

from membench.core.errors import ConfigError, RunFailure
from membench.core.hub import MANIFEST, PullProgress, hub_dataset, print_progress, revision_folder
from membench.testing.fakes.hf_hub import FakeHfHub, git_blob_id, isolate_client

REPO = "org/tiny"
BIG = bytes(range(256)) * 20  # 5,120 bytes, in LFS
FILES = {"data/big.bin": BIG, "data/small.txt": b"small\n", "README.md": b"# tiny\n"}
PLAIN = {"data/small.txt", "README.md"}
DATA = ["data/big.bin", "data/small.txt"]


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHfHub]:
    isolate_client(monkeypatch, tmp_path / "client")
    with FakeHfHub(REPO, FILES, plain=PLAIN) as fake:
        yield fake


def pull(hub: FakeHfHub, dest: Path, revision: str = "main", seen: list[PullProgress] | None = None) -> Path:
    """Pull data/ of the fake at ``revision`` into ``dest``; the folder it landed in."""
    root = revision_folder(dest, revision)
    with hub_dataset(REPO, revision, advice="ADVICE", endpoint=hub.endpoint) as dataset:
        files = dataset.files("data")
        dataset.pull(
            files,
            root,
            record={"task": "tiny"},
            progress=(seen.append if seen is not None else print_progress),
        )
    return root


def pulled(root: Path) -> list[str]:
    """The repository files under ``root``: neither the client's bookkeeping nor the manifest."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".cache" not in p.relative_to(root).parts and p.name != MANIFEST
    )


def test_a_pull_fetches_checks_and_records_the_commit(
    hub: FakeHfHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with hub_dataset(REPO, "main", advice="ADVICE", endpoint=hub.endpoint) as dataset:
        assert dataset.commit == hub.commit
        files = dataset.files("data")
        assert [(f.path, f.size, f.checksum.algorithm) for f in files] == [
            ("data/big.bin", len(BIG), "sha256"),
            ("data/small.txt", 6, "git-sha1"),
        ]
        dataset.pull(files, tmp_path / "main", record={"task": "tiny"})
    root = tmp_path / "main"
    assert pulled(root) == DATA
    assert (root / "data/big.bin").read_bytes() == BIG
    assert json.loads((root / MANIFEST).read_text()) == {
        "repo": REPO,
        "revision": "main",
        "commit": hub.commit,
        "endpoint": hub.endpoint,
        "task": "tiny",
        "files": 2,
        "bytes": len(BIG) + 6,
        "sha256": {p: hashlib.sha256(FILES[p]).hexdigest() for p in DATA},
    }
    # main is resolved once; every listing and file after that is asked for at the commit itself.
    assert [r.path for r in hub.requests][:2] == [
        f"/api/datasets/{REPO}/revision/main",
        f"/api/datasets/{REPO}/tree/{hub.commit}/data",
    ]
    assert all(f"/{hub.commit}/" in r.path for r in hub.requests if "/resolve/" in r.path)
    assert hub.downloads() == DATA
    assert [r.path for r in hub.transfers()] == [  # the LFS file's bytes come from the CDN
        f"/_cdn/{hashlib.sha256(BIG).hexdigest()}",
        f"/datasets/{REPO}/resolve/{hub.commit}/data/small.txt",
    ]
    assert capsys.readouterr().err.splitlines() == [
        "1/2 fetched data/big.bin (5.1 kB)",
        "2/2 fetched data/small.txt (6 B)",
    ]


def test_a_second_pull_downloads_nothing(hub: FakeHfHub, tmp_path: Path) -> None:
    pull(hub, tmp_path)
    before = len(hub.requests)
    seen: list[PullProgress] = []
    root = pull(hub, tmp_path, seen=seen)
    again = hub.requests[before:]
    assert [(r.method, r.path) for r in again] == [
        ("GET", f"/api/datasets/{REPO}/revision/main"),
        ("GET", f"/api/datasets/{REPO}/tree/{hub.commit}/data"),
    ]
    assert seen == [
        PullProgress(1, 2, "data/big.bin", len(BIG), kept=True),
        PullProgress(2, 2, "data/small.txt", 6, kept=True),
    ]
    assert (root / MANIFEST).is_file()


def test_a_file_changed_on_disk_is_fetched_again(hub: FakeHfHub, tmp_path: Path) -> None:
    root = pull(hub, tmp_path)
    (root / "data/small.txt").write_bytes(b"edited\n")
    before = len(hub.downloads())
    pull(hub, tmp_path)
    assert hub.downloads()[before:] == ["data/small.txt"]
    assert (root / "data/small.txt").read_bytes() == b"small\n"


def test_a_pull_reaches_the_hub_with_hf_hub_offline_set(
    hub: FakeHfHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HF_HUB_OFFLINE=1 (the Makefile's, the tests') keeps model loaders offline, not a user's pull."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # what the client read at import
    with pytest.raises(OfflineModeIsEnabled):  # the client alone refuses to go out
        HfApi(endpoint=hub.endpoint).dataset_info(REPO)
    root = pull(hub, tmp_path)
    assert pulled(root) == DATA
    assert constants.HF_HUB_OFFLINE is True  # put back for everything after the pull


def test_a_pinned_commit_is_what_is_pulled(hub: FakeHfHub, tmp_path: Path) -> None:
    first = hub.commit
    second = hub.push({**FILES, "data/small.txt": b"changed upstream\n"})
    pinned = pull(hub, tmp_path, revision=first)
    latest = pull(hub, tmp_path)
    assert pinned == tmp_path / first and latest == tmp_path / "main"
    assert (pinned / "data/small.txt").read_bytes() == b"small\n"
    assert (latest / "data/small.txt").read_bytes() == b"changed upstream\n"
    assert json.loads((pinned / MANIFEST).read_text())["commit"] == first
    assert json.loads((latest / MANIFEST).read_text())["commit"] == second
    small = [r.path for r in hub.transfers() if r.path.endswith("small.txt")]
    assert small == [f"/datasets/{REPO}/resolve/{c}/data/small.txt" for c in (first, second)]


def test_a_cut_transfer_resumes_where_it_stopped(
    hub: FakeHfHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 1024)  # the client writes 1 kB at a time
    hub.cut = {"data/big.bin"}
    root = pull(hub, tmp_path)
    assert (root / "data/big.bin").read_bytes() == BIG
    big = [r for r in hub.transfers() if r.path.startswith("/_cdn/")]
    # half of 5,120 bytes arrived; the two whole kB written are kept and the rest is asked for.
    assert [r.range for r in big] == [None, "bytes=2048-"]


@pytest.mark.parametrize(("path", "algorithm"), [("data/big.bin", "sha256"), ("data/small.txt", "git-sha1")])
def test_a_corrupted_transfer_is_refused_and_not_kept(
    hub: FakeHfHub, tmp_path: Path, path: str, algorithm: str
) -> None:
    hub.corrupt = {path}
    data = FILES[path]
    damaged = data[:-1] + bytes([data[-1] ^ 0xFF])
    if algorithm == "sha256":
        expected, got = hashlib.sha256(data).hexdigest(), hashlib.sha256(damaged).hexdigest()
    else:
        expected, got = git_blob_id(data), git_blob_id(damaged)
    with pytest.raises(RunFailure) as info:
        pull(hub, tmp_path)
    assert str(info.value) == (
        f"the download of {path} of {REPO} at revision main has {algorithm} {got}, expected {expected}: "
        "it was not kept (a changed release or a corrupted transfer; pulling again fetches it again)"
    )
    root = tmp_path / "main"
    assert path not in pulled(root)
    assert not (root / MANIFEST).exists()


def test_an_unknown_revision_is_one_line(hub: FakeHfHub, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        pull(hub, tmp_path, revision="v9")
    assert str(info.value) == (
        f"the dataset {REPO} has no revision 'v9' on {hub.endpoint}: give a branch, a tag or a commit id "
        "that exists"
    )
    assert list(tmp_path.glob("v9")) == []


def test_a_missing_repo_is_one_line(hub: FakeHfHub, tmp_path: Path) -> None:
    with (
        pytest.raises(ConfigError) as info,
        hub_dataset("org/nothing", "main", advice="A", endpoint=hub.endpoint),
    ):
        pass
    assert str(info.value) == (
        f"the dataset org/nothing was not found on {hub.endpoint} (if it is private, log in with hf auth "
        "login or set HF_TOKEN to a token that can read it)"
    )
    assert hub.requests[-1].has_auth is False


@pytest.mark.parametrize(
    ("token", "said"), [(None, "no token was sent"), ("hf_other", "the token sent has no access")]
)
def test_a_gated_dataset_without_access_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str | None, said: str
) -> None:
    """The hub answers 401 GatedRepo without a token and 403 GatedRepo with one that has no access."""
    isolate_client(monkeypatch, tmp_path / "client")
    if token is not None:
        monkeypatch.setenv("HF_TOKEN", token)
    with FakeHfHub(REPO, FILES, plain=PLAIN, gated=True, tokens={"hf_granted"}) as hub:
        with pytest.raises(ConfigError) as info:
            pull(hub, tmp_path)
        head = next(r for r in hub.requests if "/resolve/" in r.path)
        assert head.has_auth is (token is not None)
        assert str(info.value) == (
            f"the dataset {REPO} is gated and {said}: accept its conditions at "
            f"{hub.endpoint}/datasets/{REPO}, then log in (hf auth login) or set HF_TOKEN"
        )
    assert "hf_other" not in str(info.value)
    assert not (tmp_path / "main" / MANIFEST).exists()


def test_a_gated_dataset_is_pulled_with_a_token_that_has_access(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_client(monkeypatch, tmp_path / "client")
    monkeypatch.setenv("HF_TOKEN", "hf_granted")
    with FakeHfHub(REPO, FILES, plain=PLAIN, gated=True, tokens={"hf_granted"}) as hub:
        root = pull(hub, tmp_path)
        assert all(r.has_auth for r in hub.requests if "/resolve/" in r.path)
    assert pulled(root) == DATA
    assert "hf_granted" not in (root / MANIFEST).read_text()


def test_an_unreachable_hub_is_one_line_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_client(monkeypatch, tmp_path / "client")
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.raises(RunFailure) as info, hub_dataset(REPO, "main", advice="ADVICE", endpoint=endpoint):
        pass
    message = str(info.value)
    assert message.startswith(f"could not pull {REPO} at revision main from {endpoint} (")
    assert message.endswith(". ADVICE") and "\n" not in message
    # a mirror's credentials in the endpoint never reach the message
    with pytest.raises(RunFailure) as info, hub_dataset(
        REPO, "main", advice="ADVICE", endpoint=f"http://bob:s3cret@127.0.0.1:{port}"
    ):
        pass
    assert "s3cret" not in str(info.value) and f"from {endpoint} (" in str(info.value)


def test_the_endpoint_is_hf_endpoint_when_none_is_given(
    hub: FakeHfHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint + "/")
    with hub_dataset(REPO, "main", advice="ADVICE") as dataset:
        assert (dataset.endpoint, dataset.commit) == (hub.endpoint, hub.commit)


def test_an_empty_revision_is_refused() -> None:
    with pytest.raises(ConfigError, match="the revision is empty"):
        revision_folder(Path("data"), " ")
