"""WorM's metrics as contributions.

- ``score`` (main): each question's value in [0, 1]: right or wrong for yes/no and n-way answers, the
  share of steps (VSR, STS) or boxes (SMU) right, the F1 of the recalled set (SFR: proper set recall
  over the targets, not the original trainer's per-cell accuracy over 100 cells, which true negatives
  inflate).
- ``position_accuracy``: right or wrong at one serial position, labelled ``serial_position``: a
  VSRec or VIR question (one position each), each step of a VSR answer, each target of an SFR trial
  (recalled or not). Its curves show primacy and recency.
- ``set_recall`` and ``set_precision``: SFR's two halves of F1.
- ``invalid``: the share of answers the variant could not parse (scored 0, never dropped).

Every contribution carries the probe's labels (variant and factor levels), so every curve and
breakdown is a selection of these rows. A record that errored contributes den 0 with ``error=True``.
"""

from __future__ import annotations

from membench.core.task import Contribution, MetricSpec
from membench.core.types import IngestRecord, Record

#: variants whose answer steps are serial positions of the studied list (STS's steps are frames).
SERIAL_STEPS = frozenset({"vsr"})

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("score", "Score (accuracy; F1 for SFR)", main=True, group="answers",
               note="per question: right/wrong, share of steps or boxes right, or set F1"),
    MetricSpec("position_accuracy", "Accuracy at a serial position", group="answers",
               note="one studied position: a VSRec/VIR question, a VSR step, an SFR target"),
    MetricSpec("set_recall", "Set recall (SFR)", group="answers", note="targets recalled / targets"),
    MetricSpec("set_precision", "Set precision (SFR)", group="answers",
               note="targets among the cells answered / cells answered"),
    MetricSpec("invalid", "Invalid answers", better="lower", group="answers",
               note="share of answers the variant could not parse"),
)  # fmt: skip

_AGGREGATED = tuple(spec.name for spec in METRICS)


def worm_contributions(records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
    """Every WorM metric contribution of one run (ingest timings are not a WorM metric)."""
    out: list[Contribution] = []
    for record in records:
        labels = {k: v for k, v in record.labels.items() if not k.startswith("_")}
        if record.status == "error" or record.score is None:
            out.extend(
                Contribution(name, record.episode_id, record.probe_id, 0.0, 0.0, labels, True)
                for name in _AGGREGATED
            )
            continue
        values = record.score.values
        out.append(Contribution("score", record.episode_id, record.probe_id, values["score"], 1.0, labels))
        out.append(
            Contribution(
                "invalid", record.episode_id, record.probe_id, values.get("invalid", 0.0), 1.0, labels
            )
        )
        if record.kind == "set":
            for metric, key in (("set_recall", "recall"), ("set_precision", "precision")):
                if key in values:
                    out.append(
                        Contribution(metric, record.episode_id, record.probe_id, values[key], 1.0, labels)
                    )
        out.extend(_positions(record, labels))
    return out


def _positions(record: Record, labels: dict[str, str]) -> list[Contribution]:
    """``position_accuracy`` rows of one scored record, one per serial position it covers."""
    assert record.score is not None
    values = record.score.values
    if "serial_position" in labels:
        return [
            Contribution(
                "position_accuracy", record.episode_id, record.probe_id, values["score"], 1.0, labels
            )
        ]
    prefix = "pos_" if record.kind == "set" else "step_" if labels.get("variant") in SERIAL_STEPS else None
    if prefix is None:
        return []
    rows = []
    for key, value in values.items():
        if key.startswith(prefix) and key[len(prefix) :].isdigit():
            position = key[len(prefix) :]
            rows.append(
                Contribution(
                    "position_accuracy",
                    record.episode_id,
                    f"{record.probe_id}#p{position}",
                    value,
                    1.0,
                    {**labels, "serial_position": position},
                )
            )
    return rows
