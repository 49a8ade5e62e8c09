"""ConvoMem end to end on tiny built data: the baselines, mem0, the LLM reader and judge, official data."""

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
from membench.core.retrieval import EVIDENCE_LABEL, parse_evidence_label
from membench.core.types import Record
from membench.running.display import NullDisplay
from membench.testing import FakeLLM
from membench.testing.configs import tiny_run_config
from membench.testing.fake_llm import Prompt, RawReply

FIXTURES = Path(__file__).parent.parent / "fixtures" / "convomem"


def _run(config: RunConfig, *, scored: bool = True) -> tuple[list[Record], dict[str, Any]]:
    outcome = run(config, NullDisplay())
    records = read_records(outcome.run_dir)
    assert outcome.manifest.status == "complete" and records
    if scored:
        assert all(r.status == "scored" for r in records), [r.error for r in records if r.error]
    summary = summarize(outcome.components.task, outcome.run_dir, n_boot=50)
    return records, {m["metric"]: m for m in summary["metrics"]}


def full_context_mrr(records: list[Record]) -> float:
    """Evidence MRR of a system that returns every turn, oldest first: an item's first match is the
    first turn of its first evidence conversation, ranked after every turn before it."""
    ranks = []
    for record in records:
        sessions = [m.session_id for m in record.prediction.memories]
        first = min(sessions.index(e.session_id) for e in parse_evidence_label(record.labels[EVIDENCE_LABEL]))
        ranks.append(first + 1)
    return sum(1 / rank for rank in ranks) / len(ranks)


def test_no_memory_is_right_exactly_on_the_abstention_items(tmp_path: Path) -> None:
    records, metrics = _run(tiny_run_config(tmp_path, "convomem", "no-memory"))
    abstention = [r for r in records if r.labels["category"] == "abstention"]
    assert abstention and all(r.score.values["correct"] == 1.0 for r in abstention)
    assert all(r.score.values["correct"] == 0.0 for r in records if r.labels["category"] != "abstention")
    assert metrics["accuracy"]["value"] == pytest.approx(len(abstention) / len(records))
    assert metrics["evidence_recall"]["value"] == 0.0 and metrics["context_words"]["value"] == 0.0
    assert metrics["evidence_hit"]["value"] == 0.0 and metrics["evidence_mrr"]["value"] == 0.0
    # The two personas are the clusters: haystacks of one persona share its filler and its items.
    assert metrics["accuracy"]["n_clusters"] == 2


def test_full_context_is_right_everywhere_and_reads_more_as_the_history_grows(tmp_path: Path) -> None:
    records, metrics = _run(tiny_run_config(tmp_path, "convomem", "full-context"))
    assert metrics["accuracy"]["value"] == 1.0 and metrics["evidence_recall"]["value"] == 1.0
    # every conversation, oldest first: each item's first evidence conversation is its first match
    assert metrics["evidence_mrr"]["value"] == pytest.approx(full_context_mrr(records))
    assert {r.labels["context_size"] for r in records} == {"1", "3", "10", "30"}
    words: dict[int, list[float]] = {}
    for r in records:
        words.setdefault(int(r.labels["context_size"]), []).append(
            sum(len(m.text.split()) for m in r.prediction.memories)
        )
    means = [sum(w) / len(w) for _, w in sorted(words.items())]
    assert means == sorted(means) and means[-1] > 10 * means[0]
    assert metrics["llm_tokens"]["value"] == 0.0 and metrics["cost_usd"]["value"] == 0.0


@pytest.mark.parametrize(
    "system", ["bm25", pytest.param("mem0", marks=[pytest.mark.needs_mem0, pytest.mark.slow])]
)
def test_memory_systems_retrieve_evidence_with_provenance(system: str, tmp_path: Path) -> None:
    records, metrics = _run(tiny_run_config(tmp_path, "convomem", system))
    assert metrics["evidence_recall"]["value"] is not None and metrics["evidence_recall"]["value"] > 0.5
    assert metrics["evidence_hit"]["value"] >= metrics["evidence_recall"]["value"]
    assert metrics["accuracy"]["value"] is not None and metrics["accuracy"]["value"] > 0.5
    # top 10 turns at most, whatever the history's length
    assert max(len(r.prediction.memories) for r in records) <= 10


def _judge_by_category(prompt: Prompt) -> str:
    return "RIGHT" if prompt.kind == "convomem-abstention" else "WRONG"


def test_llm_reader_and_llm_judge_with_the_prompt_of_each_category(tmp_path: Path) -> None:
    os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-real")
    reader_llm, judge_llm = FakeLLM(answer="I don't know."), FakeLLM(convomem=_judge_by_category)
    with reader_llm.serve() as reader, judge_llm.serve() as judge:
        config = tiny_run_config(
            tmp_path,
            "convomem",
            "bm25",
            task_options={"personas": "2", "filler": "30", "sizes": "1,10", "per_cell": "1"},
            reader_llm=LLMSpec("openai/fake-reader", reader.base_url),
            judge_llm=LLMSpec("openai/fake-judge", judge.base_url),
            judge="llm",
        )
        records, metrics = _run(config)
    kinds = {
        "user_facts": "convomem-fact",
        "assistant_facts": "convomem-fact",
        "changing_facts": "convomem-changing",
        "abstention": "convomem-abstention",
        "preferences": "convomem-rubric",
        "implicit_connections": "convomem-rubric",
    }
    # Identical prompts (one item at several sizes, the same answer) are answered once, from the cache.
    assert {p.kind for p in judge_llm.prompts} == {kinds[r.labels["category"]] for r in records}
    assert all(r.score.judge == "llm:openai/fake-judge" for r in records)
    abstention = sum(r.labels["category"] == "abstention" for r in records)
    assert metrics["accuracy"]["value"] == pytest.approx(abstention / len(records))
    # The reader's tokens are the system's cost of answering; the judge's are not.
    reader_tokens = [r.usage["reader"].prompt_tokens + r.usage["reader"].completion_tokens for r in records]
    assert all(t > 0 for t in reader_tokens) and all(r.usage["judge"].calls == 1 for r in records)
    assert metrics["llm_tokens"]["value"] == pytest.approx(sum(reader_tokens) / len(records))


def test_a_judge_reply_that_is_not_one_word_is_an_error_never_a_wrong_answer(tmp_path: Path) -> None:
    os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-real")
    judge_llm = FakeLLM(convomem=RawReply("RIGHT, mostly. Well, WRONG."))
    with judge_llm.serve() as judge:
        config = tiny_run_config(
            tmp_path,
            "convomem",
            "full-context",
            task_options={"personas": "2", "filler": "30", "sizes": "3", "per_cell": "1"},
            judge_llm=LLMSpec("openai/fake-judge", judge.base_url),
            judge="llm",
            max_consecutive_errors=0,  # every probe judged: the streak would stop the run at 5
        )
        records, metrics = _run(config, scored=False)
    assert records and all(r.status == "error" for r in records)
    assert all("one word RIGHT or WRONG" in (r.score.explanation or "") for r in records if r.score)
    assert len(judge_llm.prompts) == 2 * len(records), "asked once, re-asked once with the reminder"
    assert metrics["accuracy"]["value"] is None and metrics["accuracy"]["n_errors"] == len(records)


def test_official_data_loads_and_the_rule_judge_refuses_it(tmp_path: Path) -> None:
    options = {"data": str(FIXTURES), "sizes": "1,3", "per_cell": "1", "evidence": "all"}
    config = tiny_run_config(tmp_path, "convomem", "full-context", task_options=options)
    with pytest.raises(ConfigError, match="judge official data with an LLM"):
        run(config, NullDisplay())
