"""The session-match reader (the episodic task's offline reader): names, grouping, order, latest."""

from __future__ import annotations

import asyncio
from pathlib import Path

from membench.core.types import Memory, Probe
from membench.registry import Registry
from membench.running.components import build_reader
from membench_tasks.episodic.reader import NO_INFORMATION, SessionMatchReader, question_names


def test_question_names_are_dates_and_capitalised_runs() -> None:
    assert question_names("Where did Ezra Edwards attend the Parkour Workshop on September 13, 2025?") == [
        "September 13, 2025",
        "Ezra Edwards",
        "Parkour Workshop",
    ]
    assert question_names("Who attended an event at Harbor Lighthouse?") == ["Harbor Lighthouse"]
    assert question_names("where did you go yesterday?") == []


def _memory(text: str, session: str | None, timestamp: str | None = None) -> Memory:
    return Memory(text=text, session_id=session, timestamp=timestamp)


MEMORIES = [
    _memory("Ezra Edwards had been looking forward to the day.", "ch3", "2025-09-13"),
    _memory("Our protagonist arrived at Harbor Lighthouse early.", "ch3", "2025-09-13"),
    _memory("Ezra Edwards was there too.", "ch1", "2024-03-02"),
    _memory("Someone arrived at Lantern Square.", "ch1", "2024-03-02"),
    _memory("Maren Okafor arrived at Foxglove Theater.", "ch2", "2026-01-05"),
]


def test_answers_with_every_matching_session_in_time_order() -> None:
    reader = SessionMatchReader()
    answer = reader.read("Where did Ezra Edwards go?", MEMORIES)
    assert answer.splitlines() == [
        "Ezra Edwards was there too. Someone arrived at Lantern Square.",
        "Ezra Edwards had been looking forward to the day. "
        "Our protagonist arrived at Harbor Lighthouse early.",
    ]
    latest = reader.read("Where was Ezra Edwards seen most recently?", MEMORIES)
    assert "Harbor Lighthouse" in latest and "Lantern Square" not in latest


def test_every_name_must_be_in_the_same_session() -> None:
    reader = SessionMatchReader()
    assert reader.read("Who was at Harbor Lighthouse?", MEMORIES).startswith("Ezra Edwards had been")
    # Ezra Edwards and Foxglove Theater appear, but never in one session: no event matches.
    assert reader.read("When did Ezra Edwards visit Foxglove Theater?", MEMORIES) == NO_INFORMATION


def test_without_timestamps_rank_order_is_kept_and_latest_cannot_be_told() -> None:
    untimed = [m.model_copy(update={"timestamp": None}) for m in MEMORIES]
    answer = SessionMatchReader().read("Where was Ezra Edwards seen most recently?", untimed)
    assert answer.splitlines()[0].startswith("Ezra Edwards had been") and len(answer.splitlines()) == 2


def test_memories_without_a_session_stand_alone_and_nameless_questions_fall_back() -> None:
    loose = [_memory("Ezra Edwards", None), _memory("Harbor Lighthouse", None)]
    assert SessionMatchReader().read("Was Ezra Edwards at Harbor Lighthouse?", loose) == NO_INFORMATION
    probe = Probe(
        probe_id="p", episode_id="e", after_session=0, kind="qa", mode="answer", question="where to?"
    )
    answer = asyncio.run(SessionMatchReader().answer(probe, [_memory("we went to the beach", "s")]))
    assert answer.text == "Unknown.", "the extractive fallback abstains on no overlap"


def test_shipped_by_the_episodic_task_as_its_default(tmp_path: Path) -> None:
    registry = Registry()
    task = registry.get("task", "episodic")({}, tmp_path)
    assert type(build_reader(task, registry, "session-match", None)) is SessionMatchReader
    assert task.default_reader == "session-match"
    assert ("session-match", "task episodic") in registry.names("reader")


def test_names_of_questions_in_the_official_release_wording() -> None:
    """Upstream's templates start later sentences with a verb and use possessives; neither is a name."""
    assert question_names(
        "Consider all events that happened on September 13, 2025. Provide a list of all protagonists "
        "involved in any of these events, without describing the events themselves."
    ) == ["September 13, 2025"]
    assert question_names(
        "Recall all the events that occurred on March 2, 2024. Without describing the events, list all "
        "the unique locations where these events took place."
    ) == ["March 2, 2024"]
    assert question_names(
        "Reflect on Ezra Edwards's experiences at Harbor Lighthouse. Describe all the key events they've "
        "been involved in at this location."
    ) == ["Ezra Edwards", "Harbor Lighthouse"]
    assert question_names("Think about Ezra Edwards’s experiences.") == ["Ezra Edwards"]


def test_an_official_question_finds_its_chapter() -> None:
    answer = SessionMatchReader().read(
        "Think about Ezra Edwards's experiences. Describe all the key events they've been involved in.",
        MEMORIES,
    )
    assert answer != NO_INFORMATION and "Lantern Square" in answer and "Harbor Lighthouse" in answer


def test_a_chronological_question_worded_with_latest_gets_every_event() -> None:
    """The release asks "... from earliest to latest ...": an order question, not a latest-state one."""
    reader = SessionMatchReader()
    for question in (
        "Provide a chronological list of all dates when Ezra Edwards was observed, from earliest to latest "
        "in the story's timeline.",
        "Enumerate all activities that Ezra Edwards has been involved in, ordered from earliest to latest "
        "in the story's chronology.",
    ):
        answer = reader.read(question, MEMORIES)
        assert len(answer.splitlines()) == 2 and answer.index("Lantern") < answer.index("Harbor"), question
    for question in (
        "What was Ezra Edwards doing the last time they were observed in the story's timeline?",
        "What is the most recent location where Ezra Edwards was observed in the story's chronological "
        "timeline?",
    ):
        latest = reader.read(question, MEMORIES)
        assert "Harbor Lighthouse" in latest and "Lantern Square" not in latest, question
