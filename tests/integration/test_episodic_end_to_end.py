"""The episodic task end to end on tiny built books: every baseline, mem0, the LLM reader and judge."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from membench.analysis.summary import summarize
from membench.api import run
from membench.core.config import LLMSpec, RunConfig
from membench.core.records import read_records
from membench.running.display import NullDisplay
from membench.testing import FakeLLM
from membench.testing.configs import TINY_TASK_OPTIONS, tiny_run_config
from membench.testing.openai_server import message_text


def _metrics(outcome: Any) -> dict[str, float | None]:
    summary = summarize(outcome.components.task, outcome.run_dir, n_boot=50)
    return {m["metric"]: m["value"] for m in summary["metrics"]}


def _run(config: RunConfig) -> tuple[Any, list[Any], dict[str, float | None]]:
    outcome = run(config, NullDisplay())
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete"
    assert records and all(r.status == "scored" for r in records)
    assert {r.episode_id for r in records} == {e.episode_id for e in outcome.plan.dataset.episodes}
    return outcome, records, _metrics(outcome)


def test_no_memory_abstains_everywhere(tmp_path: Path) -> None:
    _, records, metrics = _run(tiny_run_config(tmp_path, "episodic", "no-memory"))
    assert metrics["hallucination_rate"] == 0.0
    # Abstaining is right exactly where the answer is empty (the 0 bin, and chapters without others).
    assert all(r.score.values["f1"] == float(r.score.values["n_gt"] == 0) for r in records)
    cells: dict[tuple[str, str], list[float]] = {}
    for r in records:
        if r.kind == "recall":
            cells.setdefault((r.labels["book_chapters"], r.labels["bin"]), []).append(r.score.values["f1"])
    by_cell = [sum(f1s) / len(f1s) for f1s in cells.values()]
    assert metrics["simple_recall"] == pytest.approx(sum(by_cell) / len(by_cell))
    assert metrics["latest"] == 0.0 and metrics["exact_set"] == 0.0


@pytest.mark.parametrize(
    "system",
    [
        "full-context",
        "bm25",
        pytest.param("dense", marks=[pytest.mark.needs_embedder, pytest.mark.slow]),
        pytest.param("mem0", marks=[pytest.mark.needs_mem0, pytest.mark.slow]),
    ],
)
def test_retrieving_systems_answer_some_questions(system: str, tmp_path: Path) -> None:
    # Embedding every question takes most of a dense or mem0 run: those get smaller books.
    options = {"books": "6x1,8x1"} if system in ("dense", "mem0") else dict(TINY_TASK_OPTIONS["episodic"])
    outcome, records, metrics = _run(tiny_run_config(tmp_path, "episodic", system, task_options=options))
    assert {r.kind for r in records} == {"recall", "latest", "chronological"}
    one_match = [r for r in records if r.kind == "recall" and r.labels["bin"] == "1"]
    assert any(r.score.values["f1"] > 0 for r in one_match), "some single-event questions are answered"
    for name in ("simple_recall", "f1", "hallucination_rate", "latest", "chronological_awareness"):
        assert metrics[name] is not None and 0.0 <= metrics[name] <= 1.0, name
    if system == "full-context":
        # Every paragraph is handed over with its chapter and story date: read exhaustively, it answers all.
        assert metrics["simple_recall"] == 1.0 and metrics["exact_set"] == 1.0
    assert [(c.axis, c.metric) for c in outcome.components.task.curves] == [
        ("book_chapters", "simple_recall")
    ]
    assert {r.labels["book_chapters"] for r in records} == {
        str(len(e.sessions)) for e in outcome.plan.episodes
    }
    assert len({r.labels["book_chapters"] for r in records}) == 2


def test_llm_reader_and_llm_judge(tmp_path: Path) -> None:
    os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-real")
    # The judge credits every ground-truth item (score 1), stated in story order.
    reader_llm, judge_llm = FakeLLM(answer="No information in my memories."), FakeLLM(episodic=1)
    with reader_llm.serve() as reader, judge_llm.serve() as judge:
        config = tiny_run_config(
            tmp_path,
            "episodic",
            "bm25",
            task_options={"books": "8x1"},
            reader_llm=LLMSpec("openai/fake-model", reader.base_url),
            judge_llm=LLMSpec("openai/fake-judge", judge.base_url),
        )
        _, records, metrics = _run(config)
        prompts = [message_text(r.body["messages"][0]["content"]) for r in reader.requests]
    assert len(prompts) == len(records)
    assert any("Chapter " in p for p in prompts), "the reader sees the retrieved paragraphs"
    assert all(r.score.judge == "llm:openai/fake-judge" for r in records)
    # The fake judge credits everything: F1 1 on every question, exact sets in story order.
    assert metrics["simple_recall"] == 1.0 and metrics["hallucination_rate"] == 0.0
    assert metrics["exact_set"] in (None, 1.0)
    assert {p.kind for p in reader_llm.prompts} == {"reader"}
    assert [p.kind for p in judge_llm.prompts] == ["episodic"] * len(records), "one judgment per question"
    # By hand: every item credited in full and nothing else stated is F1 1 (harsh too), and story order
    # is an exact set with tau 1 on every chronological question of two or more items.
    chronological = [r for r in records if r.kind == "chronological" and r.score.values["n_gt"] >= 2]
    assert chronological, "the book has chronological questions to order"
    for record in records:
        values = record.score.values
        assert values["f1"] == values["f1_harsh"] == 1.0 and values["n_pred"] == values["n_gt"]
    assert all(r.score.values["exact_set"] == r.score.values["tau"] == 1.0 for r in chronological)
    assert metrics["f1"] == metrics["f1_harsh"] == metrics["exact_set"] == metrics["kendall_tau"] == 1.0
