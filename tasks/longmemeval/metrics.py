"""LongMemEval's metrics as contributions, as upstream's ``print_qa_metrics.py`` reports them, plus the
retrieval of the evidence sessions.

- ``accuracy`` (main) = right / scored questions, over all of them (upstream's "Overall Accuracy").
- ``accuracy_<type>`` = the same over one question type's questions, abstention questions included
  in their type, as upstream counts them. Six metrics, because the headline is computed from them:
- ``task_averaged_accuracy`` = the unweighted mean of the six type accuracies (upstream's
  "Task-averaged Accuracy", its headline): each type weighs the same however many questions it has
  (133 multi-session and 30 preference questions in the release). Derived, so its interval is
  recomputed from the same resampled questions; undefined when a type has no scored question (a run
  with ``--limit`` may lack one), never a mean over fewer types.
- ``abstention_accuracy`` = right / scored ``_abs`` questions.
- ``evidence_recall``, ``evidence_hit`` and ``evidence_mrr`` (``membench.core.retrieval``): the answer
  sessions (``answer_session_ids``) among the k memories retrieved, at session level; abstention
  questions have no evidence and contribute nothing, as upstream skips them. Upstream reports
  recall_any@k (our hit), recall_all@k and NDCG; the shared module gives recall (the share of the
  answer sessions found), hit and MRR, the same for every task.

A record that errored contributes den 0 with ``error=True`` to every answer metric: counted and shown,
never scored wrong. Every contribution carries the question type and the abstention flag.
"""

from __future__ import annotations

from collections.abc import Mapping

from membench.core.retrieval import RETRIEVAL_METRICS, probe_evidence, retrieval_contributions
from membench.core.task import Contribution, MetricSpec
from membench.core.types import Record
from membench_tasks.longmemeval.loader import QUESTION_TYPES

BREAKDOWNS = ("question_type", "abstention")
CARRIED = BREAKDOWNS


def type_metric(question_type: str) -> str:
    """The metric name of one type's accuracy: ``accuracy_single_session_user``."""
    return "accuracy_" + question_type.replace("-", "_")


TYPE_METRICS: tuple[str, ...] = tuple(type_metric(t) for t in QUESTION_TYPES)


def _mean_of_types(values: Mapping[str, float]) -> float:
    return sum(values[name] for name in TYPE_METRICS) / len(TYPE_METRICS)


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("accuracy", "Accuracy", main=True, group="answers", note="right / scored questions"),
    MetricSpec("task_averaged_accuracy", "Task-averaged accuracy", group="answers", inputs=TYPE_METRICS,
               derive=_mean_of_types, bounds=(0.0, 1.0),
               note="unweighted mean of the six question types' accuracies (upstream's headline)"),
    MetricSpec("abstention_accuracy", "Abstention accuracy", group="answers",
               note="right / scored abstention (_abs) questions"),
    *(MetricSpec(type_metric(t), f"Accuracy: {t}", group="answers by type",
                 note=f"right / scored {t} questions, abstention ones included")
      for t in QUESTION_TYPES),
    *RETRIEVAL_METRICS,
)  # fmt: skip


def longmemeval_contributions(records: list[Record]) -> list[Contribution]:
    """Every LongMemEval metric contribution of one run's latest records."""
    out: list[Contribution] = []
    for record in records:
        labels = {key: record.labels[key] for key in CARRIED if key in record.labels}
        answered = [
            ("accuracy", True),
            (type_metric(record.labels["question_type"]), True),
            ("abstention_accuracy", record.labels.get("abstention") == "yes"),
        ]
        for metric, applies in answered:
            if not applies:
                continue
            if record.status == "error" or record.score is None:
                out.append(Contribution(metric, record.episode_id, record.probe_id, 0.0, 0.0, labels, True))
            else:
                correct = record.score.values.get("correct", 0.0)
                out.append(Contribution(metric, record.episode_id, record.probe_id, correct, 1.0, labels))
        evidence = probe_evidence(record.labels)
        shown = record.model_copy(update={"labels": labels})
        out.extend(retrieval_contributions(shown, evidence))
    return out
