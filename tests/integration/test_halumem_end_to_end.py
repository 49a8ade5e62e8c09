"""HaluMem end to end on tiny built data: every baseline, the LLM paths, errors kept out of valid metrics."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from membench.api import run
from membench.config import LLMSpec, RunConfig
from membench.display import NullDisplay
from membench.records import read_records
from membench.summary import contributions_frame, summarize
from membench.testing.openai_server import FakeOpenAIServer

TINY = {"users": "2", "sessions": "3", "turns": "6"}
PLUGIN = str(Path(__file__).parents[1] / "fixtures" / "halumem_plugin.py") + ":BrokenOnceBM25"


def halumem(tmp_path: Path, system: str, **overrides: Any) -> RunConfig:
    base: dict[str, Any] = {
        "task": "halumem",
        "system": system,
        "task_options": TINY,
        "results_dir": tmp_path / "results",
        "data_dir": tmp_path / "data",
        "display": "none",
        "cache_path": tmp_path / "cache.sqlite",
    }
    base.update(overrides)
    return RunConfig(**base)


def values(run_dir: Path, task: Any) -> dict[str, float | None]:
    return {m["metric"]: m["value"] for m in summarize(task, run_dir, n_boot=200)["metrics"]}


@pytest.mark.parametrize("system", ["no-memory", "full-context", "bm25"])
def test_every_baseline_runs_end_to_end(system: str, tmp_path: Path) -> None:
    outcome = run(halumem(tmp_path, system), NullDisplay())
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete"
    assert records and all(r.status == "scored" for r in records)
    kinds = {r.kind for r in records}
    assert kinds == {"extraction", "update", "qa"}
    metrics = values(outcome.run_dir, outcome.components.task)
    if system == "no-memory":
        # Remembering nothing recalls nothing and "resists" every distractor: FMR alone misleads.
        assert metrics["recall"] == 0.0 and metrics["fmr"] == 1.0
        assert metrics["update_correct"] is None, "no update probe retrieved anything: none routed to update"
    else:
        # Verbatim turns contain every stated fact, and every distractor the assistant asserted.
        assert metrics["recall"] == 1.0 and metrics["fmr"] == 0.0
        assert metrics["update_correct"] == 1.0
    assert 0.0 <= (metrics["qa_correct"] or 0.0) <= 1.0


def test_system_and_judge_failures_are_errors_outside_valid_denominators(tmp_path: Path) -> None:
    """A judge that answers garbage for one question, and a system that times out once."""
    qa_prompts: list[str] = []

    def judge_responder(request: dict[str, Any]) -> str:
        """Garbage for the first QA judgment and its re-ask; valid verdicts for everything else."""
        prompt = " ".join(str(m["content"]) for m in request["messages"])
        if "Assistant's answer:" in prompt:
            qa_prompts.append(prompt)
            if prompt.startswith(qa_prompts[0][:500]):
                return "I think it is probably fine."
            return json.dumps({"reason": "matches", "label": "correct"})
        if "included" in prompt:
            return json.dumps({"reason": "ok", "accuracy_score": 2, "included": True})
        if "hallucination" in prompt:
            return json.dumps({"reason": "ok", "label": "correct"})
        return json.dumps({"reason": "ok", "score": 2})

    os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-real")
    with FakeOpenAIServer(judge_responder) as server:
        config = halumem(
            tmp_path,
            "bm25-broken-once",
            plugins=(PLUGIN,),
            judge_llm=LLMSpec("openai/fake-model", server.base_url),
            max_episodes=1,
        )
        outcome = run(config, NullDisplay())
    records = read_records(outcome.run_dir)
    qa = [r for r in records if r.kind == "qa"]
    system_errors = [r for r in qa if r.error and r.error.stage == "system"]
    judge_errors = [r for r in qa if r.error is None and r.score and r.score.status == "error"] + [
        r for r in qa if r.error and r.error.stage == "judge"
    ]
    assert len(system_errors) == 1 and system_errors[0].error.type == "TimeoutError"
    assert len(judge_errors) >= 1
    errored = len(system_errors) + len(judge_errors)

    frame = contributions_frame(outcome.components.task, outcome.run_dir)
    valid = frame[frame.metric == "qa_correct"]
    every = frame[frame.metric == "qa_correct_all"]
    assert every.den.sum() == len(qa)
    assert valid.den.sum() == len(qa) - errored, "errored items leave the valid denominator"
    assert valid.num.sum() == every.num.sum(), "and are never counted as correct or wrong"
    estimates = {
        m["metric"]: m for m in summarize(outcome.components.task, outcome.run_dir, n_boot=0)["metrics"]
    }
    assert estimates["qa_correct"]["n_errors"] == errored
    assert outcome.manifest.counts.probes_errored >= errored


@pytest.mark.needs_mem0
def test_mem0_offline_end_to_end(tmp_path: Path) -> None:
    """The main command's path on tiny data: real mem0, real MiniLM embeddings, no LLM anywhere."""
    outcome = run(halumem(tmp_path, "mem0"), NullDisplay())
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete" and outcome.manifest.usage == {}
    assert {r.kind for r in records} == {"extraction", "update", "qa"}
    assert all(r.status == "scored" for r in records)
    assert outcome.manifest.identity["system"]["options"]["mode"] == "offline"
    assert "offline mode: infer=False" in outcome.components.system_description
    metrics = values(outcome.run_dir, outcome.components.task)
    # infer=False stores every turn verbatim: every stated fact is recalled, as with full-context.
    assert metrics["recall"] == 1.0 and metrics["update_correct"] == 1.0
    assert metrics["add_time_s"] is not None and metrics["search_time_s"] is not None
