"""SORT's metrics as contributions: accuracy with its breakdowns, abstentions, invalid answers, bias.

- ``accuracy_guess`` (main) = (correct + ½·abstentions) / scored pairs: every abstention counts as a
  coin flip. The paper's model must answer A or B, so its chance level is 50%; this puts the headline
  on that scale: a reader that knows nothing and says so (the no-memory floor) scores 50%, as the
  paper's no-context models do, not 0%. Invalid answers count as wrong, as the release counts an
  unparsable answer.
- ``accuracy`` = correct / scored pairs (strict): abstentions and invalid answers count as not
  correct. Shown beside the headline with the abstain share, so a reader that declines often is seen
  to decline rather than to guess well.
- ``accuracy_answered`` = correct / pairs answered A or B: how good the answers given are.
- ``abstain`` and ``invalid``: shares of scored pairs.
- ``answer_a`` = "A" answers / pairs answered A or B: position bias (the release's ``percentageA``);
  50% is unbiased, whatever the accuracy.
- ``binomial_p``: one-sided exact binomial test of correct answers against 50% over all scored pairs,
  as in the release's analysis. It counts only answers that are right (strict accuracy): the
  headline's coin flips are never made, so they are no evidence either way. It treats pairs as
  independent; the four pairs of an excerpt share a memory state, so read it beside the clustered
  interval of the headline, which does not.

A record that errored (system, reader or judge) contributes den 0 with ``error=True``: counted, shown,
never scored. Every contribution carries the breakdown labels, so each metric splits by excerpt length,
segment length, distance bin and which segment was shown first.
"""

from __future__ import annotations

from collections.abc import Mapping

from membench.core.task import Contribution, MetricSpec
from membench.core.types import IngestRecord, Record

BREAKDOWNS = ("excerpt_length", "segment_length", "distance_bin", "presented_first")


def _binomial_p(values: Mapping[str, float]) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2): the exact one-sided p-value ``binomtest`` gives.

    ``bdtrc`` (a ufunc) rather than ``binomtest``: a derived metric is recomputed on every bootstrap
    resample of every comparison, and ``binomtest`` costs a hundred times more per call.
    """
    from scipy.special import bdtrc

    n = round(values["scored"])
    if n == 0:
        return float("nan")
    k = round(values["accuracy"] * n)
    return 1.0 if k == 0 else float(bdtrc(k - 1, n, 0.5))


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("accuracy_guess", "Accuracy (abstain = coin flip)", main=True, group="order",
               note="(correct + abstentions/2) / scored pairs: the paper's scale, chance 50%"),
    MetricSpec("accuracy", "Accuracy (strict)", group="order",
               note="correct / scored pairs; abstain and invalid count as not correct"),
    MetricSpec("accuracy_answered", "Accuracy (answered)", group="order",
               note="correct / pairs answered A or B"),
    MetricSpec("abstain", "Abstained", better="lower", group="answers",
               note="share of scored pairs the reader declined (answer 'Unknown')"),
    MetricSpec("invalid", "Invalid answers", better="lower", group="answers",
               note="share of scored pairs whose answer was not exactly A or B"),
    MetricSpec("answer_a", "Answered A", better="target", target=0.5, group="answers",
               note="share of A among A/B answers: position bias, 50% = none"),
    MetricSpec("scored", "Pairs scored", better="descriptive", group="answers", aggregate="sum", scale=1.0,
               unit="",
               note="a count, not a score"),
    MetricSpec("binomial_p", "Binomial p (strict accuracy > 50%)", better="lower", group="order",
               scale=1.0, unit="", inputs=("accuracy", "scored"), derive=_binomial_p, bounds=(0.0, 1.0),
               note="one-sided exact binomial test of strict correct answers over pairs (independence "
                    "assumed; the accuracy intervals are clustered by excerpt); its interval is the "
                    "p-value's spread under resampling"),
)  # fmt: skip


def sort_contributions(records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
    """Every SORT metric contribution of one run (ingest timings are not a SORT metric)."""
    out: list[Contribution] = []
    for record in records:
        labels = {key: record.labels[key] for key in BREAKDOWNS if key in record.labels}
        out.extend(
            Contribution(metric, record.episode_id, record.probe_id, num, den, labels, error)
            for metric, num, den, error in _shares(record)
        )
    return out


def _shares(record: Record) -> list[tuple[str, float, float, bool]]:
    """(metric, num, den, error) of one record; an errored record only counts as an error everywhere."""
    if record.status == "error" or record.score is None:
        return [(spec.name, 0.0, 0.0, True) for spec in METRICS if spec.derive is None]
    label = record.score.label
    choice = record.score.details[0]["choice"] if record.score.details else None
    answered = float(choice in ("A", "B"))
    correct = float(label == "correct")
    return [
        ("accuracy", correct, 1.0, False),
        ("accuracy_answered", correct, answered, False),
        ("accuracy_guess", correct + 0.5 * (label == "abstain"), 1.0, False),
        ("abstain", float(label == "abstain"), 1.0, False),
        ("invalid", float(label == "invalid"), 1.0, False),
        ("answer_a", float(choice == "A"), answered, False),
        ("scored", 1.0, 0.0, False),
    ]
