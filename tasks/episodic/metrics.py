"""Episodic metrics as contributions (Σnum / Σden), with upstream's aggregate formulas (research §2.6).

- ``simple_recall`` (main): mean over the matching-events bins (0, 1, 2, 3-5, 6+) of the mean lenient
  F1 of "all" questions. Each question weighs 1 / (questions in its bin), so the ratio is the mean of
  the bin means. With books of several sizes in one run the cells are (book size, bin): the value is
  then the mean over sizes and bins, and the breakdown by ``book_chapters`` gives each size's own
  Simple Recall exactly as upstream computes it for one book size;
- ``f1`` / ``f1_harsh``: plain mean F1 of "all" questions (broken down by bin and cue in reports);
- ``hallucination_rate``: share of 0-bin questions (every kind) whose answer states any item, i.e.
  1 - F1 on the bin upstream uses as its hallucination check;
- ``latest``: count-weighted mean lenient F1 of "latest" questions in bins 2, 3-5 and 6+;
- ``exact_set``: share of chronological questions with two or more items whose answer states every
  ground-truth item (items matching none dropped first, as upstream's ``compute_kendall_summarise``
  does); ``kendall_tau``: mean tau over those; ``exact_set_tau`` = ExactSet x tau (Σtau over
  exact answers / all such questions);
- ``chronological_awareness`` = (latest + max(0, exact_set_tau)) / 2, upstream's formula.

A record that errored contributes den 0 with ``error=True`` to the metrics it would have fed, so
reports count what each metric lost and no failure is scored as a wrong answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from membench.core.task import Contribution, MetricSpec
from membench.core.types import IngestRecord, Record

LATEST_BINS = frozenset({"2", "3-5", "6+"})


def _awareness(values: Mapping[str, float]) -> float:
    return 0.5 * (values["latest"] + max(0.0, values["exact_set_tau"]))


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("simple_recall", "Simple Recall", main=True, group="recall",
               note="mean over matching-events bins of mean lenient F1 ('all' questions)"),
    MetricSpec("f1", "F1 (all questions)", group="recall", note="lenient F1, plain mean over questions"),
    MetricSpec("f1_harsh", "F1 harsh", group="recall", note="F1 without upstream's cap on predicted items"),
    MetricSpec("hallucination_rate", "Hallucination rate", better="lower", group="recall",
               note="0-match questions whose answer states any item"),
    MetricSpec("latest", "Latest state", group="chronological", note="lenient F1, bins 2 and up"),
    MetricSpec("exact_set", "Exact set", group="chronological",
               note="chronological questions (2+ items) whose answer states every item; extras dropped"),
    MetricSpec("kendall_tau", "Kendall tau", group="chronological", scale=1.0, unit="",
               note="mean tau over exact-set answers"),
    MetricSpec("exact_set_tau", "Exact set x tau", group="chronological", scale=1.0, unit=""),
    MetricSpec("chronological_awareness", "Chronological Awareness", group="chronological",
               inputs=("latest", "exact_set_tau"), derive=_awareness, bounds=(0.0, 1.0),
               note="(latest + max(0, exact set x tau)) / 2, as published"),
)  # fmt: skip


def episodic_contributions(records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
    """Every episodic metric contribution of one run (ingest timings are not an episodic metric)."""
    cells = Counter(
        (r.labels.get("book_chapters", ""), r.labels.get("bin", ""))
        for r in records
        if r.kind == "recall" and r.status == "scored"
    )
    out: list[Contribution] = []
    for record in records:
        out.extend(_of_record(record, cells))
    return out


def _of_record(record: Record, cells: Counter[tuple[str, str]]) -> list[Contribution]:
    labels = record.labels
    failed = record.status == "error" or record.score is None
    values = {} if failed or record.score is None else record.score.values

    def one(metric: str, num: float = 0.0, den: float = 1.0) -> Contribution:
        if failed:
            return Contribution(metric, record.episode_id, record.probe_id, 0.0, 0.0, labels, error=True)
        return Contribution(metric, record.episode_id, record.probe_id, num, den, labels)

    out: list[Contribution] = []
    bin_ = labels.get("bin", "")
    if bin_ == "0":
        out.append(one("hallucination_rate", float(values.get("n_pred", 0.0) > 0)))
    if record.kind == "recall":
        f1 = values.get("f1", 0.0)
        out += [one("f1", f1), one("f1_harsh", values.get("f1_harsh", 0.0))]
        weight = 1.0 / cells[(labels.get("book_chapters", ""), bin_)] if not failed else 0.0
        out.append(one("simple_recall", f1 * weight, weight))
    elif record.kind == "latest" and bin_ in LATEST_BINS:
        out.append(one("latest", values.get("f1", 0.0)))
    elif record.kind == "chronological" and ("exact_set" in values or (failed and bin_ in LATEST_BINS)):
        exact = values.get("exact_set", 0.0)
        tau = values.get("tau", 0.0)
        out += [one("exact_set", exact), one("exact_set_tau", tau * exact)]
        if exact or failed:
            out.append(one("kendall_tau", tau))
    return out
