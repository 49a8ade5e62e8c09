"""The A-Mem adapter against the real A-Mem (the ``a-mem`` fork's ``AgenticMemorySystem``) in its own
environment, its LLM calls answered by the loopback test server through membench's LLM proxy. Nothing
leaves the machine: the workers refuse off-machine connections (conftest sets MEMBENCH_LOOPBACK_ONLY),
and one test runs the adapter in the environment directly under an audit hook that records every
connection and lookup, refused or not.

Skipped, with the command that installs it, where the amem environment is not installed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from membench.api import run
from membench.core.config import LLMSpec
from membench.core.errors import LLMError
from membench.core.records import read_ingests, read_records
from membench.core.types import Session
from membench.llm.client import LLMClient
from membench.llm.retry import RetryPolicy
from membench.running.display import NullDisplay
from membench.systems.amem import AMemSystem, store_name
from membench.systems.envs import env_status
from membench.systems.worker.client import WorkerSystem, worker_class_for
from membench.testing.configs import tiny_run_config
from membench.testing.env_systems import (
    DOG,
    FIRST,
    RISOTTO,
    SECOND,
    SISTER,
    env_marks,
    run_in_env,
    run_scenario,
)
from membench.testing.openai_server import FakeOpenAIServer, UnanswerableRequest, message_text

_ENV = env_status("amem")
pytestmark = env_marks(_ENV, "A-Mem")

EVOLVED = "evolved: seen beside a newer note"


def amem_responder(request: dict[str, Any]) -> str:
    """Answer A-Mem's two prompts with the JSON it parses: the analysis (keywords, context and tags
    from the note's words) and the evolution decision (link to the nearest neighbour, and rewrite
    every neighbour's context and tags)."""
    prompt = message_text(request["messages"][-1]["content"])
    if "memory evolution agent" in prompt:
        neighbours = re.findall(r"memory_id:(\S+)", prompt)
        decision = {
            "should_evolve": True,
            "actions": ["strengthen", "update_neighbor"],
            "suggested_connections": neighbours[:1],
            "tags_to_update": ["linked"],
            "new_context_neighborhood": [EVOLVED] * len(neighbours),
            "new_tags_neighborhood": [["evolved"]] * len(neighbours),
        }
        return json.dumps(decision)
    if "Content for analysis:" in prompt:
        words = re.findall(r"[A-Za-z]{4,}", prompt.split("Content for analysis:")[-1])
        about = " ".join(words[:3])
        return json.dumps({"keywords": words[:3], "context": f"About {about}", "tags": ["chat"]})
    raise UnanswerableRequest("not one of A-Mem's prompts")


def note_texts(session: Session) -> list[str]:
    """The notes the adapter adds for ``session``: one per user or assistant turn."""
    return [f"{t.role}: {t.content}" for t in session.turns if t.role != "system" and t.content.strip()]


def _in_worker(server: FakeOpenAIServer, workdir: Path, retry: RetryPolicy | None = None) -> WorkerSystem:
    client = LLMClient("openai/fake-model", role="system", api_base=server.base_url, retry=retry)
    options = {"llm": "openai/fake-model", "api_base": server.base_url}
    return worker_class_for(AMemSystem)(options, workdir, client)


def _chats(server: FakeOpenAIServer) -> list[Any]:
    return [r for r in server.requests if r.path == "/v1/chat/completions"]


# ---------------------------------------------------------------- the adapter, in its worker


def test_one_note_per_turn_evolved_and_counted(tmp_path: Path) -> None:
    with FakeOpenAIServer(amem_responder) as server:
        system = _in_worker(server, tmp_path / "w")

        async def scenario() -> None:
            await system.reset(FIRST)
            for session in FIRST.sessions:
                await system.ingest(session)
            n_notes = sum(len(note_texts(s)) for s in FIRST.sessions)
            chats = _chats(server)
            assert len(chats) == 2 * n_notes - 1, "an analysis per note, an evolution call from the second"
            assert all(r.body["response_format"]["type"] == "json_schema" for r in chats)
            assert "Content for analysis:" in message_text(chats[0].body["messages"][-1]["content"])
            assert f"user: {DOG}" in message_text(chats[0].body["messages"][-1]["content"])
            assert system.take_usage()["system"].calls == len(chats)

            hits = await system.retrieve("Where does my sister live?", 3)
            assert hits[0].text == f"user: {SISTER}"
            assert hits[0].session_id == "s2" and hits[0].timestamp == "2024-03-08T10:00:00"
            scores = [h.score for h in hits]
            assert all(s is not None and -1.0 <= s <= 1.0 for s in scores)  # cosine similarity
            assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]

            # Notes come back as A-Mem holds them now: content as added, context and tags as evolved.
            added = await system.session_memories(FIRST.sessions[1])
            assert [m.text for m in added] == note_texts(FIRST.sessions[1])
            assert {m.session_id for m in added} == {"s2"}
            assert {m.metadata["context"] for m in added} == {EVOLVED}
            assert all(m.metadata["keywords"] for m in added)
            last = (await system.session_memories(FIRST.sessions[2]))[-1]
            assert last.metadata["context"].startswith("About") and last.metadata["tags"] == ["linked"]
            assert last.metadata["links"], "the newest note is linked to its nearest neighbour"

            await system.reset(SECOND)
            assert await system.retrieve("What is the name of my dog?", 3) == []
            assert await system.session_memories(FIRST.sessions[0]) == []
            await system.ingest(SECOND.sessions[0])
            assert [h.text for h in await system.retrieve("dog", 5)] == [f"user: {RISOTTO}"]
            await system.close()

        run_scenario(scenario)
    stores = tmp_path / "w" / "system" / "amem"
    assert [p.name for p in stores.iterdir()] == [store_name("ep 2")], "only the current episode's store"


def test_llm_failures_are_errors_not_unanalysed_notes(tmp_path: Path) -> None:
    """A-Mem swallows a failed LLM call (the note is stored without keywords); the adapter raises it."""
    with FakeOpenAIServer(amem_responder) as server:
        system = _in_worker(server, tmp_path / "w", RetryPolicy(max_attempts=1))

        async def scenario() -> None:
            await system.reset(FIRST)
            server.add_faults(("status", 400, {}, "model not found"))
            with pytest.raises(LLMError) as failed:
                await system.ingest(FIRST.sessions[0])
            assert failed.value.kind == "fatal" and "model not found" in str(failed.value)
            await system.close()

        run_scenario(scenario)


# ---------------------------------------------------------------- the adapter in its environment, directly

#: Runs AMemSystem inside the amem environment against the endpoint in argv[2] (after
#: env_systems.DRIVER_PRELUDE, which records every connection and name lookup, a refused one too) and
#: times the steps a run repeats; prints one JSON line.
_IN_ENV_DRIVER = """
from membench.systems import amem as adapter
from membench.systems.base import LLMEndpoint

base_url = sys.argv[2]
import_s = timed(adapter._import_amem)
def session(i):
    said = Turn(role="user", content=f"Fact {i}: my pet number {i} is a cat named C{i}.")
    return Session(session_id=f"s{i}", start_time=f"2024-03-0{i + 1}T10:00:00", turns=[said])

system = adapter.AMemSystem({"llm": "fake-model"}, workdir)
system.use_llm_endpoint(LLMEndpoint(base_url, "fake-model"))
queries = [f"cat named C{i % 6}" for i in range(20)]
probes = [f"Fact {i}: pet number {i}, C{i}" for i in range(6)]
measured = measure(system, [session(i) for i in range(6)], queries, 5, probes)
print(json.dumps({"import_s": import_s, **asyncio.run(measured)}))
"""


def test_in_its_environment_nothing_leaves_the_machine(tmp_path: Path) -> None:
    with FakeOpenAIServer(amem_responder) as server:
        done = run_in_env(
            _ENV, _IN_ENV_DRIVER, str(tmp_path / "w"), server.base_url, root=tmp_path, timeout=300
        )
        calls = len(_chats(server))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["off_machine"] == []
    assert result["top"] == [f"s{i}" for i in range(6)]
    assert calls == 2 * 6 - 1
    assert not (tmp_path / "chroma_db").exists(), "nothing in the working directory"
    print(  # the costs, for the README (pytest -s shows them)
        {k: round(v, 4) for k, v in result.items() if k.endswith("_s")}
    )


# ---------------------------------------------------------------- membench run --task halumem --system amem


def test_halumem_end_to_end(tmp_path: Path) -> None:
    with FakeOpenAIServer(amem_responder) as server:
        config = tiny_run_config(
            tmp_path, "halumem", "amem", system_llm=LLMSpec("openai/fake-model", server.base_url), limit=1
        )
        outcome = run(config, NullDisplay())
        chats = _chats(server)

    assert outcome.manifest.status == "complete"
    (episode,) = outcome.plan.episodes
    notes = [note_texts(session) for session in episode.sessions]
    usage = outcome.manifest.usage["system"]
    assert usage.calls == 2 * sum(len(texts) for texts in notes) - 1
    # HaluMem repeats some turns word for word: A-Mem asks the same analysis again, the cache answers.
    assert usage.calls - usage.cached_calls == len(chats)
    ingests = read_ingests(outcome.run_dir)
    assert len(ingests) == len(episode.sessions) and all(i.ok for i in ingests)
    assert sum(i.usage["system"].calls for i in ingests) == usage.calls

    records = read_records(outcome.run_dir)
    extraction = [r for r in records if r.kind == "extraction"]
    assert extraction
    for record in extraction:
        assert record.prediction is not None
        stored = record.prediction.memories
        assert [m.text for m in stored] == notes[record.after_session]
        assert {m.session_id for m in stored} == {episode.sessions[record.after_session].session_id}
    retrieved = [m for r in records if r.kind == "qa" and r.prediction for m in r.prediction.memories]
    assert retrieved and {m.text for m in retrieved} <= {text for texts in notes for text in texts}
