"""HaluMem's metrics as contributions (Σnum / Σden), each in a "(valid)" and an "(all)" variant.

The formulas are the paper's and the official scorer's (research notes §2.4):

- routing: a gold update point whose update probe retrieved something is scored by its update
  verdict (update bucket); every other gold point, distractors included, by its integrity verdict
  g (integrity bucket). The extraction records carry g for every point, so routing reads the
  update records of the same episode;
- recall = #{true integrity points with g = 2} / #{true integrity points};
  weighted_recall = Σ w·g/2 / Σ w (w = importance; a true point without one weighs 1);
- memory_accuracy = Σ a/2 / N_extracted; target_precision = Σ a/2 / |M_T| over memories judged
  ``included``; extraction_f1 = 2RP / (R + P) from recall and target_precision (0 when both are 0);
- fmr = #{distractors with g = 0} / #{distractors} (read it beside recall);
- update_<label> = #label / #update-bucket items; qa_<label> = #label / #questions;
- type_accuracy (per memory type) = (#true integrity points with g = 2 + #correct updates) /
  (#true integrity points + #update-bucket items), one shared denominator as in the paper;
- evidence_recall, evidence_hit, evidence_mrr (membench's, not the paper's): the shared retrieval
  metrics (``core.retrieval``) of each question's top-20 memories against the sessions its evidence
  points come from (the loader places them). Questions without evidence (most Memory Boundary ones)
  have none. Update probes have none either: their query is the update point's own content, and
  their update verdict already scores what they retrieved.

"(valid)" (``<name>``, the membench default) leaves failed verdicts out: they contribute den 0 with
``error=True`` so reports can count them. "(all)" (``<name>_all``, what the paper prints) follows the
official scorer (``eval/evaluation.py``): a failed verdict counts as 0 over the denominator it would
have had. A failed verdict is a whole record that errored (``record.status``) or one element of an
extraction score whose ``g``/``a`` is None. In particular:

- a failed accuracy verdict counts in memory_accuracy_all (N_extracted) but not in |M_T|: whether the
  memory is about a gold point is part of the verdict that failed, and the official scorer reads a
  failed verdict as "not included", so target_precision_all equals target_precision;
- a whole extraction record that failed stands for every element it would have held: each gold
  point of the session (listed in the probe's ``gold_points`` label, routed and weighted like a
  scored one) and each memory in its prediction, all failed. When the system itself failed there is
  no prediction, and how many memories it would have given is unknown: it adds a flagged, weightless
  item to memory accuracy and target precision (the official adapters drop such a user entirely);
- an update probe whose retrieval itself failed counts as a failed update item: whether it
  retrieved anything is unknown, and its failure should show where the probe is.

Systems without session memories have no extraction records, so their extraction metrics have no
contributions at all: N/A, never 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from membench.core.records import latest_ingests
from membench.core.retrieval import RETRIEVAL_METRICS, probe_evidence, retrieval_contributions
from membench.core.task import Better, Contribution, MetricSpec
from membench.core.types import IngestRecord, Record
from membench_tasks.halumem.judge_base import (
    QA_LABELS,
    UPDATE_LABELS,
    Detail,
    Point,
    memory_detail,
    point_detail,
)

#: the extraction probe's label that lists its gold points (see ``gold_points_label``).
GOLD_POINTS_LABEL = "_gold_points"  # "_": data for the metrics, not a category (core.types.shown_labels)
_WHOLE_RECORD_FAILED = "the extraction record failed as a whole"


def _f1(values: Mapping[str, float], recall: str, precision: str) -> float:
    r, p = values[recall], values[precision]
    return 2 * r * p / (r + p) if r + p > 0 else 0.0


#: how the run summary heads and explains the column of the paper-style "(all)" variants.
_ALL_LABEL = "(all)"
_ALL_LEGEND = "the paper's denominators, errors counted as 0"


def _both(
    name: str, display: str, group: str, note: str = "", better: Better = "higher", main: bool = False
) -> tuple[MetricSpec, MetricSpec]:
    """A metric in its "(valid)" variant and its paper "(all)" variant (never the main one)."""
    all_note = "the paper's (all) denominators: failed verdicts count as 0" + (f"; {note}" if note else "")
    return (
        MetricSpec(name, display, better, main, group, note=note),
        MetricSpec(
            f"{name}_all",
            f"{display} (all)",
            better,
            False,
            group,
            note=all_note,
            variant_of=name,
            variant_label=_ALL_LABEL,
            variant_legend=_ALL_LEGEND,
        ),
    )


def _f1_specs() -> tuple[MetricSpec, MetricSpec]:
    def valid(values: Mapping[str, float]) -> float:
        return _f1(values, "recall", "target_precision")

    def every(values: Mapping[str, float]) -> float:
        return _f1(values, "recall_all", "target_precision_all")

    note = "2RP/(R+P) from recall and target precision (not weighted recall, not memory accuracy)"
    return (
        MetricSpec(
            "extraction_f1", "Extraction F1", group="extraction", inputs=("recall", "target_precision"),
            derive=valid, note=note, bounds=(0.0, 1.0),
        ),
        MetricSpec(
            "extraction_f1_all", "Extraction F1 (all)", group="extraction",
            inputs=("recall_all", "target_precision_all"), derive=every, note=f"{note}; the paper's F1",
            bounds=(0.0, 1.0), variant_of="extraction_f1", variant_label=_ALL_LABEL,
            variant_legend=_ALL_LEGEND,
        ),
    )  # fmt: skip


_EXTRACTION = "extraction"
_ONLY_RETRIEVED = "only update points whose probe retrieved something are scored here"

METRICS: tuple[MetricSpec, ...] = (
    *_both("recall", "Recall", _EXTRACTION, "fully covered true points (g = 2); partial earns 0"),
    *_both("weighted_recall", "Weighted recall", _EXTRACTION, "importance-weighted; partial earns half"),
    *_both("target_precision", "Target precision", _EXTRACTION, "read beside target_memories"),
    *_both("memory_accuracy", "Memory accuracy", _EXTRACTION, "read beside extracted_memories"),
    *_both("fmr", "FMR", _EXTRACTION, "read beside recall: extracting nothing scores 100%"),
    *_f1_specs(),
    *_both("type_accuracy", "Type accuracy", _EXTRACTION, "full integrity hits plus correct updates"),
    MetricSpec(
        "extracted_memories", "Extracted memories", "descriptive", group=_EXTRACTION, aggregate="sum",
        scale=1.0, unit="",
        note="N_extracted: a count, not a score",
    ),
    MetricSpec(
        "target_memories", "Target memories", "descriptive", group=_EXTRACTION, aggregate="sum",
        scale=1.0, unit="",
        note="|M_T|: extracted memories judged to be about a gold point; a count, not a score",
    ),
    *_both("update_correct", "Update correct", "update", _ONLY_RETRIEVED),
    *_both("update_hallucination", "Update hallucination", "update", _ONLY_RETRIEVED, better="lower"),
    *_both("update_omission", "Update omission", "update", _ONLY_RETRIEVED, better="lower"),
    *_both("update_other", "Update other", "update", _ONLY_RETRIEVED, better="lower"),
    *_both("qa_correct", "QA correct", "qa", main=True),
    *_both("qa_hallucination", "QA hallucination", "qa", better="lower"),
    *_both("qa_omission", "QA omission", "qa", better="lower"),
    *RETRIEVAL_METRICS,
    MetricSpec(
        "add_time_s", "Add time per session", better="lower", group="efficiency", scale=1.0, unit="s",
        note="mean seconds per ingested session, noise sessions included (the paper sums minutes)",
    ),
    MetricSpec(
        "search_time_s", "Search time per question", better="lower", group="efficiency", scale=1.0,
        unit="s", note="mean retrieval latency of QA probes",
    ),
)  # fmt: skip


def halumem_contributions(records: list[Record], ingests: list[IngestRecord]) -> list[Contribution]:
    """Every HaluMem metric contribution of one run."""
    scored_as_update = _update_bucket(records)
    out: list[Contribution] = []
    for record in records:
        if record.kind == "extraction":
            out.extend(_extraction(record, scored_as_update))
        elif record.kind == "update" and _point_of_update_probe(record.probe_id) in scored_as_update:
            out.extend(_update(record))
        elif record.kind == "qa":
            out.extend(_qa(record))
    out.extend(_add_time(ingests))
    return out


def _point_of_update_probe(probe_id: str) -> str:
    """The point id an update probe is about: "<uuid>:s<i>:update:<n>" -> "<uuid>:s<i>:m<n>"."""
    session, _, index = probe_id.rpartition(":update:")
    return f"{session}:m{index}"


def _update_bucket(records: Iterable[Record]) -> set[str]:
    """Point ids scored as updates: their probe retrieved something (or its retrieval failed)."""
    return {
        _point_of_update_probe(record.probe_id)
        for record in records
        if record.kind == "update" and (record.prediction is None or record.prediction.memories)
    }


def _pair(
    metric: str, record: Record, num: float, den: float, failed: bool, labels: Mapping[str, str] | None = None
) -> list[Contribution]:
    """The "(valid)" and "(all)" contributions of one item."""
    labels = dict(labels or {})
    if failed:
        return [
            Contribution(metric, record.episode_id, record.probe_id, 0.0, 0.0, labels, error=True),
            Contribution(f"{metric}_all", record.episode_id, record.probe_id, 0.0, den, labels, error=True),
        ]
    return [
        Contribution(metric, record.episode_id, record.probe_id, num, den, labels),
        Contribution(f"{metric}_all", record.episode_id, record.probe_id, num, den, labels),
    ]


def _count(metric: str, record: Record, n: float) -> Contribution:
    return Contribution(metric, record.episode_id, record.probe_id, n, 0.0)


def gold_points_label(points: list[Point]) -> dict[str, str]:
    """The extraction probe's labels: its gold points as compact JSON, so a failed record keeps them.

    A record holds its probe's labels but not its gold; this is what ``_failed_details`` needs to
    count a failed extraction record as the points it would have scored: one
    ``[index, memory_type, importance, is_distractor, is_update]`` per point.
    """
    rows = [
        [p["index"], p["memory_type"], p["importance"], p["is_distractor"], p["is_update"]] for p in points
    ]
    return {GOLD_POINTS_LABEL: json.dumps(rows, separators=(",", ":"))}


def _failed_details(record: Record) -> list[Detail]:
    """The element verdicts a wholly failed extraction record stands for, every one of them failed."""
    session = record.probe_id.removesuffix(":extraction")
    rows: list[list[Any]] = json.loads(record.labels.get(GOLD_POINTS_LABEL, "[]"))
    points = [
        {
            "point_id": f"{session}:m{index}",
            "memory_type": memory_type,
            "importance": importance,
            "is_distractor": is_distractor,
            "is_update": is_update,
        }
        for index, memory_type, importance, is_distractor, is_update in rows
    ]
    memories = record.prediction.memories if record.prediction is not None else []
    return [
        *(point_detail(point, None, error=_WHOLE_RECORD_FAILED) for point in points),
        *(
            memory_detail(position, None, None, error=_WHOLE_RECORD_FAILED)
            for position in range(len(memories))
        ),
    ]


def _extraction(record: Record, scored_as_update: set[str]) -> list[Contribution]:
    out: list[Contribution] = []
    if record.prediction is not None:
        out.append(_count("extracted_memories", record, len(record.prediction.memories)))
    if record.status == "scored" and record.score is not None:
        details = record.score.details
    else:
        details = _failed_details(record)
        if record.prediction is None:  # the system failed: how many memories it held is unknown
            out.extend(_pair("memory_accuracy", record, 0.0, 0.0, failed=True))
            out.extend(_pair("target_precision", record, 0.0, 0.0, failed=True))
    for detail in details:
        if detail.get("element") == "point" and detail["point_id"] not in scored_as_update:
            out.extend(_integrity_point(record, detail))
        elif detail.get("element") == "memory":
            out.extend(_extracted_memory(record, detail))
    return out


def _integrity_point(record: Record, detail: Mapping[str, object]) -> list[Contribution]:
    g = detail["g"]
    failed = not isinstance(g, int)
    g_value = float(g) if isinstance(g, int) else 0.0
    if detail["is_distractor"]:
        return _pair("fmr", record, float(g_value == 0), 1.0, failed)
    importance = detail.get("importance")
    weight = float(importance) if isinstance(importance, (int, float)) else 1.0
    full = float(g_value == 2)
    return [
        *_pair("recall", record, full, 1.0, failed),
        *_pair("weighted_recall", record, weight * g_value / 2, weight, failed),
        *_pair("type_accuracy", record, full, 1.0, failed, {"memory_type": str(detail["memory_type"])}),
    ]


def _extracted_memory(record: Record, detail: Mapping[str, object]) -> list[Contribution]:
    a = detail["a"]
    if not isinstance(a, int):
        # A failed verdict never said "included": it weighs in N_extracted, not in |M_T| (as officially).
        return [
            *_pair("memory_accuracy", record, 0.0, 1.0, failed=True),
            *_pair("target_precision", record, 0.0, 0.0, failed=True),
        ]
    out = _pair("memory_accuracy", record, a / 2, 1.0, failed=False)
    if detail["included"]:
        out.extend(_pair("target_precision", record, a / 2, 1.0, failed=False))
        out.append(_count("target_memories", record, 1.0))
    return out


def _update(record: Record) -> list[Contribution]:
    label = record.score.label if record.score is not None else None
    failed = record.status == "error" or label not in UPDATE_LABELS
    out: list[Contribution] = []
    for name in UPDATE_LABELS:
        out.extend(_pair(f"update_{name}", record, float(label == name), 1.0, failed))
    memory_type = {key: record.labels[key] for key in ("memory_type",) if key in record.labels}
    out.extend(_pair("type_accuracy", record, float(label == "correct"), 1.0, failed, memory_type))
    return out


def _qa(record: Record) -> list[Contribution]:
    label = record.score.label if record.score is not None else None
    failed = record.status == "error" or label not in QA_LABELS
    question_type = {key: record.labels[key] for key in ("question_type",) if key in record.labels}
    out: list[Contribution] = []
    for name in QA_LABELS:
        out.extend(_pair(f"qa_{name}", record, float(label == name), 1.0, failed, question_type))
    latency = record.prediction.latency_s.get("retrieve") if record.prediction is not None else None
    if latency is not None:
        out.append(Contribution("search_time_s", record.episode_id, record.probe_id, latency, 1.0))
    out.extend(retrieval_contributions(record, probe_evidence(record.labels)))
    return out


def _add_time(ingests: Iterable[IngestRecord]) -> list[Contribution]:
    """Mean add time per session; a session ingested twice (a resumed episode) counts its last ingest."""
    return [
        Contribution(
            "add_time_s",
            ingest.episode_id,
            ingest.session_id,
            ingest.latency_s if ingest.ok else 0.0,
            1.0 if ingest.ok else 0.0,
            error=not ingest.ok,
        )
        for ingest in latest_ingests(list(ingests))
    ]
