"""LongMemEval end to end on tiny built data: the baselines, dense and mem0 (slow), the LLM reader and
judge through the fake LLM, and the official schema's fixture."""

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
from membench.core.retrieval import MATCH_LABEL
from membench.core.types import Record
from membench.running.display import NullDisplay
from membench.testing import FakeLLM
from membench.testing.configs import tiny_run_config
from membench.testing.fake_llm import Prompt

FIXTURE = Path(__file__).parent.parent / "fixtures" / "longmemeval" / "official_sample.json"


def _config(tmp_path: Path, system: str, **overrides: Any) -> RunConfig:
    return tiny_run_config(tmp_path, "longmemeval", system, **overrides)


def _run(config: RunConfig) -> tuple[list[Record], dict[str, Any]]:
    outcome = run(config, NullDisplay())
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete" and len(records) == 8
    assert all(r.status == "scored" for r in records), [r.error for r in records if r.error]
    summary = summarize(outcome.components.task, outcome.run_dir, n_boot=50)
    return records, {m["metric"]: m for m in summary["metrics"]}


def test_no_memory_is_right_exactly_on_the_abstention_questions(tmp_path: Path) -> None:
    records, metrics = _run(_config(tmp_path, "no-memory"))
    right = {r.probe_id for r in records if r.score and r.score.values["correct"] == 1.0}
    assert right == {r.probe_id for r in records if r.probe_id.endswith("_abs")} and len(right) == 2
    assert metrics["accuracy"]["value"] == pytest.approx(2 / 8)
    assert metrics["abstention_accuracy"]["value"] == 1.0
    # single-session-user and multi-session: 1 of 2 each (their _abs question right), the rest 0.
    assert metrics["task_averaged_accuracy"]["value"] == pytest.approx((0.5 + 0.5) / 6)
    assert metrics["evidence_recall"]["value"] == 0.0 and metrics["evidence_recall"]["n"] == 6
    # one question is one episode, and the cluster.
    assert metrics["accuracy"]["n_clusters"] == 8


def test_full_context_is_right_everywhere_and_holds_every_answer_session(tmp_path: Path) -> None:
    records, metrics = _run(_config(tmp_path, "full-context"))
    assert all(len(r.prediction.memories) == 4 * 4 for r in records if r.prediction), "every turn"
    assert metrics["accuracy"]["value"] == 1.0 and metrics["task_averaged_accuracy"]["value"] == 1.0
    assert metrics["evidence_recall"]["value"] == 1.0 and metrics["evidence_hit"]["value"] == 1.0


@pytest.mark.parametrize(
    "system",
    [
        "bm25",
        pytest.param("dense", marks=[pytest.mark.needs_embedder, pytest.mark.slow]),
        pytest.param("mem0", marks=[pytest.mark.needs_mem0, pytest.mark.slow]),
    ],
)
def test_memory_systems_retrieve_the_answer_sessions(system: str, tmp_path: Path) -> None:
    records, metrics = _run(_config(tmp_path, system))
    assert metrics["evidence_recall"]["value"] is not None and metrics["evidence_recall"]["value"] > 0.5
    assert metrics["accuracy"]["value"] is not None and metrics["accuracy"]["value"] > 0.5
    assert max(len(r.prediction.memories) for r in records if r.prediction) <= 10


def test_bm25_matches_evidence_by_provenance_at_session_level(tmp_path: Path) -> None:
    outcome = run(_config(tmp_path, "bm25"), NullDisplay())
    rows = outcome.components.task.contributions(read_records(outcome.run_dir), [])
    matched = {c.labels[MATCH_LABEL] for c in rows if c.metric == "evidence_recall"}
    assert matched == {"provenance"}
    assert {c.probe_id for c in rows if c.metric == "evidence_recall"} == {
        c.probe_id for c in rows if c.metric == "accuracy" and not c.probe_id.endswith("_abs")
    }


def _yes_unless_unknown(prompt: Prompt) -> str:
    answered = prompt.section("Assistant's answer").rstrip(".") != "Unknown"
    if prompt.kind == "longmemeval-abstention":
        return "no" if answered else "yes"
    return "yes" if answered else "no"


def test_llm_reader_and_llm_judge_use_the_rule_of_each_question(tmp_path: Path) -> None:
    os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-real")
    reader_llm, judge_llm = FakeLLM(answer="Unknown"), FakeLLM(longmemeval=_yes_unless_unknown)
    with reader_llm.serve() as reader, judge_llm.serve() as judge:
        config = _config(
            tmp_path,
            "bm25",
            reader_llm=LLMSpec("openai/fake-reader", reader.base_url),
            judge_llm=LLMSpec("openai/fake-judge", judge.base_url),
            judge="llm",
        )
        records, metrics = _run(config)
    assert all(r.score and r.score.judge == "llm:openai/fake-judge" for r in records)
    kinds = sorted(p.kind for p in judge_llm.prompts)
    assert kinds == sorted(
        [
            "longmemeval-standard",  # single-session-user
            "longmemeval-standard",  # single-session-assistant
            "longmemeval-standard",  # multi-session
            "longmemeval-temporal",
            "longmemeval-update",
            "longmemeval-preference",
            "longmemeval-abstention",  # the single-session-user _abs question
            "longmemeval-abstention",  # the multi-session _abs question
        ]
    )
    # the reader is shown the question's date.
    assert all("- question_date: 20" in p.text for p in reader_llm.prompts)
    assert metrics["accuracy"]["value"] == pytest.approx(2 / 8)
    assert metrics["abstention_accuracy"]["value"] == 1.0


def test_official_data_loads_and_the_rule_judge_refuses_it(tmp_path: Path) -> None:
    config = tiny_run_config(tmp_path, "longmemeval", "full-context", task_options={"data": str(FIXTURE)})
    with pytest.raises(ConfigError, match="judge official data with an LLM"):
        run(config, NullDisplay())


def test_official_data_runs_with_the_llm_judge(tmp_path: Path) -> None:
    os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-real")
    judge_llm = FakeLLM(longmemeval="yes")
    with judge_llm.serve() as judge:
        config = tiny_run_config(
            tmp_path,
            "longmemeval",
            "full-context",
            task_options={"data": str(FIXTURE)},
            judge_llm=LLMSpec("openai/fake-judge", judge.base_url),
            judge="llm",
        )
        outcome = run(config, NullDisplay())
    records = read_records(outcome.run_dir)
    assert sorted(r.probe_id for r in records) == ["q_multi_3", "q_update_2_abs", "q_user_1"]
    assert sorted(p.kind for p in judge_llm.prompts) == [
        "longmemeval-abstention",
        "longmemeval-standard",
        "longmemeval-standard",
    ]
