"""The Zep adapter driving the real ``zep-cloud`` SDK against a loopback fake of Zep's v4 API
(``membench.testing.fakes.zep``): users, threads, asynchronous tasks and graph search as the SDK
calls them. Nothing leaves the machine.

Skipped where the SDK is not installed (``pip install 'membench[hosted]'``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from membench.core.records import read_records

pytest.importorskip("zep_cloud", reason="zep extra not installed: pip install 'membench[hosted]'")

from zep_cloud.environment import ZepEnvironment

import membench
from membench.core.errors import ConfigError
from membench.core.types import Episode, Session, Turn
from membench.systems.hosted import ServiceError, rfc3339
from membench.systems.zep import DEFAULT_BASE_URL, ZepSystem, zep_role
from membench.testing.configs import tiny_run_config
from membench.testing.fakes.zep import FakeZep

KEY = "zep-test-key-0123456789abcdef"
DOG = "I adopted a beagle named Max last spring."
SISTER = "My sister Clara lives in Lisbon and works as a marine biologist."
RISOTTO = "My favourite dish is mushroom risotto with truffle oil."


def _session(session_id: str, start: str, *turns: tuple[str, str]) -> Session:
    return Session(session_id=session_id, start_time=start, turns=[Turn(role=r, content=c) for r, c in turns])


EPISODE = Episode(
    episode_id="ep 1",
    sessions=[
        _session("s1", "2024-03-01T10:00:00", ("user", DOG), ("assistant", "What a lovely dog!")),
        _session("s2", "Mar 08, 2024, 10:00:00", ("user", SISTER), ("assistant", "Lisbon is lovely.")),
    ],
)
OTHER = Episode(episode_id="ep 2", sessions=[_session("t1", "2024-05-01T09:00:00", ("user", RISOTTO))])
THIRD = OTHER.model_copy(update={"episode_id": "third episode"})


@pytest.fixture
def zep(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeZep]:
    monkeypatch.setenv("ZEP_API_KEY", KEY)
    with FakeZep(KEY, processing_polls=1) as fake:
        yield fake


def _system(fake: FakeZep, workdir: Path, **options: str) -> ZepSystem:
    return ZepSystem({"base_url": fake.base_url, **options}, workdir)


def _run(scenario: Callable[[], Any]) -> Any:
    return asyncio.run(scenario())


async def _ingest(system: ZepSystem, episode: Episode) -> None:
    await system.reset(episode)
    for session in episode.sessions:
        await system.ingest(session)
        await system.settle()


def test_each_episode_retrieves_its_own_facts_once_settled(zep: FakeZep, tmp_path: Path) -> None:
    first, second = _system(zep, tmp_path / "w0"), _system(zep, tmp_path / "w1")

    async def scenario() -> None:
        await _ingest(first, EPISODE)
        await _ingest(second, OTHER)
        hits = await first.retrieve("Where does my sister Clara live?", 2)
        assert hits[0].text == SISTER and hits[0].session_id == "s2"
        assert hits[0].timestamp == "Mar 08, 2024, 10:00:00", "the session's time, as the dataset gives it"
        assert hits[0].metadata["session_index"] == 1 and hits[0].metadata["kind"] == "edge"
        assert hits[0].metadata["valid_at"] == "2024-03-08T10:00:00Z", "Zep's own time for the fact"
        assert [h.score for h in hits] == sorted((h.score or 0.0 for h in hits), reverse=True)
        assert RISOTTO not in {h.text for h in await first.retrieve("favourite dish risotto", 10)}
        assert [h.text for h in await second.retrieve("favourite dish risotto", 10)] == [RISOTTO]
        assert not {DOG, SISTER} & {h.text for h in await second.retrieve("beagle sister Lisbon", 10)}

        await first.reset(THIRD)  # the next episode: a new user, the last one deleted
        assert await first.retrieve("What is the name of my beagle?", 10) == []
        await first.close()
        await second.close()

    _run(scenario)
    user_ids = [u["user_id"] for u in zep.users.values()]
    assert all(uid.startswith("membench-") for uid in user_ids)
    assert len({uid.split("-")[1] for uid in user_ids}) == 1, "one prefix per run, whichever worker"
    deletes = [r for r in zep.requests if r.method == "DELETE"]
    assert len(deletes) == 3, "the replaced user at reset, and each system's last user at close"
    assert all(unprocessed == 0 for _, _, unprocessed in zep.searches), "no search met a half-built graph"


def test_settle_polls_every_task_until_it_succeeded(zep: FakeZep, tmp_path: Path) -> None:
    zep.processing_polls = 3
    system = _system(zep, tmp_path / "w0")
    long_session = _session(
        "long", "2024-04-01T08:00:00", *[("user", f"Note {i}: I like tea.") for i in range(31)]
    )

    async def scenario() -> None:
        await system.reset(EPISODE)
        await system.ingest(EPISODE.sessions[0])
        assert await system.retrieve(DOG, 5) == [], "Zep has not processed the session yet"
        assert zep.searches[-1][2] == 2, "both messages were still unprocessed"
        await system.settle()
        assert [h.text for h in await system.retrieve(DOG, 1)] == [DOG]
        await system.ingest(long_session)  # 31 messages: two add_messages calls, two tasks
        await system.settle()
        await system.close()

    _run(scenario)
    adds = [r for r in zep.requests if r.path.endswith("/messages")]
    assert [len(r.body["messages"]) for r in adds] == [2, 30, 1]
    polls = [zep.task_polls[t.uuid] for t in zep.tasks.values() if t.type == "add_messages"]
    assert polls == [4, 4, 4], "pending, then processing three times, then succeeded: one poll each"
    assert zep.searches[-1][2] == 0


@pytest.mark.parametrize("outcome", ["failed", "partial"])
def test_a_task_that_does_not_succeed_is_an_error(zep: FakeZep, tmp_path: Path, outcome: str) -> None:
    zep.task_outcome = outcome  # type: ignore[assignment]
    system = _system(zep, tmp_path / "w0")

    async def scenario() -> None:
        await system.reset(EPISODE)
        await system.ingest(EPISODE.sessions[0])
        with pytest.raises(ServiceError, match=f"session 's1' ended '{outcome}': extraction_failed"):
            await system.settle()
        await system.close()

    _run(scenario)


def test_processing_past_the_timeout_is_an_error(zep: FakeZep, tmp_path: Path) -> None:
    zep.processing_polls = 10**6
    system = _system(zep, tmp_path / "w0", index_timeout_s="0.3")

    async def scenario() -> None:
        await system.reset(EPISODE)
        await system.ingest(EPISODE.sessions[0])
        with pytest.raises(
            ServiceError, match=r"session 's1' still processing at Zep after 0.3 s \(option index_timeout_s\)"
        ):
            await system.settle()
        await system.close()

    _run(scenario)


def test_a_refused_key_is_a_clear_error_that_does_not_quote_it(
    zep: FakeZep, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "zep-wrong-key-9876543210"
    monkeypatch.setenv("ZEP_API_KEY", wrong)
    system = _system(zep, tmp_path / "w0")

    async def scenario() -> None:
        with pytest.raises(
            ConfigError, match="refused the API key \\(HTTP 401\\): check ZEP_API_KEY"
        ) as refused:
            await system.reset(EPISODE)
        assert wrong not in str(refused.value) and KEY not in str(refused.value)
        await system.close()

    _run(scenario)
    assert zep.requests and all(r.has_auth and not r.authorized for r in zep.requests)


def test_an_unreachable_service_names_its_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZEP_API_KEY", KEY)
    with FakeZep(KEY) as gone:
        url = gone.base_url  # a loopback port nobody listens on once the fake stops
    system = ZepSystem({"base_url": url}, tmp_path / "w0")

    async def scenario() -> None:
        with pytest.raises(ServiceError, match=f"cannot connect to {url}") as refused:
            await system.reset(EPISODE)
        assert KEY not in str(refused.value)
        await system.close()

    _run(scenario)


def test_a_resumed_run_deletes_the_user_its_interrupted_attempt_left(zep: FakeZep, tmp_path: Path) -> None:
    workdir = tmp_path / "w0"

    async def scenario() -> None:
        killed = _system(zep, workdir)
        await _ingest(killed, EPISODE)  # never closed: the process died here
        resumed = _system(zep, workdir.parent / "w1")  # the resume may hand it to another worker
        await resumed.reset(EPISODE)  # same run, same episode: the same user_id
        assert await resumed.retrieve("What is the name of my beagle?", 10) == []
        await resumed.ingest(EPISODE.sessions[0])
        await resumed.settle()
        assert [h.text for h in await resumed.retrieve("What is the name of my beagle?", 1)] == [DOG]
        await resumed.close()

    _run(scenario)
    assert (tmp_path / "zep-namespace-prefix").is_file(), "one prefix per run, beside its workers"
    lookups = [r for r in zep.requests if r.path == "/users/lookup"]
    assert lookups[0].body["user_id"] == lookups[1].body["user_id"], "the prefix survives the restart"
    deletion = next(t for t in zep.tasks.values() if t.type == "user_delete")
    assert deletion.status == "succeeded", (
        "the leftover's deletion was awaited before the user was made again"
    )


def test_episode_scope_returns_the_stored_messages(zep: FakeZep, tmp_path: Path) -> None:
    system = _system(zep, tmp_path / "w0", search_scope="episodes")

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        hits = await system.retrieve("Lisbon sister", 2)
        assert [(h.text, h.session_id, h.metadata["role"]) for h in hits] == [
            (SISTER, "s2", "user"),
            ("Lisbon is lovely.", "s2", "assistant"),
        ]
        await system.close()

    _run(scenario)
    assert any(r.path.endswith("/search/episodes") for r in zep.requests)


def test_messages_reach_zep_as_the_sdk_sends_them(zep: FakeZep, tmp_path: Path) -> None:
    system = _system(zep, tmp_path / "w0")
    document = Session(
        session_id="d1",
        turns=[
            Turn(role="document", content="Chapter one.", timestamp="2024-01-02"),
            Turn(role="user", content="  "),
        ],
    )

    async def scenario() -> None:
        await system.reset(EPISODE)
        await system.ingest(EPISODE.sessions[1])
        await system.ingest(document)
        await system.settle()
        await system.close()

    _run(scenario)
    adds = [r.body["messages"] for r in zep.requests if r.path.endswith("/messages")]
    assert adds[0][0] == {
        "role": "user",
        "content": SISTER,
        "reference_time": "2024-03-08T10:00:00Z",
        "metadata": {"session_id": "s2", "session_index": 0},
    }
    assert adds[1] == [
        {
            "role": "user",
            "name": "document",
            "content": "Chapter one.",
            "reference_time": "2024-01-02T00:00:00Z",
            "metadata": {"session_id": "d1", "session_index": 1},
        }
    ], "an unknown role is a named user message; an empty turn is not sent"
    assert all(r.has_auth and r.authorized for r in zep.requests)


def test_roles_and_times_as_zep_expects_them() -> None:
    assert zep_role("assistant") == ("assistant", None) and zep_role("Human") == ("user", None)
    assert zep_role("document") == ("user", "document")
    assert rfc3339("Dec 15, 2025, 06:11:23") == "2025-12-15T06:11:23Z"
    assert rfc3339("2024-03-01T10:00:00+02:00") == "2024-03-01T10:00:00+02:00"
    assert rfc3339("the day after") is None and rfc3339(None) is None


def test_configuration_identity_and_description(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZEP_API_KEY", raising=False)
    assert ZepSystem.not_configured() == "set ZEP_API_KEY"
    assert ZepEnvironment.DEFAULT.value == DEFAULT_BASE_URL, "the SDK's own default"
    system = ZepSystem({}, tmp_path / "w0")
    assert (
        system.describe()
        == "zep (zep-cloud 4.0.1), hosted at https://api.getzep.com/api/v4; graph search over facts (edges)"
    )
    assert system.identity() == {
        "name": "zep",
        "options": {"base_url": DEFAULT_BASE_URL, "search_scope": "edges"},
        "zep-cloud": "4.0.1",
    }, "how long membench waits is not part of what the system is"
    assert not ZepSystem.capabilities.session_memories

    with pytest.raises(ConfigError, match="set ZEP_API_KEY"):
        asyncio.run(system.reset(EPISODE))
    monkeypatch.setenv("ZEP_API_KEY", KEY)
    assert ZepSystem.not_configured() is None
    assert KEY not in system.describe() + json.dumps(system.identity())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"search_scope": "nodes"}, "search_scope must be one of edges, episodes"),
        ({"index_timeout_s": "0"}, "index_timeout_s must be a positive number"),
        ({"base_url": "api.getzep.com"}, "base_url must be an http"),
        ({"api_key": KEY}, r"unknown [\w-]+ option"),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ZepSystem(options, tmp_path)


def test_a_halumem_run_times_the_indexing_apart_and_keeps_no_key(zep: FakeZep, tmp_path: Path) -> None:
    config = tiny_run_config(
        tmp_path, "halumem", "zep", system_options={"base_url": zep.base_url}
    )
    outcome = membench.run(config)

    ingests = [json.loads(line) for line in (outcome.run_dir / "ingest.jsonl").read_text().splitlines()]
    assert ingests and all(i["ok"] for i in ingests)
    assert all(i["index_wait_s"] > 0 for i in ingests), "every session waited for Zep's processing"
    retrieved = [r for r in read_records(outcome.run_dir) if r.prediction and r.prediction.memories]
    assert retrieved, "the probes were answered from what Zep retrieved"
    assert all(unprocessed == 0 for _, _, unprocessed in zep.searches), "no probe met a half-built graph"
    assert {r.path for r in zep.requests if r.method == "DELETE"}, "users were deleted between episodes"
    leaked = [p for p in outcome.run_dir.rglob("*") if p.is_file() and KEY in p.read_text(errors="replace")]
    assert leaked == []
