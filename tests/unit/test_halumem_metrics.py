"""HaluMem metric formulas, checked against numbers computed by hand from small records.

The fixture: two episodes (users A and B).

Episode A, session 0 (extraction scored; 4 memories):
    m1 Persona, w 1.0,  g 2           integrity
    m2 Event,   w 0.5,  g 1 (partial) integrity
    m3 distractor, g 0                resisted
    m4 Persona update, w .75, g 2     its probe retrieved something -> update bucket (label correct)
    m5 Event update, w .25, g 0       its probe retrieved nothing -> integrity
    m6 Event, no importance (w 1), g 2 integrity
    memories: a 2 incl, a 1 incl, a 2 not incl, a 0 not incl
Episode A, session 1 (extraction scored; 2 memories):
    m1 Relationship, w .75, g failed   integrity, errored element
    m2 distractor, g 1                 not resisted
    m3 Event update, g 1               update bucket (label hallucination)
    memories: a failed, a 2 incl
Episode B, session 0: extraction record failed as a whole (its prediction has 3 memories); its
    probe's gold_points label lists
    m1 Persona, w 1.0                  integrity, failed
    m2 Event update, w 1.0             update bucket (its probe failed in retrieval)
    m3 distractor, m5 distractor       failed
    m4 Relationship, w .5              integrity, failed
    m7 Relationship update, w .5       update bucket (its probe retrieved something)
    update :update:2 failed in retrieval (no prediction; Event) -> update bucket, error;
    update :update:7 retrieved something, label other (Relationship).
QA: A:s0:qa:0 BFR correct (0.2 s), A:s0:qa:1 Boundary hallucination (0.4 s),
    A:s1:qa:0 BFR reader error (0.6 s), B:s0:qa:0 Boundary omission (0.3 s),
    B:s0:qa:1 Multi-hop judge error (0.5 s).
Retrieval (the Boundary questions have no evidence):
    A:s0:qa:0 evidence sessions A:s0, A:s1; retrieved A:s9, A:s9, A:s1: recall 1/2, rank 3
    A:s1:qa:0 evidence A:s0; retrieved A:s7, A:s0 (the reader failed later): recall 1, rank 2
    B:s0:qa:1 two points of B:s0; retrieved without provenance "The weather is nice today", then
        one point's text: matched by text, recall 1/2, rank 2
Ingests: A s0 10 s then re-ingested 14 s (last counts), A s1 20 s, B s0 6 s, B s1 failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from membench.core.retrieval import EVIDENCE_LABEL, MATCH_LABEL, Evidence, evidence_label
from membench.core.task import Contribution
from membench.core.types import ErrorInfo, IngestRecord, Memory, Prediction, Record, Score
from membench_tasks.halumem.metrics import METRICS, gold_points_label, halumem_contributions

SPECS = {spec.name: spec for spec in METRICS}
BFR, BOUNDARY, MULTI_HOP = "Basic Fact Recall", "Memory Boundary", "Multi-hop Inference"
PERSONA, EVENT, RELATIONSHIP = "Persona Memory", "Event Memory", "Relationship Memory"


def record(
    probe_id: str,
    kind: str,
    score: Score | None = None,
    prediction: Prediction | None = None,
    error: ErrorInfo | None = None,
    labels: Mapping[str, str] | None = None,
) -> Record:
    return Record(
        run_id="run",
        task="halumem",
        task_version="1",
        system="sys",
        episode_id=probe_id.split(":")[0],
        probe_id=probe_id,
        after_session=int(probe_id.split(":")[1][1:]),
        kind=kind,
        labels=dict(labels or {}),
        input_hash="h",
        prediction=prediction,
        score=score,
        error=error,
        completed_at="2026-01-01T00:00:00Z",
    )


def memories(n: int) -> Prediction:
    return Prediction(memories=[Memory(text=f"memory {i}") for i in range(n)])


def point(
    point_id: str, memory_type: str, g: int | None, *, importance: float | None = None, **flags: Any
) -> dict:
    detail = {
        "element": "point",
        "point_id": point_id,
        "memory_type": memory_type,
        "is_distractor": flags.get("distractor", False),
        "is_update": flags.get("update", False),
        "importance": importance,
        "g": g,
    }
    if g is None:
        detail["error"] = "judge call failed"
    return detail


def memory(position: int, a: int | None, included: bool | None) -> dict:
    detail = {"element": "memory", "position": position, "a": a, "included": included}
    if a is None:
        detail["error"] = "unusable judge reply"
    return detail


def extraction(probe_id: str, details: list[dict], n_memories: int) -> Record:
    return record(probe_id, "extraction", Score(judge="rule", details=details), memories(n_memories))


def gold(index: int, memory_type: str, importance: float | None, distractor: bool = False) -> dict:
    """A gold point as the loader parses it, for an extraction probe's ``gold_points`` label."""
    return {
        "index": index,
        "memory_type": memory_type,
        "importance": importance,
        "is_distractor": distractor,
        "is_update": False,
    }


def update(probe_id: str, label: str, retrieved: int, memory_type: str) -> Record:
    return record(
        probe_id,
        "update",
        Score(judge="rule", label=label),
        memories(retrieved),
        labels={"memory_type": memory_type},
    )


def qa(probe_id: str, label: str | None, question_type: str, latency: float, **kwargs: Any) -> Record:
    score = kwargs.pop("score", Score(judge="rule", label=label))
    evidence: list[Evidence] = kwargs.pop("evidence", [])
    prediction = Prediction(answer="x", memories=kwargs.pop("retrieved", []), latency_s={"retrieve": latency})
    labels = {"question_type": question_type, "difficulty": "easy"}
    if evidence:
        labels[EVIDENCE_LABEL] = evidence_label(evidence)
    return record(probe_id, "qa", score, prediction, labels=labels, **kwargs)


def from_session(*sessions: str) -> list[Memory]:
    return [Memory(text="a stored turn", session_id=session) for session in sessions]


BEAGLE = "Bob adopted a beagle named Biscuit"


def ingest(episode: str, index: int, latency: float, ok: bool = True) -> IngestRecord:
    return IngestRecord(
        run_id="run",
        episode_id=episode,
        session_index=index,
        session_id=f"{episode}:s{index}",
        latency_s=latency,
        ok=ok,
        error=None if ok else ErrorInfo(stage="ingest", type="Boom", message="failed"),
        completed_at="2026-01-01T00:00:00Z",
    )


RECORDS = [
    extraction(
        "A:s0:extraction",
        [
            point("A:s0:m1", PERSONA, 2, importance=1.0),
            point("A:s0:m2", EVENT, 1, importance=0.5),
            point("A:s0:m3", RELATIONSHIP, 0, distractor=True),
            point("A:s0:m4", PERSONA, 2, importance=0.75, update=True),
            point("A:s0:m5", EVENT, 0, importance=0.25, update=True),
            point("A:s0:m6", EVENT, 2),
            memory(0, 2, True),
            memory(1, 1, True),
            memory(2, 2, False),
            memory(3, 0, False),
        ],
        n_memories=4,
    ),
    update("A:s0:update:4", "correct", retrieved=3, memory_type=PERSONA),
    update("A:s0:update:5", "omission", retrieved=0, memory_type=EVENT),
    qa(
        "A:s0:qa:0",
        "correct",
        BFR,
        0.2,
        evidence=[Evidence("A:s0", None, "Ann lives in Porto"), Evidence("A:s1", None, "Ann is a nurse")],
        retrieved=from_session("A:s9", "A:s9", "A:s1"),
    ),
    qa("A:s0:qa:1", "hallucination", BOUNDARY, 0.4),
    extraction(
        "A:s1:extraction",
        [
            point("A:s1:m1", RELATIONSHIP, None, importance=0.75),
            point("A:s1:m2", PERSONA, 1, distractor=True),
            point("A:s1:m3", EVENT, 1, importance=1.0, update=True),
            memory(0, None, None),
            memory(1, 2, True),
        ],
        n_memories=2,
    ),
    update("A:s1:update:3", "hallucination", retrieved=10, memory_type=EVENT),
    qa(
        "A:s1:qa:0",
        None,
        BFR,
        0.6,
        score=None,
        error=ErrorInfo(stage="reader", type="LLMError", message="x"),
        evidence=[Evidence("A:s0", None, "Ann lives in Porto")],
        retrieved=from_session("A:s7", "A:s0"),
    ),
    record(
        "B:s0:extraction",
        "extraction",
        Score(judge="llm", status="error", explanation="crashed"),
        memories(3),
        labels=gold_points_label(
            [
                gold(1, PERSONA, 1.0),
                gold(2, EVENT, 1.0),
                gold(3, PERSONA, None, distractor=True),
                gold(4, RELATIONSHIP, 0.5),
                gold(5, EVENT, None, distractor=True),
                gold(7, RELATIONSHIP, 0.5),
            ]
        ),
    ),
    record(
        "B:s0:update:2",
        "update",
        error=ErrorInfo(stage="system", type="TimeoutError", message="retrieve timed out"),
        labels={"memory_type": EVENT},
    ),
    update("B:s0:update:7", "other", retrieved=2, memory_type=RELATIONSHIP),
    qa("B:s0:qa:0", "omission", BOUNDARY, 0.3),
    qa(
        "B:s0:qa:1",
        None,
        MULTI_HOP,
        0.5,
        score=Score(judge="llm", status="error"),
        evidence=[Evidence("B:s0", None, BEAGLE), Evidence("B:s0", None, "Bob moved to Lisbon in March")],
        retrieved=[Memory(text="The weather is nice today"), Memory(text=BEAGLE)],
    ),
]
INGESTS = [
    ingest("A", 0, 10.0),
    ingest("A", 1, 20.0),
    ingest("A", 0, 14.0),
    ingest("B", 0, 6.0),
    ingest("B", 1, 3.0, False),
]


def value(contributions: list[Contribution], metric: str, **labels: str) -> float | None:
    """Aggregate like the statistics layer: Σnum/Σden (None when Σden = 0), Σnum for sums, derive."""
    spec = SPECS[metric]
    if spec.derive is not None:
        inputs = {name: value(contributions, name, **labels) for name in spec.inputs}
        if any(v is None for v in inputs.values()):
            return None
        return spec.derive({name: float(v) for name, v in inputs.items() if v is not None})
    chosen = [
        c
        for c in contributions
        if c.metric == metric and all(c.labels.get(k) == v for k, v in labels.items())
    ]
    if spec.aggregate == "sum":
        return sum(c.num for c in chosen)
    den = sum(c.den for c in chosen)
    return None if den == 0 else sum(c.num for c in chosen) / den


@pytest.fixture(scope="module")
def contributions() -> list[Contribution]:
    return halumem_contributions(RECORDS, INGESTS)


EXPECTED = {
    # integrity true points: A0 m1 (g2, w1), m2 (g1, w.5), m5 (g0, w.25: empty probe), m6 (g2, w1 default);
    # (all) adds A1 m1 (failed, w.75) and B's failed record's integrity points m1 (w1) and m4 (w.5):
    # its m2 and m7 are in the update bucket, as they would be had it been scored.
    "recall": 2 / 4,
    "recall_all": 2 / 7,
    "weighted_recall": (1 + 0.5 * 0.5 + 0 + 1) / (1 + 0.5 + 0.25 + 1),  # 2.25 / 2.75
    "weighted_recall_all": 2.25 / (2.75 + 0.75 + 1 + 0.5),
    # distractors: A0 m3 g0 (resisted), A1 m2 g1; (all) adds B's two failed distractors.
    "fmr": 1 / 2,
    "fmr_all": 1 / 4,
    # memories: A0 a/2 = 1, .5, 1, 0; A1 (failed), 1; (all) adds A1's failed one and B's three.
    "memory_accuracy": 3.5 / 5,
    "memory_accuracy_all": 3.5 / 9,
    # included: A0 pos0 (1), pos1 (.5), A1 pos1 (1). A failed verdict never said "included", so the
    # official scorer leaves it out of |M_T| and (all) equals (valid).
    "target_precision": 2.5 / 3,
    "target_precision_all": 2.5 / 3,
    "extraction_f1": 2 * 0.5 * (2.5 / 3) / (0.5 + 2.5 / 3),  # 5/8
    "extraction_f1_all": 2 * (2 / 7) * (2.5 / 3) / (2 / 7 + 2.5 / 3),  # 20/47
    "extracted_memories": 4 + 2 + 3,
    "target_memories": 3,
    # update bucket: A0 u4 correct, A1 u3 hallucination, B u7 other; (all) adds B u2 (retrieval failed).
    # A0 u5 retrieved nothing: its "omission" must not count.
    "update_correct": 1 / 3,
    "update_correct_all": 1 / 4,
    "update_hallucination": 1 / 3,
    "update_hallucination_all": 1 / 4,
    "update_omission": 0 / 3,
    "update_omission_all": 0 / 4,
    "update_other": 1 / 3,
    "update_other_all": 1 / 4,
    # type accuracy: Persona m1 g2 + u4 correct; Event m2, m5, m6 (one g2) + u3; Relationship u7 other;
    # (all) adds the failed A1 m1 (Relationship), the failed B u2 (Event), and B's failed record's
    # m1 (Persona) and m4 (Relationship).
    "type_accuracy": 3 / 7,
    "type_accuracy_all": 3 / 11,
    # QA: correct, hallucination, omission scored; two failed.
    "qa_correct": 1 / 3,
    "qa_correct_all": 1 / 5,
    "qa_hallucination": 1 / 3,
    "qa_hallucination_all": 1 / 5,
    "qa_omission": 1 / 3,
    "qa_omission_all": 1 / 5,
    "search_time_s": (0.2 + 0.4 + 0.6 + 0.3 + 0.5) / 5,
    # retrieval: per question, averaged over the three with evidence, judge and reader failures included
    "evidence_recall": (1 / 2 + 1 + 1 / 2) / 3,
    "evidence_hit": 3 / 3,
    "evidence_mrr": (1 / 3 + 1 / 2 + 1 / 2) / 3,
    "add_time_s": (14 + 20 + 6) / 3,
}


def test_every_metric_is_checked_by_hand() -> None:
    assert set(EXPECTED) == set(SPECS)


@pytest.mark.parametrize("metric", sorted(EXPECTED))
def test_metric_matches_hand_computation(contributions: list[Contribution], metric: str) -> None:
    assert value(contributions, metric) == pytest.approx(EXPECTED[metric])


@pytest.mark.parametrize(
    ("metric", "memory_type", "expected"),
    [
        ("type_accuracy", PERSONA, 2 / 2),
        ("type_accuracy_all", PERSONA, 2 / 3),
        ("type_accuracy", EVENT, 1 / 4),
        ("type_accuracy_all", EVENT, 1 / 5),
        ("type_accuracy", RELATIONSHIP, 0 / 1),  # the failed point is left out, the "other" update scores 0
        ("type_accuracy_all", RELATIONSHIP, 0 / 3),
    ],
)
def test_type_accuracy_by_memory_type(
    contributions: list[Contribution], metric: str, memory_type: str, expected: float
) -> None:
    assert value(contributions, metric, memory_type=memory_type) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("metric", "question_type", "expected"),
    [
        ("qa_correct", BFR, 1 / 1),
        ("qa_correct_all", BFR, 1 / 2),
        ("qa_hallucination", BOUNDARY, 1 / 2),
        ("qa_omission", BOUNDARY, 1 / 2),
        ("qa_correct", BOUNDARY, 0 / 2),
        ("qa_correct", MULTI_HOP, None),
        ("qa_correct_all", MULTI_HOP, 0 / 1),
    ],
)
def test_qa_breaks_down_by_question_type(
    contributions: list[Contribution], metric: str, question_type: str, expected: float | None
) -> None:
    assert value(contributions, metric, question_type=question_type) == expected


def test_failed_items_are_flagged_and_weigh_nothing_in_valid_metrics(
    contributions: list[Contribution],
) -> None:
    failed_recall = [c for c in contributions if c.metric == "recall" and c.error]
    assert sorted(c.probe_id for c in failed_recall) == ["A:s1:extraction", *["B:s0:extraction"] * 2]
    assert all(c.den == 0 and c.num == 0 for c in failed_recall)
    failed_qa = [c.probe_id for c in contributions if c.metric == "qa_correct" and c.error]
    assert sorted(failed_qa) == ["A:s1:qa:0", "B:s0:qa:1"]
    assert [c.probe_id for c in contributions if c.metric == "add_time_s" and c.error] == ["B:s1"]


def test_retrieval_counts_questions_with_evidence_and_says_how_they_matched(
    contributions: list[Contribution],
) -> None:
    recall = {
        c.probe_id: (c.num, c.den, c.labels[MATCH_LABEL])
        for c in contributions
        if c.metric == "evidence_recall"
    }
    assert recall == {
        "A:s0:qa:0": (0.5, 1.0, "provenance"),
        "A:s1:qa:0": (1.0, 1.0, "provenance"),
        "B:s0:qa:1": (0.5, 1.0, "text"),
    }
    assert value(contributions, "evidence_mrr", question_type=BFR) == pytest.approx((1 / 3 + 1 / 2) / 2)


def test_a_system_without_provenance_is_matched_by_the_points_text() -> None:
    """Memories that say nothing of their session (a service's bare text) match an evidence point
    when they share at least half of the shorter one's content words: a paraphrase of the point does,
    a memory sharing one word does not."""
    evidence = [Evidence("B:s0", None, BEAGLE), Evidence("B:s1", None, "Bob moved to Lisbon in March")]
    records = [
        qa("B:s1:qa:0", "correct", BFR, 0.1, evidence=evidence,
           retrieved=[Memory(text="Bob prefers tea"), Memory(text="In March, Bob moved to Lisbon.")]),
        qa("B:s1:qa:1", "omission", BFR, 0.1, evidence=evidence[:1],
           retrieved=[Memory(text="Bob enjoys walking"), Memory(text="Biscuit")]),
    ]  # fmt: skip
    rows = [c for c in halumem_contributions(records, []) if c.metric.startswith("evidence_")]
    assert [(c.probe_id, c.metric, c.num, c.den, c.labels[MATCH_LABEL]) for c in rows] == [
        ("B:s1:qa:0", "evidence_recall", 0.5, 1.0, "text"),
        ("B:s1:qa:0", "evidence_hit", 1.0, 1.0, "text"),
        ("B:s1:qa:0", "evidence_mrr", 0.5, 1.0, "text"),
        ("B:s1:qa:1", "evidence_recall", 0.0, 1.0, "text"),
        ("B:s1:qa:1", "evidence_hit", 0.0, 1.0, "text"),
        ("B:s1:qa:1", "evidence_mrr", 0.0, 1.0, "text"),
    ]


def test_update_probe_that_retrieved_nothing_leaves_update_metrics(contributions: list[Contribution]) -> None:
    update_probes = {c.probe_id for c in contributions if c.metric.startswith("update_")}
    assert update_probes == {"A:s0:update:4", "A:s1:update:3", "B:s0:update:2", "B:s0:update:7"}


def test_contributions_only_name_declared_metrics(contributions: list[Contribution]) -> None:
    assert {c.metric for c in contributions} <= set(SPECS)
    assert [spec.name for spec in METRICS if spec.main] == ["qa_correct"]
    assert len(SPECS) == len(METRICS)


def test_system_without_session_memories_has_no_extraction_contributions() -> None:
    without_extraction = [r for r in RECORDS if r.kind != "extraction"]
    contributions = halumem_contributions(without_extraction, [])
    for metric in ("recall", "recall_all", "fmr", "memory_accuracy", "target_precision", "extraction_f1"):
        assert value(contributions, metric) is None, metric
    assert value(contributions, "extracted_memories") == 0
    # Per-type accuracy then rests on update records alone (as for Zep in the paper).
    assert value(contributions, "type_accuracy", memory_type=PERSONA) == 1.0
    assert value(contributions, "type_accuracy_all", memory_type=EVENT) == pytest.approx(0 / 2)


def test_f1_is_zero_when_recall_and_precision_are_zero() -> None:
    details = [point("C:s0:m1", EVENT, 0, importance=1.0), memory(0, 0, True)]
    contributions = halumem_contributions([extraction("C:s0:extraction", details, 1)], [])
    assert value(contributions, "recall") == 0.0
    assert value(contributions, "target_precision") == 0.0
    assert value(contributions, "extraction_f1") == 0.0


# ---------------------------------------------------------------- hand cases against the official scorer
# Each expected value is computed by hand the way MemTensor/HaluMem's eval/evaluation.py aggregates:
# every judged item counts in its "(all)" denominator, a failed verdict scoring 0; a failed accuracy
# verdict is read as "not included in the golden memories", so it stays out of |M_T|.


def test_failed_accuracy_verdict_weighs_in_n_extracted_but_not_in_target_memories() -> None:
    """Three memories judged included (a = 2, 2, 1) and one failed verdict.

    Official: target_accuracy(all) = (1 + 1 + 0.5) / 3 = 0.833 (the failed one is not included);
    weighted_accuracy(all) = 2.5 / 4 = 0.625. membench used to give target precision (all) 0.625.
    """
    details = [
        point("D:s0:m1", PERSONA, 2, importance=1.0),
        memory(0, 2, True),
        memory(1, 2, True),
        memory(2, 1, True),
        memory(3, None, None),
    ]
    contributions = halumem_contributions([extraction("D:s0:extraction", details, 4)], [])
    assert value(contributions, "target_precision_all") == pytest.approx(2.5 / 3)
    assert value(contributions, "target_precision") == pytest.approx(2.5 / 3)
    assert value(contributions, "memory_accuracy_all") == pytest.approx(2.5 / 4)
    assert value(contributions, "memory_accuracy") == pytest.approx(2.5 / 3)
    assert value(contributions, "target_memories") == 3
    failed = [c for c in contributions if c.metric == "target_precision" and c.error]
    assert [(c.num, c.den) for c in failed] == [(0.0, 0.0)], "flagged, so reports count the lost verdict"


SCORED_SESSION = extraction(
    "C:s0:extraction",
    [
        point("C:s0:m1", PERSONA, 2, importance=1.0),
        point("C:s0:m2", EVENT, 0, distractor=True),
        memory(0, 2, True),
    ],
    n_memories=1,
)
FAILED_SESSION_POINTS = gold_points_label(
    [
        gold(1, EVENT, 1.0),
        gold(2, PERSONA, 0.5),
        gold(3, RELATIONSHIP, 0.25),
        gold(4, EVENT, None, distractor=True),
    ]
)


def test_failed_extraction_record_counts_every_point_and_memory_of_its_session() -> None:
    """Session C:s1's judge raised: 3 true points (w 1, .5, .25), 1 distractor, 2 extracted memories.

    Official, each of its items is a failed verdict: recall(all) = 1 / (1 + 3) = 0.25;
    weighted_recall(all) = 1 / (1 + 1.75); FMR(all) = 1 / 2; weighted_accuracy(all) = 1 / (1 + 2);
    target_accuracy(all) = 1 / 1; per type, Persona (1 + 0) / 2, Event 0 / 1, Relationship 0 / 1.
    membench used to count the record as one item of each metric (recall (all) 1/2).
    """
    failed = record(
        "C:s1:extraction",
        "extraction",
        prediction=memories(2),
        error=ErrorInfo(stage="judge", type="RuntimeError", message="judge crashed"),
        labels=FAILED_SESSION_POINTS,
    )
    contributions = halumem_contributions([SCORED_SESSION, failed], [])
    assert value(contributions, "recall_all") == pytest.approx(1 / 4)
    assert value(contributions, "weighted_recall_all") == pytest.approx(1 / 2.75)
    assert value(contributions, "fmr_all") == pytest.approx(1 / 2)
    assert value(contributions, "memory_accuracy_all") == pytest.approx(1 / 3)
    assert value(contributions, "target_precision_all") == pytest.approx(1.0)
    assert value(contributions, "type_accuracy_all", memory_type=PERSONA) == pytest.approx(1 / 2)
    assert value(contributions, "type_accuracy_all", memory_type=EVENT) == 0.0
    assert value(contributions, "type_accuracy_all", memory_type=RELATIONSHIP) == 0.0
    assert value(contributions, "recall") == 1.0, "(valid) leaves the failed items out"
    assert value(contributions, "extracted_memories") == 3


def test_extraction_record_whose_system_failed_counts_its_points_but_no_unknown_memories() -> None:
    """No prediction: the points are known (from the label), how many memories there were is not.

    The official adapters drop such a user entirely; membench keeps its points in the (all)
    denominators and adds one flagged, weightless memory item, so the error still shows.
    """
    failed = record(
        "C:s1:extraction",
        "extraction",
        error=ErrorInfo(stage="system", type="TimeoutError", message="session_memories timed out"),
        labels=FAILED_SESSION_POINTS,
    )
    contributions = halumem_contributions([SCORED_SESSION, failed], [])
    assert value(contributions, "recall_all") == pytest.approx(1 / 4)
    assert value(contributions, "memory_accuracy_all") == 1.0
    lost = [
        (c.metric, c.den, c.error)
        for c in contributions
        if c.probe_id == "C:s1:extraction" and c.metric.startswith("memory_")
    ]
    assert sorted(lost) == [("memory_accuracy", 0.0, True), ("memory_accuracy_all", 0.0, True)]
    assert value(contributions, "extracted_memories") == 1


def test_memories_of_a_session_without_gold_points_are_judged() -> None:
    """Official: every extracted memory of every real session is judged, gold points or not.

    Session E:s0 has no gold point and two memories (a = 2, 0): weighted_accuracy = (1 + 0) / 2;
    the session adds nothing to recall. (The loader now gives such a session an extraction probe.)
    """
    details = [memory(0, 2, False), memory(1, 0, False)]
    contributions = halumem_contributions([extraction("E:s0:extraction", details, 2)], [])
    assert value(contributions, "memory_accuracy_all") == pytest.approx(1 / 2)
    assert value(contributions, "recall_all") is None
    assert value(contributions, "target_precision_all") is None
