"""The Memobase adapter through the real ``memobase`` client against the loopback fake server.

The fake (membench.testing.fakes.memobase) answers what a self-hosted Memobase server answers, with a
deterministic extraction (each user message one event), so these tests show which requests the adapter
makes and when, which episode's memories come back, and how failures read. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("memobase", reason="the Memobase SDK is not installed: pip install 'membench[hosted]'")

from membench.api import run
from membench.core.errors import ConfigError
from membench.core.records import read_records
from membench.core.types import Episode, Session, Turn
from membench.running.display import NullDisplay
from membench.systems.hosted import ServiceError
from membench.systems.memobase import MemobaseSystem
from membench.testing.configs import tiny_run_config
from membench.testing.fakes import RecordedRequest
from membench.testing.fakes.memobase import FakeMemobase

SECRET = "mb-test-secret-0123456789"
DOG = "I adopted a beagle named Biscuit last spring."
SISTER = "My sister Ana moved to Lisbon to study marine biology."
MARATHON = "I am training for the Berlin marathon in September."
RISOTTO = "My favourite dish is mushroom risotto with truffle oil."


def _session(session_id: str, start: str | None, *turns: tuple[str, str]) -> Session:
    return Session(session_id=session_id, start_time=start, turns=[Turn(role=r, content=c) for r, c in turns])


EPISODE = Episode(
    episode_id="ep 1",
    sessions=[
        _session("s1", "2024-03-01T10:00:00", ("user", DOG), ("assistant", "What a lovely dog!")),
        _session(
            "s2",
            "2024-03-08T10:00:00",
            ("system", "You are a helpful assistant."),
            ("user", SISTER),
            ("assistant", "Lisbon is a wonderful city."),
        ),
        _session("s3", None, ("user", MARATHON), ("assistant", "Good luck!")),
    ],
)
OTHER = Episode(episode_id="ep 2", sessions=[_session("t1", "2024-05-01T09:00:00", ("user", RISOTTO))])


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MEMOBASE_API_KEY", SECRET)
    return SECRET


@pytest.fixture
def server(key: str) -> Iterator[FakeMemobase]:
    with FakeMemobase(key) as fake:
        yield fake


def _system(server: FakeMemobase, workdir: Path, **options: str) -> MemobaseSystem:
    return MemobaseSystem({"base_url": server.base_url, "similarity_threshold": "0.0", **options}, workdir)


async def _ingest(system: MemobaseSystem, episode: Episode) -> None:
    await system.reset(episode)
    for session in episode.sessions:
        await system.ingest(session)
        await system.settle()


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _calls(requests: list[RecordedRequest]) -> list[str]:
    """Each request as ``METHOD /path``, ids shown as ``{id}``, in order."""
    return [f"{r.method} {_UUID.sub('{id}', r.path)}" for r in requests]


def test_each_session_is_inserted_at_ingest_and_flushed_in_settle(
    server: FakeMemobase, tmp_path: Path
) -> None:
    system = _system(server, tmp_path)

    async def scenario() -> None:
        await system.reset(EPISODE)
        await system.ingest(EPISODE.sessions[0])
        assert _calls(server.requests) == ["POST /users", "POST /blobs/insert/{id}"]
        (user,) = server.users.values()
        assert user.events == [] and [b.status for b in user.buffer] == ["idle"]
        before = len(server.requests)
        await system.settle()
        settled = server.requests[before:]
        assert _calls(settled) == [
            "POST /users/buffer/{id}/chat",  # the flush, then: still processing? failed? the new events
            "GET /users/buffer/capacity/{id}/chat",
            "GET /users/buffer/capacity/{id}/chat",
            "GET /users/event/{id}",
        ]
        assert settled[0].query == {"wait_process": "True"}, "settle waits for the extraction"
        assert [e["event_data"]["event_tip"] for e in user.events] == [DOG]
        await system.settle()
        assert len(server.requests) == before + len(settled), "nothing pending: settle makes no request"
        await system.close()

    asyncio.run(scenario())


def test_the_blob_holds_the_sessions_chat_with_its_times(server: FakeMemobase, tmp_path: Path) -> None:
    system = _system(server, tmp_path)

    async def scenario() -> None:
        await system.reset(EPISODE)
        await system.ingest(EPISODE.sessions[1])
        insert = server.requests[-1]
        assert insert.body == {
            "blob_type": "chat",
            "fields": None,
            "blob_data": {
                # A ChatBlob takes user and assistant messages only: the system turn is left out.
                "messages": [
                    {
                        "role": "user",
                        "content": SISTER,
                        "alias": None,
                        "created_at": "2024-03-08T10:00:00",
                    },
                    {
                        "role": "assistant",
                        "content": "Lisbon is a wonderful city.",
                        "alias": None,
                        "created_at": "2024-03-08T10:00:00",
                    },
                ]
            },
        }
        assert insert.query == {"wait_process": "False"}
        (user,) = server.users.values()
        assert user.data == {"membench_episode": "ep 1"}
        await system.close()

    asyncio.run(scenario())


def test_retrieval_finds_this_episodes_events_only(server: FakeMemobase, tmp_path: Path) -> None:
    first, second = _system(server, tmp_path / "w0"), _system(server, tmp_path / "w1")

    async def scenario() -> None:
        await _ingest(first, EPISODE)
        await _ingest(second, OTHER)
        hits = await first.retrieve("Where did my sister Ana move?", 1)
        assert [(m.text, m.session_id, m.timestamp) for m in hits] == [(SISTER, "s2", "2024-03-08T10:00:00")]
        assert hits[0].metadata["session_index"] == 1 and hits[0].score == 0.5  # 3 of its 6 words
        assert RISOTTO not in {m.text for m in await first.retrieve("my favourite dish risotto", 10)}
        assert [m.text for m in await second.retrieve("my favourite dish risotto", 10)] == [RISOTTO]
        assert {m.text for m in await first.retrieve("I my", 10)} == {DOG, SISTER, MARATHON}
        assert await first.retrieve("lovely wonderful luck", 10) == [], "the extraction keeps user turns only"
        search = next(r for r in reversed(server.requests) if "/event/search/" in r.path)
        assert search.query["topk"] == "10" and search.query["similarity_threshold"] == "0.0"  # as asked
        assert len(await first.retrieve("I my", 2)) == 2 and await first.retrieve("I my", 0) == []
        await first.close()
        await second.close()

    asyncio.run(scenario())


def test_reset_deletes_the_last_episodes_user_and_forgets_it(server: FakeMemobase, tmp_path: Path) -> None:
    system = _system(server, tmp_path)

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        (old,) = server.users
        await system.reset(OTHER)
        assert old not in server.users and len(server.users) == 1
        assert await system.retrieve("beagle Biscuit", 10) == []
        assert await system.session_memories(EPISODE.sessions[0]) == []
        await system.ingest(OTHER.sessions[0])
        await system.settle()
        assert [m.text for m in await system.retrieve("risotto", 3)] == [RISOTTO]
        await system.close()
        assert server.users == {}, "close deletes the last user"
        await system.close()

    asyncio.run(scenario())


def test_session_memories_are_the_events_of_that_session(server: FakeMemobase, tmp_path: Path) -> None:
    system = _system(server, tmp_path)

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        for session, fact in zip(EPISODE.sessions, (DOG, SISTER, MARATHON), strict=True):
            memories = await system.session_memories(session)
            assert [(m.text, m.session_id) for m in memories] == [(fact, session.session_id)]
        assert await system.session_memories(OTHER.sessions[0]) == []
        # Ingested without a settle in between: the first session is flushed before the next is inserted.
        await system.reset(OTHER)
        await system.ingest(_session("a", None, ("user", DOG)))
        await system.ingest(_session("b", None, ("user", MARATHON)))
        assert [m.text for m in await system.session_memories(_session("a", None))] == [DOG]
        assert [m.text for m in await system.session_memories(_session("b", None))] == [MARATHON]
        await system.close()

    asyncio.run(scenario())


def test_a_question_with_url_characters_reaches_the_server_whole(
    server: FakeMemobase, tmp_path: Path
) -> None:
    """The client puts the query into the URL unescaped; the adapter escapes it."""
    system = _system(server, tmp_path)
    question = "Biscuit & beagle: #1 at 100% + more?"

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        assert [m.text for m in await system.retrieve(question, 2)] == [DOG]
        search = server.requests[-1]
        assert search.query["query"] == question and search.query["topk"] == "2"
        await system.close()

    asyncio.run(scenario())


def test_the_similarity_threshold_is_applied(server: FakeMemobase, tmp_path: Path) -> None:
    system = _system(server, tmp_path, similarity_threshold="0.9")

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        assert await system.retrieve("Where did my sister go?", 5) == []  # 2 of 5 words: 0.4
        assert [m.text for m in await system.retrieve("my sister Ana", 5)] == [SISTER]
        await system.close()

    asyncio.run(scenario())


def test_settle_waits_for_blobs_the_server_processes_on_its_own(key: str, tmp_path: Path) -> None:
    with FakeMemobase(key, background=True, processing_s=0.3) as server:
        system = _system(server, tmp_path)

        async def scenario() -> None:
            await system.reset(EPISODE)
            await system.ingest(EPISODE.sessions[0])
            await system.settle()
            polls = [r.query["status"] for r in server.requests if "/buffer/capacity/" in r.path]
            assert polls.count("processing") >= 2 and polls[-1] == "failed"
            assert [m.text for m in await system.session_memories(EPISODE.sessions[0])] == [DOG]
            await system.close()

        asyncio.run(scenario())


@pytest.mark.parametrize("background", [False, True])
def test_a_failed_extraction_is_an_error(key: str, tmp_path: Path, background: bool) -> None:
    with FakeMemobase(key, background=background, processing_s=0.05) as server:
        server.fail_extraction = True
        system = _system(server, tmp_path)

        async def scenario() -> None:
            await system.reset(EPISODE)
            await system.ingest(EPISODE.sessions[0])
            message = "LLM error" if not background else "failed to process 1 chat blob"
            with pytest.raises(ServiceError, match=message):
                await system.settle()
            await system.close()

        asyncio.run(scenario())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_names_the_server(key: str, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    system = MemobaseSystem({"base_url": url}, tmp_path)
    with pytest.raises(ConfigError, match=f"cannot connect to {url}.*the Memobase server must be running"):
        asyncio.run(system.reset(EPISODE))


def test_a_wrong_key_is_a_clear_error_that_does_not_quote_it(
    server: FakeMemobase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "mb-wrong-key-9876543210"
    monkeypatch.setenv("MEMOBASE_API_KEY", wrong)
    system = _system(server, tmp_path)
    with pytest.raises(ConfigError, match=r"refused the key in MEMOBASE_API_KEY \(HTTP 401\)") as refused:
        asyncio.run(system.reset(EPISODE))
    assert wrong not in str(refused.value) and SECRET not in str(refused.value)
    assert server.requests[0].has_auth and not server.requests[0].authorized


def test_without_a_key_it_is_not_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMOBASE_API_KEY", raising=False)
    assert MemobaseSystem.not_configured() == "set MEMOBASE_API_KEY"
    system = MemobaseSystem({"base_url": "http://127.0.0.1:9"}, tmp_path)
    with pytest.raises(ConfigError, match="set MEMOBASE_API_KEY"):
        asyncio.run(system.reset(EPISODE))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs -S base_url"),
        ({"base_url": "localhost:8019"}, "must be an http"),
        ({"base_url": "http://u:pw@h:1", "similarity_threshold": "2"}, "similarity_threshold must be"),
        ({"base_url": "http://h:1", "timeout_s": "soon"}, "timeout_s must be"),
        ({"base_url": "http://h:1", "api_key": "x"}, r"unknown [\w-]+ option"),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MemobaseSystem(options, tmp_path)


def test_identity_and_description_name_the_server_without_credentials(tmp_path: Path) -> None:
    system = MemobaseSystem({"base_url": "http://user:hunter2-pass@memobase.example:8019"}, tmp_path)
    assert system.identity()["options"]["base_url"] == "http://memobase.example:8019"
    assert system.identity()["memobase"] == "0.0.27"
    assert "server http://memobase.example:8019" in system.describe() and "hunter2" not in system.describe()


def test_a_halumem_run_keeps_the_key_out_of_every_file(server: FakeMemobase, tmp_path: Path) -> None:
    config = tiny_run_config(
        tmp_path, "halumem", "memobase", system_options={"base_url": server.base_url}
    )
    outcome = run(config, NullDisplay())
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete" and records
    assert all(r.status == "scored" for r in records), [r.error for r in records if r.error]
    extraction = [r for r in records if r.prediction and r.kind.startswith("extraction")]
    assert extraction and any(r.prediction and r.prediction.memories for r in extraction)
    assert all(r.authorized for r in server.requests), "the key reached the server"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and not [p for p in written if SECRET.encode() in p.read_bytes()]
    assert SECRET not in str(outcome.components.make_system(tmp_path / "probe").identity())
