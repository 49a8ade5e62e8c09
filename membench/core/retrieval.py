"""Did the system retrieve what holds the answer? Recall, hit and reciprocal rank of the retrieved
memories against a probe's evidence, one rule for every task whose data says where answers are
(LoCoMo's evidence dialog ids, LongMemEval's answer sessions, HaluMem's and ConvoMem's sessions).

A memory matches a piece of evidence by **provenance** when the system says where the memory comes
from: the same session, and for evidence that is one turn, the same turn (``Memory.position`` or the
``positions`` a memory made of several turns lists in its metadata). A system that gives no such
provenance (an extracting system that rewrites what it stores, a service that returns bare text) is
matched by **text**: the memory and one line of the evidence (a turn, a message) share at least half
of the content words of the shorter of the two, and at least two of them. Text matching is an
approximation, so every contribution is labelled ``evidence_match`` with how it was matched, and the
report shows it.

k is what the task retrieves (its ``top_k``): the metrics read the memories the system returned.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from membench.core.task import Contribution, MetricSpec
from membench.core.text import content_tokens
from membench.core.types import Memory, Record, shown_labels

#: the probe label that carries a probe's evidence from the loader to the metrics ("_": not shown).
EVIDENCE_LABEL = "_evidence"
#: the contribution label saying how memories were matched to the evidence.
MATCH_LABEL = "evidence_match"
#: text matching: the share of the shorter side's distinct content words the two must share, and the
#: fewest shared words (one common word between a memory and a turn is chance, not evidence).
TEXT_OVERLAP = 0.5
TEXT_MIN_SHARED = 2

Matched = Literal["provenance", "text", "nothing retrieved"]


@dataclass(frozen=True)
class Evidence:
    """One place that holds (part of) a probe's answer."""

    session_id: str
    #: the turn's index in the episode, 0-based over every turn of every session in order (the
    #: ``position`` the baselines give their memories: ``systems.baselines.TurnLog``); None: the
    #: whole session is the evidence.
    position: int | None = None
    #: the turn's (or the session's answer turns') text, to match systems that give no provenance.
    text: str = ""


@dataclass(frozen=True)
class RetrievalScore:
    #: evidence items found among the retrieved memories / all evidence items.
    recall: float
    #: 1.0 when at least one evidence item is found, else 0.0.
    hit: float
    #: 1 / rank of the first retrieved memory that matches any evidence; 0.0 when none does.
    reciprocal_rank: float
    matched_by: Matched


RETRIEVAL_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("evidence_recall", "Evidence recall@k", group="retrieval",
               note="share of the probe's evidence (turns or sessions) among the k memories retrieved; "
                    "matched by provenance, or by text where the system gives none (evidence_match)"),
    MetricSpec("evidence_hit", "Evidence hit@k", group="retrieval",
               note="probes with at least one piece of evidence among the k memories retrieved"),
    MetricSpec("evidence_mrr", "Evidence MRR", group="retrieval",
               note="mean of 1 / rank of the first retrieved memory that matches evidence (0 if none)"),
)  # fmt: skip


def evidence_label(evidence: Sequence[Evidence]) -> str:
    """``evidence`` as one probe label value (labels are strings), read back by ``parse_evidence_label``."""
    return json.dumps([[e.session_id, e.position, e.text] for e in evidence], ensure_ascii=False)


def parse_evidence_label(text: str) -> tuple[Evidence, ...]:
    """The evidence ``evidence_label`` wrote; an empty label is no evidence."""
    if not text:
        return ()
    rows = json.loads(text)
    return tuple(Evidence(str(sid), None if pos is None else int(pos), str(txt)) for sid, pos, txt in rows)


def probe_evidence(labels: Mapping[str, str]) -> tuple[Evidence, ...]:
    """The evidence a probe's (or its record's) labels carry under ``EVIDENCE_LABEL``; none if absent."""
    return parse_evidence_label(labels.get(EVIDENCE_LABEL, ""))


def score_retrieval(memories: Sequence[Memory], evidence: Sequence[Evidence]) -> RetrievalScore | None:
    """How well ``memories`` (best first) cover ``evidence``; None when there is no evidence to find
    (an abstention item), which scores nothing rather than zero."""
    if not evidence:
        return None
    if not memories:
        return RetrievalScore(0.0, 0.0, 0.0, "nothing retrieved")
    by: Matched = "provenance" if all(_has_provenance(m, evidence) for m in memories) else "text"
    match = _by_provenance if by == "provenance" else _by_text
    found: set[int] = set()
    first_rank = 0
    for rank, memory in enumerate(memories, start=1):
        hits = {i for i, e in enumerate(evidence) if match(memory, e)}
        if hits and not first_rank:
            first_rank = rank
        found |= hits
    return RetrievalScore(
        recall=len(found) / len(evidence),
        hit=1.0 if found else 0.0,
        reciprocal_rank=1.0 / first_rank if first_rank else 0.0,
        matched_by=by,
    )


def retrieval_contributions(record: Record, evidence: Sequence[Evidence]) -> list[Contribution]:
    """The three retrieval metrics' contributions of one probe's record: none without evidence; den 0
    marked as errors when the system failed to retrieve (a reader's or judge's failure later leaves
    what was retrieved scoreable)."""
    if not evidence:
        return []
    labels = shown_labels(record.labels)  # not the evidence itself: one column per label downstream
    names = [spec.name for spec in RETRIEVAL_METRICS]
    failed = record.error is not None and record.error.stage in ("ingest", "system")
    if record.prediction is None or failed:
        return [
            Contribution(name, record.episode_id, record.probe_id, 0.0, 0.0, labels, True) for name in names
        ]
    score = score_retrieval(record.prediction.memories, evidence)
    assert score is not None
    labels[MATCH_LABEL] = score.matched_by
    values = (score.recall, score.hit, score.reciprocal_rank)
    return [
        Contribution(name, record.episode_id, record.probe_id, value, 1.0, labels)
        for name, value in zip(names, values, strict=True)
    ]


def _positions(memory: Memory) -> set[int]:
    """The turns a memory comes from: the ``positions`` it lists (a memory of several turns), else its
    ``position``."""
    listed = memory.metadata.get("positions")
    if isinstance(listed, list) and listed:
        return {int(p) for p in listed}
    return set() if memory.position is None else {memory.position}


def _has_provenance(memory: Memory, evidence: Sequence[Evidence]) -> bool:
    """Whether the memory says enough about its origin to be matched to this evidence by provenance."""
    if not memory.session_id:
        return False
    return all(e.position is None for e in evidence) or bool(_positions(memory))


def _by_provenance(memory: Memory, evidence: Evidence) -> bool:
    if memory.session_id != evidence.session_id:
        return False
    return evidence.position is None or evidence.position in _positions(memory)


def _by_text(memory: Memory, evidence: Evidence) -> bool:
    """Whether the memory shares enough words with one line of the evidence (a turn, a message): the
    lines of a session's evidence are matched one by one, since against their union a short memory
    would share half its words with a long session by chance."""
    ours = set(content_tokens(memory.text))
    return bool(ours) and any(
        _overlaps(ours, set(content_tokens(line))) for line in evidence.text.splitlines()
    )


def _overlaps(ours: set[str], theirs: set[str]) -> bool:
    shared = len(ours & theirs)
    return bool(theirs) and shared >= TEXT_MIN_SHARED and shared >= TEXT_OVERLAP * min(len(ours), len(theirs))
