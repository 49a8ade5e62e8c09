"""LongMemEval's metrics on hand-made records: overall, task-averaged and abstention accuracy, errors,
and session-level retrieval that skips abstention questions."""

from __future__ import annotations

import pytest

from membench.core.retrieval import EVIDENCE_LABEL, MATCH_LABEL, Evidence, evidence_label
from membench.core.types import ErrorInfo, Memory, Prediction, Record, Score
from membench.stats.estimate import estimate
from membench.stats.frame import contributions_frame
from membench_tasks.longmemeval.loader import QUESTION_TYPES
from membench_tasks.longmemeval.metrics import METRICS, longmemeval_contributions

EVIDENCE = [Evidence("s1", None, "I adopted a beagle"), Evidence("s2", None, "we named him Rufus")]


def record(
    probe: str,
    question_type: str,
    correct: float = 1.0,
    *,
    memories: list[Memory] | None = None,
    error: str | None = None,
) -> Record:
    abstention = probe.endswith("_abs")
    return Record(
        run_id="r",
        task="longmemeval",
        task_version="1",
        system="s",
        episode_id=probe,
        probe_id=probe,
        after_session=0,
        kind="qa",
        input_hash="h",
        labels={
            "question_type": question_type,
            "abstention": "yes" if abstention else "no",
            EVIDENCE_LABEL: "" if abstention else evidence_label(EVIDENCE),
        },
        prediction=Prediction(answer="x", memories=memories or []),
        score=None
        if error == "judge" or error == "system"
        else Score(judge="rule", values={"correct": correct}),
        error=ErrorInfo(stage=error, type="X", message="boom") if error else None,  # type: ignore[arg-type]
        completed_at="t",
    )


def values(records: list[Record]) -> dict[str, float | None]:
    rows = contributions_frame(longmemeval_contributions(records))
    return {e.metric: e.value for e in estimate(rows, METRICS, n_boot=0)}


def test_task_averaged_accuracy_weighs_each_type_the_same() -> None:
    # multi-session 1 of 4 right; every other type 1 of 1; a knowledge-update _abs question right.
    records = [record(f"m{i}", "multi-session", float(i == 0)) for i in range(4)]
    records += [record(t, t) for t in QUESTION_TYPES if t != "multi-session"]
    records.append(record("k_abs", "knowledge-update", 1.0))
    got = values(records)
    # overall: 7 right of 10; types: multi 1/4, knowledge-update 2/2 (its _abs question counts), rest 1/1.
    assert got["accuracy"] == pytest.approx(7 / 10)
    assert got["accuracy_multi_session"] == pytest.approx(1 / 4)
    assert got["accuracy_knowledge_update"] == pytest.approx(1.0)
    assert got["task_averaged_accuracy"] == pytest.approx((0.25 + 5 * 1.0) / 6)
    assert got["abstention_accuracy"] == pytest.approx(1.0)


def test_a_type_without_scored_questions_leaves_task_averaged_undefined_not_a_mean_of_five() -> None:
    records = [record(t, t) for t in QUESTION_TYPES if t != "temporal-reasoning"]
    records.append(record("t1", "temporal-reasoning", error="judge"))
    got = values(records)
    assert got["accuracy"] == 1.0 and got["accuracy_temporal_reasoning"] is None
    assert got["task_averaged_accuracy"] is None and got["abstention_accuracy"] is None


def test_errored_records_contribute_den_zero_errors_to_the_answer_metrics() -> None:
    rows = longmemeval_contributions([record("q_abs", "multi-session", error="judge")])
    assert sorted((c.metric, c.num, c.den, c.error) for c in rows) == [
        ("abstention_accuracy", 0.0, 0.0, True),
        ("accuracy", 0.0, 0.0, True),
        ("accuracy_multi_session", 0.0, 0.0, True),
    ]


def test_retrieval_is_session_level_by_provenance_and_skips_abstention() -> None:
    memories = [
        Memory(text="user: what is for dinner", session_id="f1", position=0),
        Memory(text="user: I adopted a beagle", session_id="s1", position=4),
    ]
    rows = longmemeval_contributions([record("q1", "single-session-user", memories=memories)])
    retrieval = {
        c.metric: (c.num, c.den, c.labels[MATCH_LABEL]) for c in rows if c.metric.startswith("evidence")
    }
    assert retrieval == {
        "evidence_recall": (0.5, 1.0, "provenance"),
        "evidence_hit": (1.0, 1.0, "provenance"),
        "evidence_mrr": (0.5, 1.0, "provenance"),
    }
    assert all(set(c.labels) <= {"question_type", "abstention", MATCH_LABEL} for c in rows)
    abstained = longmemeval_contributions([record("q_abs", "single-session-user", memories=memories)])
    assert not [c for c in abstained if c.metric.startswith("evidence")]


def test_without_provenance_the_answer_turns_are_matched_by_text() -> None:
    memories = [
        Memory(text="The user adopted a beagle puppy"),
        Memory(text="Rufus was named by us, we named him"),
    ]
    rows = longmemeval_contributions([record("q1", "single-session-user", memories=memories)])
    recall = next(c for c in rows if c.metric == "evidence_recall")
    assert (recall.num, recall.labels[MATCH_LABEL]) == (1.0, "text")


def test_a_system_failure_leaves_retrieval_an_error_too() -> None:
    rows = longmemeval_contributions([record("q1", "multi-session", error="system")])
    assert {(c.metric, c.error) for c in rows if c.metric.startswith("evidence")} == {
        ("evidence_recall", True),
        ("evidence_hit", True),
        ("evidence_mrr", True),
    }
