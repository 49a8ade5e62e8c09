"""The shared retrieval metrics against hand-computed values, on memories shaped the way the adapters
shape them: the baselines' turns (session and episode-wide position), bm25's rounds (a ``positions``
list), mem0's (a session id, no position) and a service's bare text."""

from __future__ import annotations

import pytest

from membench.core.retrieval import (
    MATCH_LABEL,
    Evidence,
    RetrievalScore,
    evidence_label,
    parse_evidence_label,
    retrieval_contributions,
    score_retrieval,
)
from membench.core.types import ErrorInfo, Memory, Prediction, Record

TURNS = [
    Evidence("s1", 2, "I adopted a beagle named Biscuit"),
    Evidence("s3", 9, "Biscuit turned four in May"),
]


def turn(session: str, position: int, text: str = "x") -> Memory:
    return Memory(text=text, session_id=session, position=position)


def test_turn_evidence_by_provenance_counts_recall_hit_and_the_first_rank() -> None:
    memories = [turn("s1", 1), turn("s3", 9), turn("s1", 2)]  # evidence at ranks 2 and 3
    score = score_retrieval(memories, TURNS)
    assert score is not None
    assert (score.recall, score.hit, score.reciprocal_rank, score.matched_by) == (1.0, 1.0, 0.5, "provenance")
    missed = score_retrieval([turn("s1", 1), turn("s2", 2)], TURNS)  # position 2, but of session s2
    assert missed is not None and (missed.recall, missed.hit, missed.reciprocal_rank) == (0.0, 0.0, 0.0)


def test_a_round_of_several_turns_matches_each_of_its_positions() -> None:
    round_ = Memory(text="x", session_id="s1", position=1, metadata={"positions": [1, 2]})
    score = score_retrieval([round_], TURNS)
    assert score is not None and (score.recall, score.reciprocal_rank) == (0.5, 1.0)


def test_session_evidence_needs_only_the_session() -> None:
    sessions = [Evidence("a"), Evidence("b"), Evidence("c"), Evidence("d")]
    mem0_like = [Memory(text="x", session_id="z"), Memory(text="y", session_id="c")]
    score = score_retrieval(mem0_like, sessions)
    assert score is not None and (score.recall, score.hit, score.reciprocal_rank) == (0.25, 1.0, 0.5)
    assert score.matched_by == "provenance"


def test_without_turn_positions_memories_are_matched_by_text() -> None:
    # mem0 gives the session but not the turn: turn-level evidence is matched by words, all memories alike.
    memories = [
        Memory(text="The user likes hiking", session_id="s1"),
        Memory(text="User adopted a beagle called Biscuit", session_id="s1"),  # beagle, biscuit: 2 of 3
        Memory(text="Biscuit is a dog"),  # one shared word: chance, not evidence
    ]
    score = score_retrieval(memories, TURNS)
    assert score is not None and score.matched_by == "text"
    assert (score.recall, score.hit, score.reciprocal_rank) == (0.5, 1.0, 0.5)


def test_text_is_matched_line_by_line_never_against_a_whole_session() -> None:
    # Session-level evidence holds its answer turns one per line; a memory must match one of them.
    session = [Evidence("s1", None, "I adopted a beagle puppy\nWe went hiking in the Alps last May")]
    across = Memory(text="beagle hiking trip")  # one word from each line: 2 of 3 of the union, chance
    within = Memory(text="a beagle puppy")  # beagle, puppy: both words of the shorter side, one line
    assert score_retrieval([across], session) == RetrievalScore(0.0, 0.0, 0.0, "text")
    assert score_retrieval([across, within], session) == RetrievalScore(1.0, 1.0, 0.5, "text")


def test_no_evidence_scores_nothing_and_no_memories_score_zero() -> None:
    assert score_retrieval([turn("s1", 2)], []) is None
    empty = score_retrieval([], TURNS)
    assert empty is not None and (empty.recall, empty.hit, empty.matched_by) == (
        0.0,
        0.0,
        "nothing retrieved",
    )


def test_the_label_round_trips() -> None:
    assert parse_evidence_label(evidence_label(TURNS)) == tuple(TURNS)
    assert parse_evidence_label("") == ()


def record(memories: list[Memory] | None, error: ErrorInfo | None = None) -> Record:
    return Record(
        run_id="r",
        task="t",
        task_version="1",
        system="s",
        episode_id="e1",
        probe_id="q1",
        after_session=0,
        kind="qa",
        labels={"category": "temporal"},
        input_hash="h",
        prediction=None if memories is None else Prediction(memories=memories),
        error=error,
        completed_at="2026-12-02T00:00:00Z",
    )


def test_contributions_are_per_probe_means_and_errors_are_marked() -> None:
    found = retrieval_contributions(record([turn("s3", 9)]), TURNS)
    assert [(c.metric, c.num, c.den) for c in found] == [
        ("evidence_recall", 0.5, 1.0),
        ("evidence_hit", 1.0, 1.0),
        ("evidence_mrr", 1.0, 1.0),
    ]
    assert all(c.labels == {"category": "temporal", MATCH_LABEL: "provenance"} for c in found)
    failed = retrieval_contributions(record(None, ErrorInfo(stage="system", type="Boom", message="m")), TURNS)
    assert [(c.num, c.den, c.error) for c in failed] == [(0.0, 0.0, True)] * 3
    # the reader failed after retrieval: what was retrieved is still scored
    late = retrieval_contributions(
        record([turn("s1", 2)], ErrorInfo(stage="reader", type="X", message="m")), TURNS
    )
    assert [c.num for c in late] == pytest.approx([0.5, 1.0, 1.0])
    assert retrieval_contributions(record([turn("s1", 2)]), []) == []
