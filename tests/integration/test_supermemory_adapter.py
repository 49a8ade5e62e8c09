"""The Supermemory adapter driving the real ``supermemory`` SDK against a loopback fake of
Supermemory's v5 API (``membench.testing.fakes.supermemory``): namespaces, documents processed
asynchronously, and search, as the SDK calls them. Nothing leaves the machine.

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

pytest.importorskip(
    "supermemory", reason="supermemory extra not installed: pip install 'membench[hosted]'"
)

from supermemory.environment import SupermemoryEnvironment

import membench
from membench.core.errors import ConfigError
from membench.core.types import Episode, Session, Turn
from membench.systems.hosted import ServiceError, rfc3339
from membench.systems.supermemory import DEFAULT_BASE_URL, SupermemorySystem, session_text
from membench.testing.configs import tiny_run_config
from membench.testing.fakes.supermemory import FakeSupermemory

KEY = "sm-test-key-0123456789abcdef"
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
def supermemory(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSupermemory]:
    monkeypatch.setenv("SUPERMEMORY_API_KEY", KEY)
    with FakeSupermemory(KEY, processing_polls=1) as fake:
        yield fake


def _system(fake: FakeSupermemory, workdir: Path, **options: str) -> SupermemorySystem:
    return SupermemorySystem({"base_url": fake.base_url, **options}, workdir)


def _run(scenario: Callable[[], Any]) -> Any:
    return asyncio.run(scenario())


async def _ingest(system: SupermemorySystem, episode: Episode) -> None:
    await system.reset(episode)
    for session in episode.sessions:
        await system.ingest(session)
        await system.settle()


def test_each_episode_retrieves_its_own_memories_once_settled(
    supermemory: FakeSupermemory, tmp_path: Path
) -> None:
    first, second = _system(supermemory, tmp_path / "w0"), _system(supermemory, tmp_path / "w1")

    async def scenario() -> None:
        await _ingest(first, EPISODE)
        await _ingest(second, OTHER)
        hits = await first.retrieve("Where does my sister Clara live?", 2)
        # hybrid search: the learned memory (here the session's user line), then the session's chunk
        assert [h.metadata["kind"] for h in hits] == ["memory", "chunk"]
        assert hits[0].text == f"user: {SISTER}" and SISTER in hits[1].text
        assert {h.session_id for h in hits} == {"s2"} and {h.metadata["session_index"] for h in hits} == {1}
        assert hits[0].timestamp == "Mar 08, 2024, 10:00:00", "the session's time, as the dataset gives it"
        assert (hits[0].score or 0.0) >= (hits[1].score or 0.0)
        assert not any(RISOTTO in h.text for h in await first.retrieve("favourite dish risotto", 10))
        assert any(RISOTTO in h.text for h in await second.retrieve("favourite dish risotto", 10))
        assert not any(
            DOG in h.text or SISTER in h.text for h in await second.retrieve("beagle sister Lisbon", 10)
        )

        await first.reset(THIRD)  # the next episode: the last namespace deleted, a new one
        assert await first.retrieve("What is the name of my beagle?", 10) == []
        await first.close()
        await second.close()

    _run(scenario)
    assert supermemory.documents == {}, "every namespace was deleted by the reset or the close"
    namespaces = {r.path.split("/")[2] for r in supermemory.requests}
    assert all(ns.startswith("membench-") for ns in namespaces)
    assert len({ns.split("-")[1] for ns in namespaces}) == 1, "one prefix per run, whichever worker"
    assert all(unfinished == 0 for _, _, unfinished in supermemory.searches), "no search met a half-built one"


@pytest.mark.parametrize(("mode", "polls"), [("hybrid", 6), ("chunks", 4)])
def test_settle_polls_until_the_document_is_processed(
    supermemory: FakeSupermemory, tmp_path: Path, mode: str, polls: int
) -> None:
    supermemory.processing_polls, supermemory.dreaming_polls = 3, 2
    system = _system(supermemory, tmp_path / "w0", search_mode=mode)

    async def scenario() -> None:
        await system.reset(EPISODE)
        await system.ingest(EPISODE.sessions[0])
        assert await system.retrieve(DOG, 5) == [], "Supermemory has not processed the session yet"
        assert supermemory.searches[-1][2] == 1
        await system.settle()
        assert any(DOG in h.text for h in await system.retrieve(DOG, 5))
        await system.close()

    _run(scenario)
    # Three polls in the processing stages, then status done; memories (hybrid) need two more for dreaming.
    assert list(supermemory.document_polls.values()) == [polls]


def test_a_failed_document_is_an_error(supermemory: FakeSupermemory, tmp_path: Path) -> None:
    supermemory.document_outcome = "failed"
    system = _system(supermemory, tmp_path / "w0")

    async def scenario() -> None:
        await system.reset(EPISODE)
        await system.ingest(EPISODE.sessions[0])
        with pytest.raises(ServiceError, match="processing session 's1' failed"):
            await system.settle()
        await system.close()

    _run(scenario)


def test_processing_past_the_timeout_is_an_error(supermemory: FakeSupermemory, tmp_path: Path) -> None:
    supermemory.processing_polls = 10**6
    system = _system(supermemory, tmp_path / "w0", index_timeout_s="0.3")

    async def scenario() -> None:
        await system.reset(EPISODE)
        await system.ingest(EPISODE.sessions[0])
        with pytest.raises(
            ServiceError,
            match=r"after 0.3 s \(option index_timeout_s\): session 's1': status \w+, dreaming dreaming",
        ):
            await system.settle()
        await system.close()

    _run(scenario)


def test_a_refused_key_is_a_clear_error_that_does_not_quote_it(
    supermemory: FakeSupermemory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "sm-wrong-key-9876543210"
    monkeypatch.setenv("SUPERMEMORY_API_KEY", wrong)
    system = _system(supermemory, tmp_path / "w0")

    async def scenario() -> None:
        with pytest.raises(
            ConfigError, match=r"refused the API key \(HTTP 401\): check SUPERMEMORY_API_KEY"
        ) as refused:
            await system.reset(EPISODE)
        assert wrong not in str(refused.value) and KEY not in str(refused.value)
        await system.close()

    _run(scenario)
    assert supermemory.requests and all(r.has_auth and not r.authorized for r in supermemory.requests)


def test_an_unreachable_service_names_its_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUPERMEMORY_API_KEY", KEY)
    with FakeSupermemory(KEY) as gone:
        url = gone.base_url  # a loopback port nobody listens on once the fake stops
    system = SupermemorySystem({"base_url": url}, tmp_path / "w0")

    async def scenario() -> None:
        with pytest.raises(ServiceError, match=f"cannot connect to {url}") as refused:
            await system.reset(EPISODE)
        assert KEY not in str(refused.value)
        await system.close()

    _run(scenario)


def test_a_resumed_run_deletes_the_namespace_its_interrupted_attempt_left(
    supermemory: FakeSupermemory, tmp_path: Path
) -> None:
    workdir = tmp_path / "w0"

    async def scenario() -> None:
        killed = _system(supermemory, workdir)
        await _ingest(killed, EPISODE)  # never closed: the process died here
        resumed = _system(supermemory, workdir.parent / "w1")  # the resume may hand it to another worker
        await resumed.reset(EPISODE)  # same run, same episode: the same namespace, emptied
        assert await resumed.retrieve("What is the name of my beagle?", 10) == []
        await resumed.ingest(EPISODE.sessions[0])
        await resumed.settle()
        assert any(DOG in h.text for h in await resumed.retrieve("What is the name of my beagle?", 3))
        await resumed.close()

    _run(scenario)
    assert (tmp_path / "supermemory-namespace-prefix").is_file(), "one prefix per run, beside its workers"
    deletes = [r.path for r in supermemory.requests if r.method == "DELETE"]
    assert len(deletes) == 3 and len(set(deletes)) == 1, (
        "one namespace: cleared twice at reset, deleted at close"
    )


def test_documents_reach_supermemory_as_the_sdk_sends_them(
    supermemory: FakeSupermemory, tmp_path: Path
) -> None:
    system = _system(supermemory, tmp_path / "w0", dreaming="instant")
    timed = Session(
        session_id="d1",
        turns=[
            Turn(role="user", content="I moved to Porto.", timestamp="Jan 02, 2024, 09:30:00"),
            Turn(role="assistant", content=" "),
        ],
    )

    async def scenario() -> None:
        await system.reset(EPISODE)
        await system.ingest(EPISODE.sessions[1])
        await system.ingest(timed)
        await system.ingest(Session(session_id="empty", turns=[]))
        await system.settle()
        await system.close()

    _run(scenario)
    adds = [r.body for r in supermemory.requests if r.path.endswith("/document")]
    assert adds == [
        {
            "content": f"user: {SISTER}\nassistant: Lisbon is lovely.",
            "metadata": {"session_id": "s2", "session_index": 0, "start_time": "Mar 08, 2024, 10:00:00"},
            "date": "2024-03-08T10:00:00Z",
            "dreaming": "instant",
        },
        {
            "content": "[Jan 02, 2024, 09:30:00] user: I moved to Porto.",
            "metadata": {"session_id": "d1", "session_index": 1},
            "dreaming": "instant",
        },
    ], "an empty turn is left out, and a session with nothing said is not sent"
    assert all(r.has_auth and r.authorized for r in supermemory.requests)


def test_session_text_and_dates() -> None:
    session = Session(
        session_id="x",
        turns=[Turn(role="user", content="hi", timestamp="t0"), Turn(role="assistant", content="yo")],
    )
    assert session_text(session) == "[t0] user: hi\nassistant: yo"
    assert rfc3339("Dec 15, 2025, 06:11:23") == "2025-12-15T06:11:23Z"
    assert rfc3339("2024-03-01") == "2024-03-01T00:00:00Z"
    assert rfc3339("tomorrow") is None and rfc3339(None) is None


def test_configuration_identity_and_description(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPERMEMORY_API_KEY", raising=False)
    assert SupermemorySystem.not_configured() == "set SUPERMEMORY_API_KEY"
    assert SupermemoryEnvironment.DEFAULT.value == DEFAULT_BASE_URL, "the SDK's own default"
    system = SupermemorySystem({}, tmp_path / "w0")
    assert system.describe() == (
        "supermemory 5.0.1, hosted at https://api.supermemory.ai; hybrid search, dynamic dreaming"
    )
    assert system.identity() == {
        "name": "supermemory",
        "options": {"base_url": DEFAULT_BASE_URL, "dreaming": "dynamic", "search_mode": "hybrid"},
        "supermemory": "5.0.1",
    }, "how long membench waits is not part of what the system is"
    assert not SupermemorySystem.capabilities.session_memories

    with pytest.raises(ConfigError, match="set SUPERMEMORY_API_KEY"):
        asyncio.run(system.reset(EPISODE))
    monkeypatch.setenv("SUPERMEMORY_API_KEY", KEY)
    assert SupermemorySystem.not_configured() is None
    assert KEY not in system.describe() + json.dumps(system.identity())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"search_mode": "documents"}, "search_mode must be one of hybrid, memories, chunks"),
        ({"dreaming": "never"}, "dreaming must be one of dynamic, instant"),
        ({"index_timeout_s": "-1"}, "index_timeout_s must be a positive number"),
        ({"base_url": "api.supermemory.ai"}, "base_url must be an http"),
        ({"api_key": KEY}, r"unknown [\w-]+ option"),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SupermemorySystem(options, tmp_path)


def test_a_halumem_run_times_the_indexing_apart_and_keeps_no_key(
    supermemory: FakeSupermemory, tmp_path: Path
) -> None:
    options = {"base_url": supermemory.base_url}
    outcome = membench.run(
        tiny_run_config(tmp_path, "halumem", "supermemory", system_options=options)
    )

    ingests = [json.loads(line) for line in (outcome.run_dir / "ingest.jsonl").read_text().splitlines()]
    assert ingests and all(i["ok"] for i in ingests)
    assert all(i["index_wait_s"] > 0 for i in ingests), "every session waited for Supermemory's processing"
    records = read_records(outcome.run_dir)
    assert any(r.prediction and r.prediction.memories for r in records), "answered from its search"
    assert all(unfinished == 0 for _, _, unfinished in supermemory.searches), "no probe met a half-built one"
    leaked = [p for p in outcome.run_dir.rglob("*") if p.is_file() and KEY in p.read_text(errors="replace")]
    assert leaked == []
