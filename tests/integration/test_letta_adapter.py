"""The Letta adapter through the real ``letta-client`` SDK against the loopback fake server.

The fake (membench.testing.fakes.letta) answers what a Letta server started with ``SECURE=true``
answers; its agent is deterministic (it archives each ``user:`` line it is shown), so these tests show
which requests the adapter makes, which episode's memories come back, how sessions are tagged and
attributed, and how failures read. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("letta_client", reason="the Letta SDK is not installed: pip install 'membench[hosted]'")

from membench.api import run
from membench.core.errors import ConfigError
from membench.core.records import read_records
from membench.core.types import Episode, Memory, Session, Turn
from membench.running.display import NullDisplay
from membench.systems.hosted import ServiceError
from membench.systems.letta import LettaSystem
from membench.testing.configs import tiny_run_config
from membench.testing.fakes.letta import FakeLetta

SECRET = "letta-test-password-0123456789"
DOG = "I adopted a beagle named Biscuit last spring."
SISTER = "My sister Ana moved to Lisbon to study marine biology."
MARATHON = "I am training for the Berlin marathon in September."
RISOTTO = "My favourite dish is mushroom risotto with truffle oil."


def _session(session_id: str, start: str | None, *turns: tuple[str, str, str | None]) -> Session:
    return Session(
        session_id=session_id,
        start_time=start,
        turns=[Turn(role=r, content=c, timestamp=t) for r, c, t in turns],
    )


EPISODE = Episode(
    episode_id="ep 1",
    sessions=[
        _session(
            "s1",
            "2024-03-01T10:00:00",
            ("user", DOG, "2024-03-01T10:00:00"),
            ("assistant", "What a lovely dog!", "2024-03-01T10:00:05"),
        ),
        _session("s2", "2024-03-08T10:00:00", ("user", SISTER, None), ("assistant", "Wonderful city.", None)),
        _session("s3", "day three", ("user", MARATHON, None)),
    ],
)
OTHER = Episode(episode_id="ep 2", sessions=[_session("t1", "2024-05-01T09:00:00", ("user", RISOTTO, None))])


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("LETTA_API_KEY", SECRET)
    return SECRET


@pytest.fixture
def server(key: str) -> Iterator[FakeLetta]:
    with FakeLetta(key) as fake:
        yield fake


def _system(server: FakeLetta, workdir: Path, **options: str) -> LettaSystem:
    return LettaSystem({"base_url": server.base_url, **options}, workdir)


async def _ingest(system: LettaSystem, episode: Episode) -> None:
    await system.reset(episode)
    for session in episode.sessions:
        await system.ingest(session)
        await system.settle()


def _texts(memories: list[Memory]) -> list[str]:
    return [m.text for m in memories]


# ---------------------------------------------------------------- archival mode (the default)


def test_every_turn_is_a_passage_tagged_with_its_session_and_dated(server: FakeLetta, tmp_path: Path) -> None:
    system = _system(server, tmp_path)

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        creates = [r for r in server.requests if r.method == "POST" and r.path.endswith("/archival-memory")]
        assert [r.body for r in creates] == [
            {"text": f"user: {DOG}", "tags": ["session:s1"], "created_at": "2024-03-01T10:00:00"},
            {
                "text": "assistant: What a lovely dog!",
                "tags": ["session:s1"],
                "created_at": "2024-03-01T10:00:05",
            },
            {"text": f"user: {SISTER}", "tags": ["session:s2"], "created_at": "2024-03-08T10:00:00"},
            {
                "text": "assistant: Wonderful city.",
                "tags": ["session:s2"],
                "created_at": "2024-03-08T10:00:00",
            },
            {
                "text": f"user: {MARATHON}",
                "tags": ["session:s3"],
            },  # a time the server cannot read is left out
        ]
        assert not any("/messages" in r.path for r in server.requests), "archival mode never calls the agent"
        (agent,) = server.agents.values()
        assert agent.model == "openai/gpt-4o-mini" and agent.embedding == "openai/text-embedding-3-small"
        assert agent.metadata == {"membench_episode": "ep 1"} and agent.tags == ["membench"]
        await system.close()

    asyncio.run(scenario())


def test_retrieval_is_the_agents_archival_search(server: FakeLetta, tmp_path: Path) -> None:
    first, second = _system(server, tmp_path / "w0"), _system(server, tmp_path / "w1")

    async def scenario() -> None:
        await _ingest(first, EPISODE)
        await _ingest(second, OTHER)
        hits = await first.retrieve("Where did my sister Ana move?", 1)
        assert [(m.text, m.session_id, m.position, m.timestamp) for m in hits] == [
            (f"user: {SISTER}", "s2", 2, "2024-03-08T10:00:00")
        ]
        assert hits[0].metadata["tags"] == ["session:s2"] and hits[0].metadata["session_index"] == 1
        search = server.requests[-1]
        assert search.path.endswith("/archival-memory/search") and search.query["top_k"] == "1"
        assert f"user: {RISOTTO}" not in _texts(await first.retrieve("favourite dish risotto", 10))
        assert _texts(await second.retrieve("favourite dish risotto", 10)) == [f"user: {RISOTTO}"]
        assert len(await first.retrieve("user", 3)) == 3 and await first.retrieve("user", 0) == []
        await first.close()
        await second.close()

    asyncio.run(scenario())


def test_session_memories_are_the_passages_tagged_with_that_session(
    server: FakeLetta, tmp_path: Path
) -> None:
    system = _system(server, tmp_path)

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        memories = await system.session_memories(EPISODE.sessions[0])
        assert _texts(memories) == [f"user: {DOG}", "assistant: What a lovely dog!"]
        assert {m.session_id for m in memories} == {"s1"} and [m.position for m in memories] == [0, 1]
        assert _texts(await system.session_memories(EPISODE.sessions[2])) == [f"user: {MARATHON}"]
        assert await system.session_memories(OTHER.sessions[0]) == []
        listing = server.requests[-1]
        assert listing.method == "GET" and listing.path.endswith("/archival-memory")
        await system.close()

    asyncio.run(scenario())


def test_listing_pages_through_a_large_archive(
    server: FakeLetta, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("membench.systems.letta._PAGE", 2)
    system = _system(server, tmp_path)

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        assert _texts(await system.session_memories(EPISODE.sessions[2])) == [f"user: {MARATHON}"]
        pages = [
            r.query for r in server.requests if r.method == "GET" and r.path.endswith("/archival-memory")
        ]
        assert len(pages) == 3 and "after" not in pages[0] and pages[1]["after"] != pages[2]["after"]
        await system.close()

    asyncio.run(scenario())


def test_reset_deletes_the_last_episodes_agent_and_forgets_it(server: FakeLetta, tmp_path: Path) -> None:
    system = _system(server, tmp_path)

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        (old,) = server.agents
        await system.reset(OTHER)
        assert old not in server.agents and len(server.agents) == 1
        assert await system.retrieve("beagle Biscuit", 10) == []
        assert await system.session_memories(EPISODE.sessions[0]) == []
        await system.ingest(OTHER.sessions[0])
        assert _texts(await system.retrieve("risotto", 3)) == [f"user: {RISOTTO}"]
        await system.close()
        assert server.agents == {}, "close deletes the last agent"
        await system.close()

    asyncio.run(scenario())


# ---------------------------------------------------------------- agent mode


def test_agent_mode_sends_each_session_to_the_agent_which_archives_what_it_keeps(
    server: FakeLetta, tmp_path: Path
) -> None:
    system = _system(server, tmp_path, mode="agent")

    async def scenario() -> None:
        await _ingest(system, EPISODE)
        sent = [r.body for r in server.requests if r.path.endswith("/messages")]
        assert sent[0] == {
            "messages": [
                {
                    "role": "user",
                    "content": "Conversation (session s1, 2024-03-01T10:00:00):\n"
                    f"user: {DOG}\nassistant: What a lovely dog!",
                }
            ]
        }
        assert len(sent) == 3, "one message per session"
        assert not any(r.method == "POST" and r.path.endswith("/archival-memory") for r in server.requests)
        # The fake agent archived each user line, in its own words (here: the line without its role).
        for session, fact in zip(EPISODE.sessions, (DOG, SISTER, MARATHON), strict=True):
            memories = await system.session_memories(session)
            assert [(m.text, m.session_id) for m in memories] == [(fact, session.session_id)]
        hits = await system.retrieve("Where did my sister Ana move?", 1)
        assert [(m.text, m.session_id, m.timestamp) for m in hits] == [(SISTER, "s2", "2024-03-08T10:00:00")]
        usage = system.take_usage()["system"]
        assert (usage.calls, usage.cost_usd) == (6, 0.0)  # per session: one insert and one answer
        assert usage.prompt_tokens > 0 and system.take_usage() == {}, "usage is handed over once"
        await system.close()

    asyncio.run(scenario())


def test_an_agent_step_that_fails_is_an_error(server: FakeLetta, tmp_path: Path) -> None:
    system = _system(server, tmp_path, mode="agent")
    server.stop_reason = "llm_api_error"

    async def scenario() -> None:
        await system.reset(EPISODE)
        with pytest.raises(ServiceError, match=r"the agent stopped \(llm_api_error\) on session s1"):
            await system.ingest(EPISODE.sessions[0])
        await system.close()

    asyncio.run(scenario())


# ---------------------------------------------------------------- failures and configuration


@pytest.mark.parametrize("mode", ["archival", "agent"])
def test_a_failed_write_is_an_error_and_never_resent(server: FakeLetta, tmp_path: Path, mode: str) -> None:
    """A write the client retried could have been done the first time: a turn stored twice."""
    system = _system(server, tmp_path, mode=mode)

    async def scenario() -> None:
        await system.reset(EPISODE)
        server.write_errors = 1
        with pytest.raises(ServiceError, match="HTTP 500 from"):
            await system.ingest(EPISODE.sessions[2])
        writes = [r for r in server.requests if r.method == "POST" and "/agents/agent-" in r.path]
        assert len(writes) == 1
        await system.close()

    asyncio.run(scenario())


def test_a_handle_the_server_lacks_is_a_clear_error(server: FakeLetta, tmp_path: Path) -> None:
    system = _system(server, tmp_path, model="openai/no-such-model")
    with pytest.raises(ServiceError, match=r"HTTP 404 from .*Handle openai/no-such-model not found"):
        asyncio.run(system.reset(EPISODE))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_names_the_server(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    system = LettaSystem({"base_url": url}, tmp_path)
    with pytest.raises(ConfigError, match=f"cannot connect to {url}.*the Letta server must be running there"):
        asyncio.run(system.reset(EPISODE))


@pytest.mark.parametrize("sent", [None, "letta-wrong-password-987654"])
def test_a_refused_password_is_a_clear_error_that_does_not_quote_it(
    server: FakeLetta, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sent: str | None
) -> None:
    if sent is None:
        monkeypatch.delenv("LETTA_API_KEY")
    else:
        monkeypatch.setenv("LETTA_API_KEY", sent)
    assert LettaSystem.not_configured() is None, "an open server needs no key"
    system = _system(server, tmp_path)
    with pytest.raises(ConfigError, match=r"refused the request \(HTTP 401.*set LETTA_API_KEY") as refused:
        asyncio.run(system.reset(EPISODE))
    assert SECRET not in str(refused.value) and (sent is None or sent not in str(refused.value))
    assert server.requests[0].has_auth is (sent is not None), "no key: no Authorization header"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_url": "localhost:8283"}, "must be the http"),
        ({"mode": "chat"}, "mode must be one of"),
        ({"model": "gpt-4o-mini"}, "model must be a handle"),
        ({"embedding": "text-embedding-3-small"}, "embedding must be a handle"),
        ({"timeout_s": "0"}, "timeout_s must be"),
        ({"api_key": "x"}, r"unknown [\w-]+ option"),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LettaSystem(options, tmp_path)


def test_identity_and_description_name_the_server_without_credentials(tmp_path: Path) -> None:
    system = LettaSystem({"base_url": "https://admin:hunter2-pass@letta.example:8283/"}, tmp_path)
    assert system.identity()["options"]["base_url"] == "https://letta.example:8283"
    assert system.identity()["letta_client"] == "1.12.1"
    assert "server https://letta.example:8283" in system.describe() and "hunter2" not in system.describe()
    assert "archival mode" in system.describe()
    assert "agent mode" in LettaSystem({"mode": "agent"}, tmp_path).describe()


@pytest.mark.parametrize("mode", ["archival", "agent"])
def test_a_halumem_run_keeps_the_key_out_of_every_file(server: FakeLetta, tmp_path: Path, mode: str) -> None:
    options = {"base_url": server.base_url, "mode": mode}
    outcome = run(
        tiny_run_config(tmp_path, "halumem", "letta", system_options=options), NullDisplay()
    )
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete" and records
    assert all(r.status == "scored" for r in records), [r.error for r in records if r.error]
    extraction = [r for r in records if r.kind == "extraction" and r.prediction]
    assert extraction and all(r.prediction and r.prediction.memories for r in extraction)
    assert all(r.authorized for r in server.requests), "the password reached the server"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and not [p for p in written if SECRET.encode() in p.read_bytes()]
    manifest = json.loads((outcome.run_dir / "manifest.json").read_text())
    assert SECRET not in json.dumps(manifest)
