"""The no-memory, full-context and BM25 systems on a three-session episode made by hand."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from membench.core.errors import ConfigError
from membench.core.types import Episode, Memory, Session, Turn
from membench.systems.base import MemorySystem
from membench.systems.baselines import FullContextSystem, NoMemorySystem
from membench.systems.bm25 import BM25System


def _session(session_id: str, day: int, user: str, assistant: str) -> Session:
    return Session(
        session_id=session_id,
        turns=[
            Turn(role="user", content=user, timestamp=f"2024-03-0{day}T10:00:00"),
            Turn(role="assistant", content=assistant, timestamp=f"2024-03-0{day}T10:00:05"),
        ],
    )


S1 = _session("s1", 1, "I just adopted a beagle named Biscuit.", "Congratulations, what a lovely puppy!")
S2 = _session("s2", 2, "I started a new job as a nurse at Mercy Hospital.", "Nursing is rewarding work.")
S3 = _session("s3", 3, "My sister Ana moved to Lisbon last month.", "Portugal has wonderful food.")
EPISODE = Episode(episode_id="e1", sessions=[S1, S2, S3])


def _ingested(system: MemorySystem, *sessions: Session) -> MemorySystem:
    async def run() -> None:
        await system.reset(EPISODE)
        for session in sessions:
            await system.ingest(session)

    asyncio.run(run())
    return system


def _retrieve(system: MemorySystem, query: str, k: int = 10) -> list[Memory]:
    return asyncio.run(system.retrieve(query, k))


def _session_memories(system: MemorySystem, session: Session) -> list[Memory]:
    return asyncio.run(system.session_memories(session))


def _provenance(memories: list[Memory]) -> list[tuple[str | None, int | None, str | None]]:
    return [(m.session_id, m.position, m.timestamp) for m in memories]


# ---------------------------------------------------------------- no-memory


def test_no_memory_stores_nothing(tmp_path: Path) -> None:
    system = _ingested(NoMemorySystem({}, tmp_path), S1, S2, S3)
    assert system.capabilities.session_memories
    assert _retrieve(system, "beagle Biscuit") == []
    assert _session_memories(system, S1) == []


def test_no_memory_rejects_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_turns"):
        NoMemorySystem({"max_turns": "3"}, tmp_path)


# ---------------------------------------------------------------- full-context


def test_full_context_returns_whole_history_in_order_whatever_k(tmp_path: Path) -> None:
    system = _ingested(FullContextSystem({}, tmp_path), S1, S2, S3)
    memories = _retrieve(system, "unrelated query", k=1)
    assert [m.text for m in memories] == [
        "user: I just adopted a beagle named Biscuit.",
        "assistant: Congratulations, what a lovely puppy!",
        "user: I started a new job as a nurse at Mercy Hospital.",
        "assistant: Nursing is rewarding work.",
        "user: My sister Ana moved to Lisbon last month.",
        "assistant: Portugal has wonderful food.",
    ]
    assert _provenance(memories) == [
        ("s1", 0, "2024-03-01T10:00:00"),
        ("s1", 1, "2024-03-01T10:00:05"),
        ("s2", 2, "2024-03-02T10:00:00"),
        ("s2", 3, "2024-03-02T10:00:05"),
        ("s3", 4, "2024-03-03T10:00:00"),
        ("s3", 5, "2024-03-03T10:00:05"),
    ]
    assert all(m.score is None for m in memories)


def test_full_context_session_memories_are_that_sessions_turns(tmp_path: Path) -> None:
    system = _ingested(FullContextSystem({}, tmp_path), S1, S2, S3)
    memories = _session_memories(system, S2)
    assert [m.text for m in memories] == [
        "user: I started a new job as a nurse at Mercy Hospital.",
        "assistant: Nursing is rewarding work.",
    ]
    assert _provenance(memories) == [("s2", 2, "2024-03-02T10:00:00"), ("s2", 3, "2024-03-02T10:00:05")]


def test_full_context_reset_forgets(tmp_path: Path) -> None:
    system = _ingested(FullContextSystem({}, tmp_path), S1, S2)
    _ingested(system, S3)
    memories = _retrieve(system, "anything")
    assert [m.session_id for m in memories] == ["s3", "s3"]
    assert [m.position for m in memories] == [0, 1]
    assert _session_memories(system, S1) == []


def test_full_context_max_turns_keeps_most_recent(tmp_path: Path) -> None:
    system = _ingested(FullContextSystem({"max_turns": "3"}, tmp_path), S1, S2, S3)
    assert [m.position for m in _retrieve(system, "anything")] == [3, 4, 5]
    assert _session_memories(system, S1) == []
    assert [m.position for m in _session_memories(system, S2)] == [3]


@pytest.mark.parametrize("value", ["-1", "three", "2.5"])
def test_full_context_rejects_bad_max_turns(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="max_turns"):
        FullContextSystem({"max_turns": value}, tmp_path)


def test_full_context_rejects_unknown_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"full-context.*window"):
        FullContextSystem({"window": "3"}, tmp_path)


# ---------------------------------------------------------------- bm25


def test_bm25_finds_the_turn_that_states_the_fact(tmp_path: Path) -> None:
    system = _ingested(BM25System({}, tmp_path), S1, S2, S3)
    memories = _retrieve(system, "Which hospital does the nurse work at?", k=2)
    assert memories[0].text == "user: I started a new job as a nurse at Mercy Hospital."
    assert _provenance(memories[:1]) == [("s2", 2, "2024-03-02T10:00:00")]
    assert len(memories) <= 2
    scores = [m.score for m in memories]
    assert all(s is not None and s > 0 for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


def test_bm25_returns_only_positive_scores_and_tolerates_large_k(tmp_path: Path) -> None:
    system = _ingested(BM25System({}, tmp_path), S1, S2, S3)
    memories = _retrieve(system, "Biscuit", k=100)
    assert [m.position for m in memories] == [0]
    assert _retrieve(system, "quantum chromodynamics", k=100) == []
    assert _retrieve(system, "the of and", k=100) == []


def test_bm25_empty_memory_returns_nothing(tmp_path: Path) -> None:
    system = _ingested(BM25System({}, tmp_path))
    assert _retrieve(system, "Biscuit") == []
    assert _session_memories(system, S1) == []


def test_bm25_reset_forgets(tmp_path: Path) -> None:
    system = _ingested(BM25System({}, tmp_path), S1, S2)
    assert _retrieve(system, "Biscuit beagle")
    _ingested(system, S3)
    assert _retrieve(system, "Biscuit beagle") == []
    assert [m.position for m in _retrieve(system, "Lisbon")] == [0]


def test_bm25_reindexes_after_a_later_ingest(tmp_path: Path) -> None:
    system = _ingested(BM25System({}, tmp_path), S1)
    assert _retrieve(system, "Lisbon sister") == []
    asyncio.run(system.ingest(S3))
    memories = _retrieve(system, "Lisbon sister")
    assert _provenance(memories[:1]) == [("s3", 2, "2024-03-03T10:00:00")]


def test_bm25_breaks_ties_by_earlier_position(tmp_path: Path) -> None:
    echo = Session(
        session_id="echo",
        turns=[Turn(role="user", content="I love kayaking.") for _ in range(3)],
    )
    system = _ingested(BM25System({}, tmp_path), S1, echo)
    memories = _retrieve(system, "kayaking", k=2)
    assert [m.position for m in memories] == [2, 3]
    assert memories[0].score == memories[1].score


def test_bm25_session_memories_are_that_sessions_turns(tmp_path: Path) -> None:
    system = _ingested(BM25System({}, tmp_path), S1, S2, S3)
    memories = _session_memories(system, S3)
    assert [m.text for m in memories] == [
        "user: My sister Ana moved to Lisbon last month.",
        "assistant: Portugal has wonderful food.",
    ]
    assert _provenance(memories) == [("s3", 4, "2024-03-03T10:00:00"), ("s3", 5, "2024-03-03T10:00:05")]


def test_bm25_round_unit_indexes_user_assistant_pairs(tmp_path: Path) -> None:
    opener = Session(
        session_id="s0",
        turns=[
            Turn(role="assistant", content="Welcome back!"),
            Turn(role="user", content="Thanks."),
            Turn(role="user", content="I grow tomatoes."),
            Turn(role="assistant", content="Tomatoes love sun."),
        ],
    )
    system = _ingested(BM25System({"unit": "round"}, tmp_path), opener, S1)
    rounds = _session_memories(system, opener)
    assert [m.text for m in rounds] == [
        "assistant: Welcome back!",
        "user: Thanks.",
        "user: I grow tomatoes.\nassistant: Tomatoes love sun.",
    ]
    assert [m.metadata["positions"] for m in rounds] == [[0], [1], [2, 3]]
    memories = _retrieve(system, "puppy", k=5)
    assert [m.text for m in memories] == [
        "user: I just adopted a beagle named Biscuit.\nassistant: Congratulations, what a lovely puppy!"
    ]
    assert _provenance(memories) == [("s1", 4, "2024-03-01T10:00:00")]


def test_bm25_options_reach_the_index(tmp_path: Path) -> None:
    long_turn = Session(
        session_id="long",
        turns=[
            Turn(role="user", content="tennis " + "filler words about many other unrelated things " * 5),
            Turn(role="user", content="tennis"),
        ],
    )
    plain = _ingested(BM25System({}, tmp_path), long_turn)
    no_length_norm = _ingested(BM25System({"b": "0"}, tmp_path), long_turn)
    plain_scores = [m.score for m in _retrieve(plain, "tennis")]
    flat_scores = [m.score for m in _retrieve(no_length_norm, "tennis")]
    assert plain_scores[0] != plain_scores[1]
    assert flat_scores[0] == flat_scores[1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k1": "fast"}, "k1"),
        ({"k1": "-1"}, "k1"),
        ({"b": "1.5"}, "b"),
        ({"b": "nan"}, "b"),
        ({"unit": "sentence"}, "unit"),
        ({"stemmer": "porter"}, r"bm25.*stemmer"),
    ],
)
def test_bm25_rejects_bad_options(tmp_path: Path, options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BM25System(options, tmp_path)
