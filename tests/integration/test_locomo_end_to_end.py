"""LoCoMo end to end on tiny built data and on the official-schema fixture: the baselines, the
official F1, the rule judge, the LLM judge's two rubrics through the runner, and mem0 (slow)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from membench.analysis.summary import summarize
from membench.api import run
from membench.core.config import LLMSpec, RunConfig
from membench.core.errors import ConfigError
from membench.core.records import read_records
from membench.core.types import Record
from membench.running.display import NullDisplay
from membench.testing import FakeLLM
from membench.testing.configs import tiny_run_config
from membench.testing.fake_llm import Prompt
from membench_tasks.locomo.official import normalize_answer

FIXTURE = Path(__file__).parent.parent / "fixtures" / "locomo" / "locomo10.json"
#: 2 conversations of 3 sessions x 8 turns, one decoy per fact type: 24 questions, 8 adversarial.
TINY = {"conversations": "2", "sessions": "3", "turns": "8", "decoys": "1", "top_k": "5"}


def _run(root: Path, system: str, **overrides: Any) -> tuple[list[Record], dict[str, Any]]:
    overrides.setdefault("task_options", dict(TINY))
    config: RunConfig = tiny_run_config(root, "locomo", system, **overrides)
    outcome = run(config, NullDisplay())
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete" and records
    assert all(r.status == "scored" for r in records), [r.error for r in records if r.error]
    summary = summarize(outcome.components.task, outcome.run_dir, n_boot=50)
    return records, {m["metric"]: m for m in summary["metrics"] if not m.get("by")}


def test_no_memory_scores_exactly_the_adversarial_items(tmp_path: Path) -> None:
    records, metrics = _run(tmp_path, "no-memory", judge="rule")
    adversarial = [r for r in records if r.labels["category"] == "adversarial"]
    assert len(records) == 24 and len(adversarial) == 8
    assert {r.prediction.answer for r in records} == {"Not mentioned in the conversation."}
    assert metrics["f1"]["value"] == pytest.approx(1 / 3)
    assert metrics["accuracy"]["value"] == pytest.approx(1 / 3)
    assert metrics["adversarial_accuracy"]["value"] == 1.0
    assert metrics["evidence_recall"]["value"] == 0.0 and metrics["evidence_mrr"]["value"] == 0.0
    # each conversation is one episode: the statistical cluster
    assert metrics["f1"]["n_clusters"] == 2


def test_full_context_is_right_everywhere_under_the_rule_judge(tmp_path: Path) -> None:
    records, metrics = _run(tmp_path, "full-context", judge="rule")
    assert metrics["accuracy"]["value"] == 1.0 and metrics["adversarial_accuracy"]["value"] == 1.0
    assert metrics["evidence_recall"]["value"] == 1.0 and metrics["evidence_hit"]["value"] == 1.0
    # single-hop: the fact and its decoy ("My dog is named Biscuit, My dog slept all afternoon")
    # against the one-word key "Biscuit", which the answer holds once: P = 1/n, R = 1, F1 = 2/(n + 1)
    single = [r for r in records if r.labels["category"] == "single-hop"]
    assert len(single) == 4 and all(", " in r.prediction.answer for r in single)
    for r in single:
        n = len(normalize_answer(r.prediction.answer).split())
        assert r.score.values["f1"] == pytest.approx(2 / (n + 1))
    mean = sum(r.score.values["f1"] for r in records) / len(records)
    assert metrics["f1"]["value"] == pytest.approx(mean)


def test_bm25_retrieves_the_evidence_turns_by_provenance(tmp_path: Path) -> None:
    records, metrics = _run(tmp_path, "bm25")
    assert metrics["evidence_recall"]["value"] is not None and metrics["evidence_recall"]["value"] >= 0.8
    assert metrics["evidence_mrr"]["value"] < metrics["evidence_hit"]["value"]  # decoys rank above some facts
    assert metrics["f1"]["value"] is not None and metrics["f1"]["value"] > 0.3
    assert max(len(r.prediction.memories) for r in records) == 5
    assert "accuracy" not in metrics or metrics["accuracy"]["value"] is None  # the f1 judge gives no verdict
    assert all(r.score.judge == "f1" for r in records)


def _wrong_unless_adversarial(prompt: Prompt) -> str:
    return "RIGHT" if prompt.kind == "locomo-adversarial" else "WRONG"


@pytest.mark.parametrize(
    ("style", "name", "kind"),
    [("strict", "llm", "locomo-strict"), ("generous", "llm-generous", "locomo-generous")],
)
def test_the_llm_judge_through_the_runner(tmp_path: Path, style: str, name: str, kind: str) -> None:
    os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-real")
    judge_llm = FakeLLM(locomo=_wrong_unless_adversarial)
    with judge_llm.serve() as judge:
        records, metrics = _run(
            tmp_path,
            "full-context",
            task_options={**TINY, "judge_style": style},
            judge_llm=LLMSpec("openai/fake-judge", judge.base_url),
            judge="llm",
        )
    assert {r.score.judge for r in records} == {f"{name}:openai/fake-judge"}
    assert {p.kind for p in judge_llm.prompts} == {kind, "locomo-adversarial"}
    assert metrics["accuracy"]["value"] == pytest.approx(1 / 3)
    assert metrics["adversarial_accuracy"]["value"] == 1.0
    assert all(r.usage["judge"].calls == 1 for r in records)


def test_official_schema_data_runs_with_the_official_f1_and_refuses_the_rule_judge(tmp_path: Path) -> None:
    records, metrics = _run(tmp_path, "full-context", task_options={"data": str(FIXTURE), "top_k": "5"})
    assert len(records) == 7 and metrics["f1"]["n_clusters"] == 2
    # the reader declines both adversarial items: Ines, not Tomas, cooked with Lea; Bram never says
    # what he plays
    bait = [r for r in records if r.labels["category"] == "adversarial"]
    assert [r.prediction.answer for r in bait] == ["Not mentioned in the conversation."] * 2
    assert metrics["adversarial_accuracy"]["value"] == 1.0
    with pytest.raises(ConfigError, match="the rule judge needs machine-checkable keys"):
        run(tiny_run_config(tmp_path, "locomo", "bm25", task_options={"data": str(FIXTURE)}, judge="rule"))


@pytest.mark.parametrize(
    ("system", "matched"),
    [
        pytest.param("dense", "provenance", marks=[pytest.mark.needs_embedder, pytest.mark.slow]),
        pytest.param("mem0", "text", marks=[pytest.mark.needs_mem0, pytest.mark.slow]),
    ],
)
def test_embedding_systems_retrieve_evidence(tmp_path: Path, system: str, matched: str) -> None:
    """mem0 gives a session but no turn position, so its memories are matched to turns by text."""
    outcome = run(tiny_run_config(tmp_path, "locomo", system, task_options=dict(TINY)), NullDisplay())
    records = read_records(outcome.run_dir)
    assert all(r.status == "scored" for r in records)
    task = outcome.components.task
    labels = {
        c.labels.get("evidence_match")
        for c in task.contributions(records, [])
        if c.metric == "evidence_recall"
    }
    assert labels == {matched}
    summary = summarize(task, outcome.run_dir, n_boot=50)
    recall = next(m for m in summary["metrics"] if m["metric"] == "evidence_recall" and not m.get("by"))
    assert recall["value"] > 0.5
