"""mem0 with every LLM role at once, through the runner: a system LLM (mem0's extraction), an LLM reader
and an LLM judge, each a different model on the loopback test server.

Checks what a researcher relies on when paying for LLM calls: usage kept per role, an identical re-run
answered from the cache with zero requests, and no API key in anything membench writes or prints.
Skipped where the mem0 extra is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from membench.api import run
from membench.config import LLMSpec, RunConfig
from membench.display import NullDisplay
from membench.records import read_ingests, read_records
from membench.summary import summarize
from membench.testing.openai_server import FakeOpenAIServer, mem0_responder, message_text

pytestmark = pytest.mark.needs_mem0

TINY = {"users": "2", "sessions": "3", "turns": "6"}
SYSTEM_MODEL, READER_MODEL, JUDGE_MODEL = "openai/extractor", "openai/reader", "openai/judge"
CANARY = "sk-membench-canary-5f3c9a7e1d2b4c6a"


def judge_verdict(prompt: str) -> str:
    """A valid verdict for each of HaluMem's judge prompts."""
    if "Assistant's answer:" in prompt:
        return json.dumps({"reason": "matches", "label": "correct"})
    if "included" in prompt:
        return json.dumps({"reason": "ok", "accuracy_score": 2, "included": True})
    if "hallucination" in prompt:
        return json.dumps({"reason": "ok", "label": "correct"})
    return json.dumps({"reason": "ok", "score": 2})


def three_models(request: dict[str, Any]) -> str:
    """mem0 extraction, reader answers and judge verdicts, told apart by the model asked for."""
    model = request.get("model", "")
    if model == SYSTEM_MODEL.removeprefix("openai/"):
        return mem0_responder(request)
    prompt = " ".join(message_text(m.get("content")) for m in request.get("messages", []))
    if model == READER_MODEL.removeprefix("openai/"):
        return "Answer: Unknown"
    return judge_verdict(prompt)


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
    with FakeOpenAIServer(three_models) as server:
        first = run(config(tmp_path, server.base_url), NullDisplay())
        sent = chat_requests(server)
        models = {r.body["model"] for r in sent}
        assert first.manifest.status == "complete"
        assert models == {"extractor", "reader", "judge"}

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
        metrics = scores(first)

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
    with FakeOpenAIServer(three_models) as server:
        server.add_faults(("status", 401, {}, f"Incorrect API key provided: {CANARY}"))
        command = [
            sys.executable,
            "-m",
            "membench",
            "run",
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
