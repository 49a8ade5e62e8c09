"""The MemOS adapter against the real MemOS (MemoryOS 2.0.x GeneralTextMemory) in its own environment:
raw turns with real MiniLM embeddings, and MemOS's own extraction against the local fake OpenAI server
through membench's LLM proxy. Nothing leaves the machine: the workers refuse off-machine connections
(conftest sets MEMBENCH_LOOPBACK_ONLY), and one test runs the adapter in the environment directly under
an audit hook that records every connection and lookup, refused or not.

Skipped, with the command that installs it, where the memos environment is not installed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from membench.analysis.summary import summarize
from membench.api import run
from membench.core.config import LLMSpec
from membench.core.errors import LLMError
from membench.core.records import read_records
from membench.core.types import Episode
from membench.llm.client import LLMClient
from membench.llm.retry import RetryPolicy
from membench.running.display import NullDisplay
from membench.systems.envs import env_status
from membench.systems.memos import MemOSSystem, collection_name
from membench.systems.worker.client import WorkerSystem, worker_class_for
from membench.systems.worker.protocol import WorkerError
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
from membench.testing.openai_server import FakeOpenAIServer, message_text

_ENV = env_status("memos")
pytestmark = env_marks(_ENV, "MemOS")


_USER_LINE = re.compile(r"^user:(?:\[[^\]\n]*\]: )?(.+)$", re.MULTILINE)


def conversation_of(prompt: str) -> str:
    """The conversation MemOS asks about: the last ``Conversation:`` block (few-shot ones come first)."""
    return prompt.rsplit("Conversation:\n", 1)[1].split("\n\nYour Output:", 1)[0]


def memos_responder(request: dict[str, Any]) -> str:
    """MemOS's extraction reply: one memory per user line of the conversation it asks about.

    MemOS's prompt (SIMPLE_STRUCT_MEM_READER_PROMPT) ends with the conversation, lines
    ``role:[time]: content``, after few-shot examples that look alike; MemOS parses
    ``{"memory list": [{"key", "memory_type", "value", "tags"}], "summary"}``.
    """
    prompt = message_text(request["messages"][-1]["content"])
    said = _USER_LINE.findall(conversation_of(prompt))
    memories = [
        {"key": f"fact {i}", "memory_type": "UserMemory", "value": f"The user said: {text}", "tags": ["said"]}
        for i, text in enumerate(said)
    ]
    return json.dumps({"memory list": memories, "summary": "What the user said."})


def _in_worker(options: dict[str, str], workdir: Path, llm: LLMClient | None = None) -> WorkerSystem:
    return worker_class_for(MemOSSystem)(options, workdir, llm)


async def _ingest_all(system: WorkerSystem, episode: Episode) -> None:
    await system.reset(episode)
    for session in episode.sessions:
        await system.ingest(session)


# ---------------------------------------------------------------- the adapter, in its worker


def test_raw_mode_stores_turns_and_keeps_episodes_apart(tmp_path: Path) -> None:
    system = _in_worker({}, tmp_path / "w")

    async def scenario() -> None:
        await _ingest_all(system, FIRST)
        hits = await system.retrieve("What is the name of my dog?", 3)
        assert [h.text for h in hits][:1] == [DOG]
        assert hits[0].session_id == "s1" and hits[0].timestamp == "2024-03-01T10:00:00"
        assert hits[0].position == 0 and hits[0].metadata["session_index"] == 0
        scores = [h.score for h in hits]
        assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)  # type: ignore[type-var]
        assert 0.0 < scores[0] <= 1.0  # type: ignore[operator]  # cosine similarity, higher is better

        # Raw mode adds each turn verbatim, but not the system prompt: session 2 added two items.
        added = await system.session_memories(FIRST.sessions[1])
        assert [(m.text, m.position, m.metadata["role"]) for m in added] == [
            (SISTER, 3, "user"),
            ("Lisbon is a lovely city for that.", 4, "assistant"),
        ]
        found = {h.metadata["id"] for h in await system.retrieve("Where does my sister live?", 10)}
        assert {m.metadata["id"] for m in added} <= found  # the ids are those stored in qdrant

        await system.reset(SECOND)
        assert await system.retrieve("What is the name of my dog?", 3) == []
        assert await system.session_memories(FIRST.sessions[0]) == []
        await system.ingest(SECOND.sessions[0])
        assert [h.session_id for h in await system.retrieve("What is the name of my dog?", 5)] == ["t1"]
        await system.close()

    run_scenario(scenario)
    state = tmp_path / "w" / "system" / "memos"
    # reset dropped the first episode's collection: only the second's is left in the store
    assert sorted(p.name for p in (state / "qdrant" / "collection").iterdir()) == [collection_name("ep 2")]
    assert (state / "home" / ".memos" / "logs").is_dir(), "MemOS's home is under the workdir, not cwd"


def test_extract_mode_sends_memos_prompt_through_the_proxy(tmp_path: Path) -> None:
    with FakeOpenAIServer(responder=memos_responder) as server:
        options = {"mode": "extract", "llm": "openai/fake-model", "api_base": server.base_url}
        client = LLMClient("openai/fake-model", role="system", api_base=server.base_url)
        system = _in_worker(options, tmp_path / "w", client)

        async def scenario() -> None:
            await _ingest_all(system, FIRST)
            chats = [r for r in server.requests if r.path == "/v1/chat/completions"]
            assert len(chats) == 3, "one extraction call per session"
            prompt = chats[1].body["messages"][0]["content"]
            assert prompt.startswith("You are a memory extraction expert.")
            assert conversation_of(prompt) == (
                f"user:[2024-03-08T10:00:00]: {SISTER}\nassistant:[2024-03-08T10:00:00]: "
                "Lisbon is a lovely city for that."
            )
            assert chats[1].body["temperature"] == 0.0
            assert system.take_usage()["system"].calls == 3

            added = await system.session_memories(FIRST.sessions[1])
            assert [(m.text, m.session_id, m.metadata["key"]) for m in added] == [
                (f"The user said: {SISTER}", "s2", "fact 0")
            ]
            hits = await system.retrieve("Where does my sister live?", 1)
            assert [(h.text, h.session_id) for h in hits] == [(f"The user said: {SISTER}", "s2")]

            await system.reset(SECOND)
            await system.ingest(SECOND.sessions[0])
            assert [h.text for h in await system.retrieve("dog", 5)] == [f"The user said: {RISOTTO}"]
            await system.close()

        run_scenario(scenario)


def test_extract_mode_failures_are_errors_not_empty_memories(tmp_path: Path) -> None:
    with FakeOpenAIServer(responder=lambda _: "I could not find any memories.") as server:
        options = {"mode": "extract", "llm": "openai/fake-model", "api_base": server.base_url}
        client = LLMClient(
            "openai/fake-model", role="system", api_base=server.base_url, retry=RetryPolicy(max_attempts=1)
        )
        system = _in_worker(options, tmp_path / "w", client)

        async def scenario() -> None:
            await system.reset(FIRST)
            with pytest.raises(WorkerError, match=r"OutputParseError.*memory list"):
                await system.ingest(FIRST.sessions[0])
            server.add_faults(("status", 400, {}, "model not found"))
            with pytest.raises(LLMError) as failed:
                await system.ingest(FIRST.sessions[1])
            assert failed.value.kind == "fatal" and "model not found" in str(failed.value)
            await system.close()

        run_scenario(scenario)


# ---------------------------------------------------------------- the adapter in its environment, directly

#: Runs MemOSSystem in raw mode inside the memos environment (after env_systems.DRIVER_PRELUDE, which
#: records every connection and name lookup, a refused one too) and times the steps a run repeats;
#: prints one JSON line.
_IN_ENV_DRIVER = """
from membench.systems import memos as adapter

import_s = timed(lambda: adapter._import_memos(workdir / "memos" / "home"))
def session(i):
    said = Turn(role="user", content=f"Fact {i}: my pet number {i} is a cat named C{i}.")
    return Session(session_id=f"s{i}", turns=[said, Turn(role="assistant", content=f"Nice, C{i} is lovely.")])

queries = [f"cat named C{i % 8}" for i in range(20)]
probes = [f"What is pet number {i} called?" for i in range(8)]
measured = measure(adapter.MemOSSystem({}, workdir), [session(i) for i in range(8)], queries, 5, probes)
print(json.dumps({"import_s": import_s, **asyncio.run(measured)}))
"""


def test_in_its_environment_nothing_leaves_the_machine(tmp_path: Path) -> None:
    done = run_in_env(_ENV, _IN_ENV_DRIVER, str(tmp_path / "w"), root=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["off_machine"] == []
    assert result["top"] == [f"s{i}" for i in range(8)]
    assert not (tmp_path / ".memos").exists(), "nothing in the working directory"
    print(  # the raw-mode costs, for the README (pytest -s shows them)
        {k: round(v, 4) for k, v in result.items() if k.endswith("_s")}
    )


# ---------------------------------------------------------------- membench run --task halumem --system memos


def _values(outcome: Any) -> dict[str, float | None]:
    metrics = summarize(outcome.components.task, outcome.run_dir, n_boot=0)["metrics"]
    return {m["metric"]: m["value"] for m in metrics}


def _stored_turns_accuracy(task: Any) -> float:
    """The rule judge's memory accuracy of a system that stores every turn: all but the assistant's
    distractor claims (one turn each, stating only a false value) score a = 2."""
    dataset = task.load()
    turns = sum(len(session.turns) for episode in dataset.episodes for session in episode.sessions)
    extraction = [probe for probe in dataset.probes if probe.kind == "extraction"]
    claims = sum(point["is_distractor"] for probe in extraction for point in probe.gold["memory_points"])
    return (turns - claims) / turns


def test_halumem_raw_end_to_end(tmp_path: Path) -> None:
    outcome = run(tiny_run_config(tmp_path / "memos", "halumem", "memos"), NullDisplay())
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete" and outcome.manifest.usage == {}
    assert {r.kind for r in records} == {"extraction", "update", "qa"}
    assert all(r.status == "scored" for r in records)
    assert outcome.manifest.identity["system"]["environment"]["packages"]["memoryos"] == "2.0.33"
    metrics = _values(outcome)
    # Every turn verbatim, as mem0 offline stores them: every stated fact and every distractor recalled,
    # each turn judged as full-context's turns are, and the old value kept beside the new.
    assert (metrics["recall"], metrics["fmr"]) == (1.0, 0.0)
    assert metrics["memory_accuracy"] == pytest.approx(_stored_turns_accuracy(outcome.components.task))
    assert (metrics["update_correct"], metrics["update_other"]) == (0.0, 1.0)
    # bm25 stores the same turns ("role: content"; the judges ignore the label): the same extraction scores.
    bm25 = _values(run(tiny_run_config(tmp_path / "bm25", "halumem", "bm25"), NullDisplay()))
    extraction = ("recall", "weighted_recall", "target_precision", "memory_accuracy", "extraction_f1")
    assert {m: metrics[m] for m in extraction} == {m: bm25[m] for m in extraction}
    asked = [r for r in records if r.kind == "qa"]
    assert asked and all(r.prediction and r.prediction.memories for r in asked)
    qa = (metrics["qa_correct"], metrics["qa_hallucination"], metrics["qa_omission"])
    assert all(v is not None for v in qa) and qa[0] > 0 and sum(qa) == pytest.approx(1.0)  # type: ignore[arg-type, operator]
    assert metrics["add_time_s"] is not None and metrics["search_time_s"] is not None


def test_halumem_extract_end_to_end(tmp_path: Path) -> None:
    with FakeOpenAIServer(responder=memos_responder) as server:
        config = tiny_run_config(
            tmp_path, "halumem", "memos", system_llm=LLMSpec("openai/fake-model", server.base_url)
        )
        outcome = run(config, NullDisplay())
        calls = server.path_counts["/v1/chat/completions"]
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete" and all(r.status == "scored" for r in records)
    sessions = sum(len(episode.sessions) for episode in outcome.plan.episodes)
    assert calls == sessions == outcome.manifest.usage["system"].calls, "one extraction call per session"
    extracted = [
        m.text for r in records if r.kind == "extraction" and r.prediction for m in r.prediction.memories
    ]
    assert extracted and all(text.startswith("The user said: ") for text in extracted)
    metrics = _values(outcome)
    # The fake extracts what the user said, nothing the assistant claimed: every stated fact is
    # recalled and no distractor (the assistant's false variants) is.
    assert (metrics["recall"], metrics["fmr"]) == (1.0, 1.0)
    assert (metrics["target_precision"], metrics["extraction_f1"]) == (1.0, 1.0)
    assert metrics["extracted_memories"] == float(len(extracted))
