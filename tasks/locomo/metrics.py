"""LoCoMo's metrics as contributions, each broken down by category.

- ``f1`` (main) = the mean official score (``official.official_score``) over scored questions of all
  five categories, adversarial ones included as the original includes them (1 when the answer says
  the information is not available, else 0). mem0's harness leaves category 5 out; we do not.
- ``accuracy`` = right / judged questions, from the judge's verdict: only the rule and LLM judges give
  one, so an ``f1`` run has none (N/A, not zero).
- ``adversarial_accuracy`` = category-5 questions answered by declining: the judge's verdict where it
  gives one, else the official rule (which is what the official score of such an item is).
- ``evidence_recall``, ``evidence_hit``, ``evidence_mrr`` = the shared retrieval metrics
  (``core.retrieval``) of the retrieved memories against the item's ``evidence`` dialog ids; items
  without evidence contribute nothing.

A record that errored contributes den 0 with ``error=True``: counted and shown, never scored wrong.
"""

from __future__ import annotations

from membench.core.retrieval import RETRIEVAL_METRICS, probe_evidence, retrieval_contributions
from membench.core.task import Contribution, MetricSpec
from membench.core.types import Record
from membench_tasks.locomo.judges import F1_JUDGE
from membench_tasks.locomo.official import ADVERSARIAL, CATEGORIES

BREAKDOWNS = ("category",)
ADVERSARIAL_NAME = CATEGORIES[ADVERSARIAL]

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("f1", "Token F1 (official)", main=True, group="answers",
               note="the original scorer: stemmed token F1 (multi-hop per comma part, open-domain "
                    "before ';'); adversarial 1 when the answer says it is not available"),
    MetricSpec("accuracy", "Accuracy (judge)", group="answers",
               note="right / judged questions; only judges that give a verdict (rule, llm)"),
    MetricSpec("adversarial_accuracy", "Adversarial accuracy", group="answers",
               note="category 5: right when the answer says the conversations do not tell"),
    *RETRIEVAL_METRICS,
)  # fmt: skip


def locomo_contributions(records: list[Record]) -> list[Contribution]:
    """Every LoCoMo metric contribution of one run's latest records."""
    verdicts = any(r.score is not None and r.score.judge != F1_JUDGE for r in records)
    out: list[Contribution] = []
    for record in records:
        labels = {key: record.labels[key] for key in BREAKDOWNS if key in record.labels}
        out.extend(
            Contribution(metric, record.episode_id, record.probe_id, num, den, labels, error)
            for metric, num, den, error in _values(record, verdicts)
        )
        evidence = probe_evidence(record.labels)
        out.extend(retrieval_contributions(record, evidence))
    return out


def _values(record: Record, verdicts: bool) -> list[tuple[str, float, float, bool]]:
    """(metric, num, den, error) of one record's answer metrics; ``verdicts``: the run's judge gives them."""
    adversarial = record.labels.get("category") == ADVERSARIAL_NAME
    names = ["f1", *(["accuracy"] if verdicts else []), *(["adversarial_accuracy"] if adversarial else [])]
    if record.status == "error" or record.score is None:
        return [(name, 0.0, 0.0, True) for name in names]
    values = record.score.values
    out = [("f1", values["f1"], 1.0, False)]
    if "correct" in values:
        out.append(("accuracy", values["correct"], 1.0, False))
    if adversarial:
        out.append(("adversarial_accuracy", values.get("correct", values["f1"]), 1.0, False))
    return out
