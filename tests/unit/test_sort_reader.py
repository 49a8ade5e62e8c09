"""The order reader: it finds each segment among the memories and orders them by text offset or provenance."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from membench.core.errors import ConfigError
from membench.core.types import Memory, Probe
from membench.registry import Registry
from membench.running.components import build_reader
from membench_tasks.sort.reader import ABSTAIN, OrderReader, locate

FIRST = "the ferry left the harbour at dawn with three crates of pears and a sleeping dog"
SECOND = "by noon the wind had turned and the captain ordered every sail to be reefed at once"
FILLER = "nothing else of note happened on the quay that morning while the gulls circled"


def probe(a: str, b: str) -> Probe:
    return Probe(
        probe_id="p", episode_id="e", after_session=0, kind="order", mode="answer",
        question="Which came first?", inputs={"segment_a": a, "segment_b": b},
    )  # fmt: skip


def answer(a: str, b: str, memories: list[Memory]) -> str:
    return asyncio.run(OrderReader().answer(probe(a, b), memories)).text


def test_both_segments_in_one_memory_go_by_offset() -> None:
    memory = [Memory(text=f"document: {FILLER}. {FIRST}. {SECOND}.")]  # no provenance needed
    assert answer(FIRST, SECOND, memory) == "A"
    assert answer(SECOND, FIRST, memory) == "B"


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ({"position": 3}, {"position": 9}),
        ({"metadata": {"positions": [1, 2]}}, {"metadata": {"positions": [4]}}),
        ({"metadata": {"session_index": 0}}, {"metadata": {"session_index": 2}}),
        ({"timestamp": "2025-01-01T09:00:00"}, {"timestamp": "2025-01-01T09:02:00"}),
    ],
)
def test_different_memories_go_by_provenance_never_by_rank(earlier: dict, later: dict) -> None:
    first, second = Memory(text=f"{FILLER} {FIRST}", **earlier), Memory(text=f"{SECOND} {FILLER}", **later)
    for ranked in ([first, second], [second, first]):  # relevance order must not matter
        assert answer(FIRST, SECOND, ranked) == "A"
        assert answer(SECOND, FIRST, ranked) == "B"


def test_abstains_without_provenance_or_without_the_segment() -> None:
    bare = [Memory(text=FIRST), Memory(text=SECOND)]
    assert answer(FIRST, SECOND, bare) == ABSTAIN
    same_session = [
        Memory(text=FIRST, metadata={"session_index": 1}),
        Memory(text=SECOND, metadata={"session_index": 1}),
    ]
    assert answer(FIRST, SECOND, same_session) == ABSTAIN, "equal provenance cannot order"
    assert answer(FIRST, SECOND, [Memory(text=FIRST, position=0)]) == ABSTAIN, "second segment not retrieved"
    assert answer(FIRST, SECOND, []) == ABSTAIN
    mixed_kinds = [Memory(text=FIRST, position=0), Memory(text=SECOND, metadata={"session_index": 1})]
    assert answer(FIRST, SECOND, mixed_kinds) == ABSTAIN, "no provenance kind shared"


def test_a_segment_cut_across_two_memories_is_still_ordered() -> None:
    words = FIRST.split()
    head, tail = " ".join(words[:5]), " ".join(words[5:])
    memories = [
        Memory(text=f"{FILLER} {head}", position=0),
        Memory(text=f"{tail} {SECOND}", position=1),  # holds most of FIRST, and all of SECOND after it
    ]
    found = locate(FIRST, memories)
    assert found is not None and found.memory == 1 and found.offset == -5
    assert answer(FIRST, SECOND, memories) == "A"
    assert answer(SECOND, FIRST, memories) == "B"


def test_a_weak_overlap_is_not_a_location() -> None:
    assert locate(FIRST, [Memory(text="the ferry left the station late")]) is None
    assert locate("", [Memory(text=FIRST)]) is None


def test_configuration_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="min_overlap"):
        OrderReader(min_overlap=0.0)
    no_inputs = Probe(probe_id="q", episode_id="e", after_session=0, kind="qa", mode="answer", question="?")
    with pytest.raises(ConfigError, match="segment_a and segment_b"):
        asyncio.run(OrderReader().answer(no_inputs, []))


def test_shipped_by_the_sort_task_as_the_order_reader(tmp_path: Path) -> None:
    registry = Registry()
    task = registry.get("task", "sort")({}, tmp_path)
    assert type(build_reader(task, registry, "order", None)) is OrderReader
    assert task.default_reader == "order"
    assert ("order", "task sort") in registry.names("reader")
