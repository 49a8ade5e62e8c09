"""mem0 with every LLM role at once, through the runner: a system LLM (mem0's extraction), an LLM reader
and an LLM judge, each a different model on the loopback test server.

Checks what a researcher relies on when paying for LLM calls: usage kept per role, an identical re-run
answered from the cache with zero requests, and no API key in anything membench writes or prints.
Skipped where the mem0 extra is not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from membench.analysis.summary import summarize
from membench.api import run
from membench.core.config import LLMSpec, RunConfig
from membench.core.records import read_ingests, read_records
from membench.core.types import Record
from membench.running.display import NullDisplay
from membench.testing import FakeLLM, grade_abstention, unscored_verdicts
from membench.testing.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.needs_mem0

TINY = {"users": "2", "sessions": "3", "turns": "6"}
SYSTEM_MODEL, READER_MODEL, JUDGE_MODEL = "openai/extractor", "openai/reader", "openai/judge"
CANARY = "sk-membench-canary-5f3c9a7e1d2b4c6a"


#: the model each prompt must reach: each role has its own.
MODEL_OF = {
    "extraction": "extractor",
    "reader": "reader",
    **{judgment: "judge" for judgment in ("integrity", "accuracy", "update", "qa")},
}


def three_models() -> FakeLLM:
    """mem0's extraction stores every user line, the reader abstains, and the judge finds every gold
    point (2), every stored memory about a gold point but only half supported (1), every update stale
    (mem0 2.x only adds, so the old fact stays beside the new), and grades the abstentions."""
    return FakeLLM(
        integrity={"score": 2},
        accuracy={"score": 1, "included": True},
        update={"label": "hallucination"},
        qa=grade_abstention,
        answer="Unknown",
    )


def implied_metrics(records: list[Record], references: dict[str, str]) -> dict[str, float | None]:
    """The metrics ``three_models``'s verdicts imply, worked out from the records by hand."""
    extraction = [r for r in records if r.kind == "extraction"]
    stored = sum(len(r.prediction.memories) for r in extraction if r.prediction)
    distractors = [d for r in extraction if r.score for d in r.score.details if d.get("is_distractor")]
    updates = [r for r in records if r.kind == "update" and r.prediction and r.prediction.memories]
    qa = [r for r in records if r.kind == "qa"]
    abstain_right = sum(references[r.probe_id].startswith("Unknown") for r in qa) / len(qa)
    return {
        "recall": 1.0,
        "weighted_recall": 1.0,
        "fmr": 0.0 if distractors else None,
        "memory_accuracy": 0.5,
        "target_precision": 0.5,
        "extraction_f1": 2 * 1.0 * 0.5 / (1.0 + 0.5),
        "extracted_memories": float(stored),
        "target_memories": float(stored),
        "update_hallucination": 1.0 if updates else None,
        "update_correct": 0.0 if updates else None,
        "qa_correct": abstain_right,
        "qa_omission": 1.0 - abstain_right,
        "qa_hallucination": 0.0,
    }


def config(tmp_path: Path, base_url: str, **overrides: Any) -> RunConfig:
    settings: dict[str, Any] = {
        "task": "halumem",
        "system": "mem0",
        "task_options": TINY,
        "system_llm": LLMSpec(SYSTEM_MODEL, base_url),
        "reader_llm": LLMSpec(READER_MODEL, base_url),
        "judge_llm": LLMSpec(JUDGE_MODEL, base_url),
        "results_dir": tmp_path / "results",
        "data_dir": tmp_path / "data",
        "cache_path": tmp_path / "cache.sqlite",
        "display": "none",
        "max_episodes": 1,
    }
    settings.update(overrides)
    return RunConfig(**settings)


def scores(outcome: Any) -> dict[str, float | None]:
    """Every metric's value but the timings, which no two runs share."""
    summary = summarize(outcome.components.task, outcome.run_dir, n_boot=0)
    return {m["metric"]: m["value"] for m in summary["metrics"] if not m["metric"].endswith("_time_s")}


def chat_requests(server: FakeOpenAIServer) -> list[Any]:
    return [r for r in server.requests if r.path == "/v1/chat/completions"]


def test_three_llm_roles_usage_per_role_and_a_cached_rerun_makes_no_call(tmp_path: Path) -> None:
    fake = three_models()
    with fake.serve() as server:
        first = run(config(tmp_path, server.base_url), NullDisplay())
        sent = chat_requests(server)
        models = {r.body["model"] for r in sent}
        assert first.manifest.status == "complete"
        assert models == {"extractor", "reader", "judge"}
        assert {(p.kind, p.model) for p in fake.prompts} == set(MODEL_OF.items()), "every prompt, its model"

        usage = first.manifest.usage
        assert set(usage) == {"system", "reader", "judge"}
        for role, model in (("system", "extractor"), ("reader", "reader"), ("judge", "judge")):
            assert usage[role].calls == sum(1 for r in sent if r.body["model"] == model), role
            assert usage[role].cached_calls == 0
        ingests = read_ingests(first.run_dir)
        sessions = 2 * 3
        assert len(ingests) == sessions and all(i.ok for i in ingests)
        assert sum(i.usage["system"].calls for i in ingests) == usage["system"].calls == sessions

        records = read_records(first.run_dir)
        extraction = [r for r in records if r.kind == "extraction"]
        assert extraction and all(r.status == "scored" for r in extraction)
        # mem0 stored what the extraction call returned: the session's user lines.
        assert all(r.prediction and r.prediction.memories for r in extraction)
        assert unscored_verdicts(records) == [], "every judgment was answered as its prompt asks"
        details = [d for r in extraction if r.score for d in r.score.details]
        points = [d for d in details if d["element"] == "point"]
        judged = [d for d in details if d["element"] == "memory"]
        assert points and {d["g"] for d in points} == {2}
        assert len(judged) == sum(len(r.prediction.memories) for r in extraction if r.prediction)
        assert {(d["a"], d["included"]) for d in judged} == {(1, True)}
        metrics = scores(first)
        references = {p.probe_id: p.gold["answer"] for p in first.plan.dataset.probes if p.kind == "qa"}
        implied = implied_metrics(records, references)
        assert {name: metrics[name] for name in implied} == pytest.approx(implied)

        second = run(config(tmp_path, server.base_url, fresh=True), NullDisplay())
        assert len(chat_requests(server)) == len(sent), "an identical re-run is answered from the cache"
        assert second.manifest.status == "complete"
        assert all(u.calls == u.cached_calls > 0 for u in second.manifest.usage.values())
        assert sum(u.cost_usd for u in second.manifest.usage.values()) == 0.0
        assert scores(second) == metrics


def test_no_api_key_reaches_records_logs_or_outputs(tmp_path: Path) -> None:
    """A provider that echoes the key in its error body, a key in every provider variable: the key is in
    no record, manifest, summary, cache file or line printed by ``membench run``."""
    env = {
        **os.environ,
        "OPENAI_API_KEY": CANARY,
        "ANTHROPIC_API_KEY": CANARY,
        "MEMBENCH_CACHE_DIR": str(tmp_path / "cache"),
    }
    with three_models().serve() as server:
        server.add_faults(("status", 401, {}, f"Incorrect API key provided: {CANARY}"))
        command = [
            sys.executable,
            "-m",
            "membench",
            "run",
            "--no-check",  # the fake's queued 401 is meant for the run, not for the endpoint check
            "--task",
            "halumem",
            "--system",
            "mem0",
            *[arg for key, value in TINY.items() for arg in ("-T", f"{key}={value}")],
            "--system-llm",
            SYSTEM_MODEL,
            "--system-api-base",
            server.base_url,
            "--llm",
            READER_MODEL,
            "--llm-api-base",
            server.base_url,
            "--judge-llm",
            JUDGE_MODEL,
            "--judge-api-base",
            server.base_url,
            "--results-dir",
            str(tmp_path / "results"),
            "--data-dir",
            str(tmp_path / "data"),
            "--display",
            "plain",
            "--max-episodes",
            "1",
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        sent = chat_requests(server)
    assert sent and all(r.headers.get("authorization") == f"Bearer {CANARY}" for r in sent), (
        "the key was used, so a leak would have had something to leak"
    )
    ingest_errors = [i for i in read_ingests(next((tmp_path / "results" / "runs").iterdir())) if not i.ok]
    assert ingest_errors and "Incorrect API key provided" in (ingest_errors[0].error.message or "")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "records.jsonl" for p in written) and any(p.suffix == ".sqlite" for p in written)
    leaks = [str(p) for p in written if CANARY.encode() in p.read_bytes()]
    assert leaks == []
    assert CANARY not in done.stdout and CANARY not in done.stderr, done.stderr[-2000:]
    assert f"llm mode: infer=True, extraction by {SYSTEM_MODEL}" in done.stdout, "the mode is stated"
