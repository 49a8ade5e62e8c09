"""ConvoMem's contributions on hand-made records: accuracy, evidence, words, cost per question and per
conversation ingested, errors; and the persona as the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from membench.analysis.runs import task_contributions
from membench.core.errors import ConfigError
from membench.core.retrieval import EVIDENCE_LABEL, MATCH_LABEL, Evidence, evidence_label
from membench.core.types import ErrorInfo, IngestRecord, Memory, Prediction, Record, Score, Usage
from membench_tasks.convomem.metrics import convomem_contributions
from membench_tasks.convomem.task import ConvoMemTask

#: an item's two evidence conversations, each with the evidence message it holds.
EVIDENCE = [Evidence("e1", None, "My dog is called Rex"), Evidence("e2", None, "I moved to Oslo in May")]


def record(probe: str, episode: str, *, correct: float = 1.0, memories: list[Memory] | None = None,
           reader: Usage | None = None, error: bool = False) -> Record:  # fmt: skip
    return Record(
        run_id="r", task="convomem", task_version="1", system="s", episode_id=episode, probe_id=probe,
        after_session=0, kind="qa", input_hash="h",
        labels={"category": "user_facts", "evidence_count": "2", "context_size": "3", "persona_id": "p0",
                "haystack_id": episode, "item_id": probe, EVIDENCE_LABEL: evidence_label(EVIDENCE)},
        prediction=Prediction(answer="x", memories=memories or []),
        score=None if error else Score(judge="rule", values={"correct": correct}),
        error=ErrorInfo(stage="system", type="X", message="boom") if error else None,
        usage={"reader": reader or Usage(), "judge": Usage(prompt_tokens=999, cost_usd=9.0)},
        completed_at="t",
    )  # fmt: skip


def ingest(episode: str, index: int, tokens: int, usd: float) -> IngestRecord:
    usage = {"system": Usage(calls=1, prompt_tokens=tokens, cost_usd=usd)}
    return IngestRecord(
        run_id="r", episode_id=episode, session_index=index, session_id=f"c{index}", latency_s=0.1,
        ok=True, usage=usage, completed_at="t",
    )  # fmt: skip


def by_metric(rows: list, metric: str) -> list[tuple[str, float, float, bool]]:  # type: ignore[type-arg]
    return [(r.probe_id, r.num, r.den, r.error) for r in rows if r.metric == metric]


def test_values_by_hand() -> None:
    memories = [Memory(text="a b", session_id="f9"), Memory(text="user: my dog is Rex", session_id="e1")]
    records = [
        record(
            "q1", "h1", memories=memories, reader=Usage(prompt_tokens=100, completion_tokens=5, cost_usd=0.01)
        ),
        record("q2", "h1", correct=0.0, reader=Usage(prompt_tokens=50, cost_usd=0.02)),
        record("q3", "h2", error=True),
    ]
    # h1: 3 conversations, 300 tokens and $0.30 of ingestion; h2: 1 conversation, 40 tokens.
    ingests = [
        ingest("h1", 0, 100, 0.1),
        ingest("h1", 1, 100, 0.1),
        ingest("h1", 2, 100, 0.1),
        ingest("h2", 0, 40, 0.4),
    ]
    rows = convomem_contributions(records, ingests)
    assert by_metric(rows, "accuracy") == [
        ("q1", 1.0, 1.0, False),
        ("q2", 0.0, 1.0, False),
        ("q3", 0.0, 0.0, True),
    ]
    # q1 found e1 of e1,e2, at rank 2, by provenance; q2 retrieved nothing: a true zero
    assert by_metric(rows, "evidence_recall") == [
        ("q1", 0.5, 1.0, False),
        ("q2", 0.0, 1.0, False),
        ("q3", 0.0, 0.0, True),
    ]
    assert by_metric(rows, "evidence_hit") == [
        ("q1", 1.0, 1.0, False),
        ("q2", 0.0, 1.0, False),
        ("q3", 0.0, 0.0, True),
    ]
    assert by_metric(rows, "evidence_mrr") == [
        ("q1", 0.5, 1.0, False),
        ("q2", 0.0, 1.0, False),
        ("q3", 0.0, 0.0, True),
    ]
    matched = {r.probe_id: r.labels.get(MATCH_LABEL) for r in rows if r.metric == "evidence_recall"}
    assert matched == {"q1": "provenance", "q2": "nothing retrieved", "q3": None}
    assert by_metric(rows, "context_words")[:2] == [("q1", 7.0, 1.0, False), ("q2", 0.0, 1.0, False)]
    # answering: the reader's tokens, never the judge's
    assert by_metric(rows, "llm_tokens")[:2] == [("q1", 105.0, 1.0, False), ("q2", 50.0, 1.0, False)]
    assert by_metric(rows, "cost_usd")[:2] == [("q1", 0.01, 1.0, False), ("q2", 0.02, 1.0, False)]
    # ingestion per conversation: each question carries half of h1's 300 tokens over 3 conversations
    assert by_metric(rows, "ingest_tokens") == [
        ("q1", 150.0, 1.5, False),
        ("q2", 150.0, 1.5, False),
        ("q3", 0.0, 0.0, True),
    ]
    assert by_metric(rows, "ingest_cost_usd")[0] == ("q1", pytest.approx(0.15), 1.5, False)
    assert {r.labels["persona_id"] for r in rows} == {"p0"}


def test_memories_without_provenance_are_matched_by_the_evidence_messages_text() -> None:
    # "Rex is my dog" shares dog and rex with e1's message; "Oslo" alone is one word: chance.
    memories = [Memory(text="Oslo"), Memory(text="Rex is my dog")]
    rows = convomem_contributions([record("q1", "h1", memories=memories)], [])
    assert [
        (r.metric, r.num, r.den, r.labels[MATCH_LABEL]) for r in rows if r.metric.startswith("evidence")
    ] == [
        ("evidence_recall", 0.5, 1.0, "text"),
        ("evidence_hit", 1.0, 1.0, "text"),
        ("evidence_mrr", 0.5, 1.0, "text"),
    ]
    assert by_metric(rows, "ingest_tokens") == [("q1", 0.0, 0.0, False)]  # nothing ingested: no weight


def test_the_persona_is_the_cluster_and_a_task_without_its_label_is_refused(tmp_path: Path) -> None:
    task = ConvoMemTask({}, tmp_path)
    frame = task_contributions(task, [record("q1", "h1"), record("q2", "h2")], [])
    assert set(frame["episode_id"]) == {"p0"}

    class Unlabelled(ConvoMemTask):
        cluster_label = "no_such_label"

    with pytest.raises(ConfigError, match="no_such_label"):
        task_contributions(Unlabelled({}, tmp_path), [record("q1", "h1")], [])
