"""The cognee adapter against the real cognee (1.6.x async API) in its own environment: chat calls
answered by the loopback test server through membench's LLM proxy, embeddings by the same server's
``/v1/embeddings`` (hashed vectors) as the ``embedding_api_base``. Nothing leaves the machine: the
workers refuse off-machine connections (conftest sets MEMBENCH_LOOPBACK_ONLY), and one test runs the
adapter in the environment directly under an audit hook that records every connection and lookup.

Skipped, with the command that installs it, where the cognee environment is not installed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from membench.api import run
from membench.core.config import LLMSpec
from membench.core.errors import ConfigError, LLMError
from membench.core.records import read_ingests, read_records
from membench.llm.client import LLMClient
from membench.running.display import NullDisplay
from membench.systems.cognee import CogneeSystem, session_document
from membench.systems.envs import env_status
from membench.systems.worker.client import WorkerSystem, worker_class_for
from membench.testing.configs import tiny_run_config
from membench.testing.env_systems import (
    FIRST,
    SECOND,
    SISTER,
    env_marks,
    run_in_env,
    run_scenario,
)
from membench.testing.openai_server import FakeOpenAIServer, UnanswerableRequest, message_text

_ENV = env_status("cognee")
pytestmark = env_marks(_ENV, "cognee")

DIMENSIONS = 256
_SCHEMA = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


def cognee_responder(request: dict[str, Any]) -> str:
    """Answer cognify's structured-output calls with the JSON cognee validates.

    For a model litellm does not know, cognee asks for ``json_object`` and puts the pydantic schema in
    the system prompt: a KnowledgeGraph (one node per capitalised word of the chunk) or a
    SummarizedContent (the chunk's user lines).
    """
    system = message_text(request["messages"][0]["content"])
    chunk = message_text(request["messages"][-1]["content"])
    schema = _SCHEMA.search(system)
    title = json.loads(schema.group(1)).get("title") if schema else None
    if title == "KnowledgeGraph":
        names = sorted(set(re.findall(r"\b[A-Z][a-z]{2,}\b", chunk)))
        nodes = [{"id": n, "name": n, "type": "Entity", "description": f"{n}, from the chat"} for n in names]
        return json.dumps({"nodes": nodes, "edges": []})
    if title == "SummarizedContent":
        facts = [line.removeprefix("user: ") for line in chunk.splitlines() if line.startswith("user: ")]
        return json.dumps({"summary": "Summary: " + " ".join(facts), "description": ""})
    raise UnanswerableRequest(f"not one of cognify's prompts (schema {title!r})")


def _options(server: FakeOpenAIServer, **extra: str) -> dict[str, str]:
    return {
        "llm": "openai/fake-model",
        "api_base": server.base_url,
        "embedding_api_base": server.base_url,
        "embedding_dimensions": str(DIMENSIONS),
        **extra,
    }


def _in_worker(server: FakeOpenAIServer, workdir: Path, **extra: str) -> WorkerSystem:
    client = LLMClient("openai/fake-model", role="system", api_base=server.base_url)
    return worker_class_for(CogneeSystem)(_options(server, **extra), workdir, client)


def _requests(server: FakeOpenAIServer, endpoint: str) -> list[Any]:
    return [r for r in server.requests if r.path == f"/v1/{endpoint}"]


# ---------------------------------------------------------------- the adapter, in its worker


def test_sessions_are_added_then_cognified_in_settle_and_searched(tmp_path: Path) -> None:
    with FakeOpenAIServer(cognee_responder) as server:
        system = _in_worker(server, tmp_path / "w")

        async def scenario() -> None:
            await system.reset(FIRST)
            for number, session in enumerate(FIRST.sessions, 1):
                await system.ingest(session)
                assert len(_requests(server, "chat/completions")) == 2 * (number - 1), "add calls no LLM"
                await system.settle()
                # cognify: one graph extraction and one summary for the session's single chunk
                assert len(_requests(server, "chat/completions")) == 2 * number
            assert system.take_usage()["system"].calls == 2 * len(FIRST.sessions)
            embedded = _requests(server, "embeddings")
            assert embedded and {(r.body["model"], r.body["dimensions"]) for r in embedded} == {
                ("text-embedding-3-small", DIMENSIONS)
            }

            # The server's vectors are hashed words: a query shares words with the session it asks about.
            hits = await system.retrieve("Where does my sister Clara live? In Lisbon?", 1)
            assert [(h.text, h.session_id, h.timestamp) for h in hits] == [
                (session_document(FIRST.sessions[1]), "s2", "2024-03-08T10:00:00")
            ]
            assert hits[0].text.startswith("Session time: 2024-03-08T10:00:00\nuser: ")
            assert "You are a helpful assistant." not in hits[0].text
            two = await system.retrieve("Where does my sister Clara live? In Lisbon?", 2)
            assert len(two) == 2 and two[0].text == hits[0].text
            scores = [h.score for h in two]
            assert all(s is not None and -1.0 <= s <= 1.0 for s in scores)  # cosine similarity
            assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
            assert system.take_usage() == {}, "CHUNKS search calls no LLM"

            await system.reset(SECOND)
            assert await system.retrieve("What is the name of my dog?", 3) == []
            await system.ingest(SECOND.sessions[0])
            await system.settle()
            assert [h.session_id for h in await system.retrieve("dog", 5)] == ["t1"]
            await system.close()

        run_scenario(scenario)
    state = tmp_path / "w" / "system" / "cognee"
    assert {p.name for p in state.iterdir()} >= {"system", "data", "logs"}, "cognee's roots are the workdir's"


def test_summaries_search_and_a_failed_embedding_is_an_error(tmp_path: Path) -> None:
    with FakeOpenAIServer(cognee_responder) as server:
        system = _in_worker(server, tmp_path / "w", search_type="SUMMARIES")

        async def scenario() -> None:
            await system.reset(FIRST)
            for session in FIRST.sessions:
                await system.ingest(session)
                await system.settle()
            hits = await system.retrieve("Where does my sister Clara live? In Lisbon?", 1)
            assert [h.text for h in hits] == [f"Summary: {SISTER}"]
            assert hits[0].score is not None and hits[0].metadata["source_chunk_id"]

            # The query's embedding is the next request: the server refuses it (cognee does not retry a 400).
            server.add_faults(("status", 400, {}, "unknown embedding model"))
            with pytest.raises(LLMError) as failed:
                await system.retrieve("Where does my sister Clara live?", 1)
            assert failed.value.kind == "fatal" and "unknown embedding model" in str(failed.value)
            await system.close()

        run_scenario(scenario)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"llm": "openai/fake-model"}, "embedding_api_base=URL"),
        ({"embedding_api_base": "http://127.0.0.1:9/v1"}, "--system-llm"),
        (
            {"llm": "x", "embedding_api_base": "http://127.0.0.1:9/v1", "embedding_dimensions": "0"},
            "positive int",
        ),
    ],
)
def test_what_it_cannot_run_without_is_refused(tmp_path: Path, options: dict[str, str], message: str) -> None:
    async def scenario() -> None:
        system = worker_class_for(CogneeSystem)(options, tmp_path / "w")
        try:
            await system.reset(FIRST)
        finally:
            await system.close()

    with pytest.raises(ConfigError, match=re.escape(message)):
        run_scenario(scenario)


# ---------------------------------------------------------------- the adapter in its environment, directly

#: Runs CogneeSystem inside the cognee environment against the server in argv[2] (chat and embeddings;
#: after env_systems.DRIVER_PRELUDE, which records every connection and name lookup, a refused one
#: too) and times each step (its import is in the first reset, cognify in settle); prints one JSON line.
_IN_ENV_DRIVER = """
from membench.systems.base import LLMEndpoint
from membench.systems.cognee import CogneeSystem

base_url = sys.argv[2]
def session(i):
    said = Turn(role="user", content=f"Fact {i}: my pet number {i} is a cat named Cat{i}.")
    return Session(session_id=f"s{i}", start_time=f"2024-03-0{i + 1}T10:00:00", turns=[said])

options = {"llm": "fake-model", "embedding_api_base": base_url, "embedding_dimensions": "32"}
system = CogneeSystem(options, workdir)
system.use_llm_endpoint(LLMEndpoint(base_url, "fake-model"))
queries = [f"cat named Cat{i % 4}" for i in range(10)]
probes = [f"Fact {i}: pet number {i}, Cat{i}" for i in range(4)]
print(json.dumps(asyncio.run(measure(system, [session(i) for i in range(4)], queries, 3, probes))))
"""


def test_in_its_environment_nothing_leaves_the_machine(tmp_path: Path) -> None:
    # A home of its own: cognee's defaults (~/.cognee for logs, ids and clones) must not be used.
    home = {"HOME": str(tmp_path / "home")}
    with FakeOpenAIServer(cognee_responder) as server:
        done = run_in_env(
            _ENV, _IN_ENV_DRIVER, str(tmp_path / "w"), server.base_url, root=tmp_path, timeout=600, env=home
        )
        calls = len(_requests(server, "chat/completions"))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["off_machine"] == []
    assert result["top"] == [f"s{i}" for i in range(4)]
    assert calls == 2 * 4, "no connection-test calls: a graph extraction and a summary per session"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pythonpath", "w"], "nothing in cwd or home"
    print(  # the costs, for the README (pytest -s shows them)
        {k: round(v, 4) for k, v in result.items() if k.endswith("_s")}
    )


# ---------------------------------------------------------------- membench run --task halumem --system cognee


def test_halumem_end_to_end(tmp_path: Path) -> None:
    with FakeOpenAIServer(cognee_responder) as server:
        config = tiny_run_config(
            tmp_path,
            "halumem",
            "cognee",
            system_llm=LLMSpec("openai/fake-model", server.base_url),
            system_options={"embedding_api_base": server.base_url, "embedding_dimensions": str(DIMENSIONS)},
            limit=1,
        )
        outcome = run(config, NullDisplay())
        chats = _requests(server, "chat/completions")

    assert outcome.manifest.status == "complete"
    (episode,) = outcome.plan.episodes
    usage = outcome.manifest.usage["system"]
    # Each tiny session is one chunk: one graph extraction and one summary call for each.
    assert usage.calls == 2 * len(episode.sessions) and usage.calls - usage.cached_calls == len(chats)
    ingests = read_ingests(outcome.run_dir)
    assert len(ingests) == len(episode.sessions) and all(i.ok for i in ingests)
    assert [i.usage["system"].calls for i in ingests] == [2] * len(episode.sessions)

    records = read_records(outcome.run_dir)
    assert not [r for r in records if r.kind == "extraction"], "cognee reports no per-session memories"
    sessions = {s.session_id: s for s in episode.sessions}
    retrieved = [m for r in records if r.kind == "qa" and r.prediction for m in r.prediction.memories]
    assert retrieved and all(m.session_id in sessions for m in retrieved)
    for memory in retrieved:
        assert memory.text == session_document(sessions[str(memory.session_id)])
