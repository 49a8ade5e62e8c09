"""LoCoMo's metrics as contributions: official F1, the judge's accuracy, adversarial accuracy, and
evidence recall/hit/MRR from the shared retrieval module."""

from __future__ import annotations

from membench.core.retrieval import Evidence, evidence_label
from membench.core.task import Contribution
from membench.core.types import ErrorInfo, Memory, Prediction, Record, Score
from membench_tasks.locomo.metrics import METRICS, locomo_contributions

EVIDENCE = evidence_label([Evidence("c/session_1", 0, "Ines: My dog is named Biscuit.")])


def record(
    probe_id: str,
    category: str,
    values: dict[str, float] | None,
    *,
    judge: str = "f1",
    memories: list[Memory] | None = None,
    evidence: str = EVIDENCE,
    error: ErrorInfo | None = None,
) -> Record:
    return Record(
        run_id="r", task="locomo", task_version="1", system="s", episode_id="c", probe_id=probe_id,
        after_session=0, kind="qa", labels={"category": category, "_evidence": evidence}, input_hash="h",
        prediction=None if error else Prediction(answer="a", memories=memories or []),
        score=None if values is None else Score(judge=judge, values=values),
        error=error, completed_at="2026-01-01T00:00:00Z",
    )  # fmt: skip


def by_metric(contributions: list[Contribution]) -> dict[str, list[tuple[str, float, float, bool]]]:
    out: dict[str, list[tuple[str, float, float, bool]]] = {}
    for c in contributions:
        out.setdefault(c.metric, []).append((c.probe_id, c.num, c.den, c.error))
    return out


def test_the_official_f1_is_the_main_metric_and_the_retrieval_metrics_are_declared() -> None:
    assert [m.name for m in METRICS] == [
        "f1", "accuracy", "adversarial_accuracy", "evidence_recall", "evidence_hit", "evidence_mrr",
    ]  # fmt: skip
    assert [m.name for m in METRICS if m.main] == ["f1"]


def test_an_f1_run_has_f1_and_adversarial_accuracy_but_no_accuracy() -> None:
    found = [
        Memory(text="x", session_id="c/session_2", position=5),
        Memory(text="y", session_id="c/session_1", position=0),
    ]
    records = [
        record("q1", "single-hop", {"f1": 0.4}, memories=found),
        record("q2", "adversarial", {"f1": 1.0}, memories=[]),
        record("q3", "temporal", {"f1": 0.0}, evidence=evidence_label([])),
    ]
    metrics = by_metric(locomo_contributions(records))
    assert metrics["f1"] == [("q1", 0.4, 1.0, False), ("q2", 1.0, 1.0, False), ("q3", 0.0, 1.0, False)]
    assert "accuracy" not in metrics
    assert metrics["adversarial_accuracy"] == [("q2", 1.0, 1.0, False)]
    # q1's evidence is the second memory; q2 retrieved nothing; q3 has no evidence and scores none
    assert metrics["evidence_recall"] == [("q1", 1.0, 1.0, False), ("q2", 0.0, 1.0, False)]
    assert metrics["evidence_hit"] == [("q1", 1.0, 1.0, False), ("q2", 0.0, 1.0, False)]
    assert metrics["evidence_mrr"] == [("q1", 0.5, 1.0, False), ("q2", 0.0, 1.0, False)]
    labels = [c.labels for c in locomo_contributions(records) if c.metric == "evidence_recall"]
    assert [lab["evidence_match"] for lab in labels] == ["provenance", "nothing retrieved"]
    assert {c.labels["category"] for c in locomo_contributions(records)} == {
        "single-hop",
        "adversarial",
        "temporal",
    }


def test_a_judge_with_verdicts_gives_accuracy_and_decides_adversarial_accuracy() -> None:
    records = [
        record("q1", "multi-hop", {"f1": 0.5, "correct": 1.0}, judge="rule"),
        record("q2", "adversarial", {"f1": 1.0, "correct": 0.0}, judge="rule"),
    ]
    metrics = by_metric(locomo_contributions(records))
    assert metrics["accuracy"] == [("q1", 1.0, 1.0, False), ("q2", 0.0, 1.0, False)]
    assert metrics["adversarial_accuracy"] == [("q2", 0.0, 1.0, False)]  # the judge's verdict, not the rule


def test_errored_records_count_as_errors_never_as_wrong() -> None:
    failed = ErrorInfo(stage="system", type="Boom", message="down")
    records = [
        record("q1", "adversarial", None, error=failed),
        record("q2", "single-hop", {"f1": 1.0, "correct": 1.0}, judge="llm:m"),
    ]
    metrics = by_metric(locomo_contributions(records))
    assert metrics["f1"][0] == ("q1", 0.0, 0.0, True)
    assert metrics["accuracy"][0] == ("q1", 0.0, 0.0, True)
    assert metrics["adversarial_accuracy"] == [("q1", 0.0, 0.0, True)]
    assert metrics["evidence_recall"][0] == ("q1", 0.0, 0.0, True)
