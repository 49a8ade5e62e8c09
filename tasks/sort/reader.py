"""An offline, order-aware reader: which of two text segments came first, judged from the memories.

SORT asks whether a memory keeps the order of what it saw. A memory can only answer that if what it
returns says where each piece came from, so this reader looks for exactly that and nothing else:

1. It locates each segment (``probe.inputs["segment_a"]`` and ``["segment_b"]``) among the retrieved
   memories by word trigrams: for each memory, every trigram the segment shares with it votes for the
   offset at which the segment would start in that memory's text; the memory with the most votes for
   one offset holds the segment, if those votes cover at least ``min_overlap`` of the segment's
   trigrams. A segment cut across two memories is found in the one holding more of it; its start
   offset may then be negative (it began in the memory before), which still orders it correctly.
2. Both segments in one memory: the earlier offset came first. The memory's own text keeps the order.
3. In different memories: it compares their provenance, the first kind both memories carry of
   ``Memory.position`` (or the first of ``metadata["positions"]``), ``metadata["session_index"]``
   (mem0 stores it), then ``Memory.timestamp``. Relevance rank is never used: it says nothing of order.
4. Otherwise (a segment not found, no shared provenance, equal provenance) it abstains with
   ``ABSTAIN``, which SORT's judge counts as an abstention, apart from wrong answers.

It answers only what the memories support, so it measures the memory, not a model's guess; a system
that returns no provenance gets abstentions, which the task's metrics show as such.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from membench.core.errors import ConfigError
from membench.core.text import tokens
from membench.core.types import Memory, Probe
from membench.readers.base import Reader, ReaderAnswer

#: what the reader says when the memories cannot order the two segments.
ABSTAIN = "Unknown"
DEFAULT_MIN_OVERLAP = 0.4
SHINGLE = 3


@dataclass(frozen=True)
class Location:
    """Where a segment was found: the memory's index in the retrieved list and its start offset (words)."""

    memory: int
    offset: int
    coverage: float


def _shingles(words: list[str], size: int) -> list[tuple[str, ...]]:
    size = min(size, len(words))
    return [tuple(words[i : i + size]) for i in range(len(words) - size + 1)] if size else []


def locate(segment: str, memories: list[Memory], min_overlap: float = DEFAULT_MIN_OVERLAP) -> Location | None:
    """The memory holding ``segment`` and the segment's start offset in it, or None (see module doc)."""
    words = tokens(segment)
    size = min(SHINGLE, len(words))
    wanted = _shingles(words, size)
    if not wanted:
        return None
    best: Location | None = None
    for index, memory in enumerate(memories):
        text = tokens(memory.text)
        where: dict[tuple[str, ...], list[int]] = {}
        for i, shingle in enumerate(_shingles(text, size)):
            where.setdefault(shingle, []).append(i)
        votes: Counter[int] = Counter()
        for j, shingle in enumerate(wanted):
            for i in where.get(shingle, ()):
                votes[i - j] += 1
        if not votes:
            continue
        # most votes, then the smallest offset, so equal counts resolve the same way every time
        offset, count = min(votes.items(), key=lambda item: (-item[1], item[0]))
        coverage = count / len(wanted)
        if coverage >= min_overlap and (best is None or coverage > best.coverage):
            best = Location(index, offset, coverage)
    return best


def _position(memory: Memory) -> int | None:
    if memory.position is not None:
        return memory.position
    positions = memory.metadata.get("positions")
    if isinstance(positions, list) and positions and isinstance(positions[0], int):
        return positions[0]
    return None


def _session_index(memory: Memory) -> int | None:
    value = memory.metadata.get("session_index")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(memory: Memory) -> datetime | None:
    if not memory.timestamp:
        return None
    try:
        return datetime.fromisoformat(memory.timestamp)
    except ValueError:
        return None


PROVENANCE = (("position", _position), ("session_index", _session_index), ("timestamp", _time))


def order_of(a: Memory, b: Memory) -> tuple[str, int] | None:
    """(kind, sign) from the first provenance both memories carry: sign < 0 when ``a`` came first."""
    for kind, read in PROVENANCE:
        first, second = read(a), read(b)
        if first is not None and second is not None:
            try:
                return kind, (first > second) - (first < second)  # type: ignore[operator]
            except TypeError:  # timestamps with and without a zone cannot be compared
                return None
    return None


class OrderReader(Reader):
    """Answer "A" or "B" (which segment came first) from the memories' text and provenance, or abstain."""

    name = "order"
    version = "v1"

    def __init__(self, min_overlap: float = DEFAULT_MIN_OVERLAP) -> None:
        if not 0.0 < min_overlap <= 1.0:
            raise ConfigError(f"order reader min_overlap must be in (0, 1], got {min_overlap}")
        self.min_overlap = min_overlap

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "min_overlap": self.min_overlap}

    async def answer(self, probe: Probe, memories: list[Memory]) -> ReaderAnswer:
        segment_a, segment_b = probe.inputs.get("segment_a"), probe.inputs.get("segment_b")
        if not segment_a or not segment_b:
            raise ConfigError(
                f"the order reader needs probe inputs segment_a and segment_b; probe {probe.probe_id} has "
                f"{sorted(probe.inputs) or 'none'} (it reads order tasks such as sort)"
            )
        return ReaderAnswer(text=self.decide(segment_a, segment_b, memories))

    def decide(self, segment_a: str, segment_b: str, memories: list[Memory]) -> str:
        """The segment that came first ("A" or "B"), or ``ABSTAIN``."""
        a = locate(segment_a, memories, self.min_overlap)
        b = locate(segment_b, memories, self.min_overlap)
        if a is None or b is None:
            return ABSTAIN
        if a.memory == b.memory:
            sign = (a.offset > b.offset) - (a.offset < b.offset)
        else:
            found = order_of(memories[a.memory], memories[b.memory])
            sign = found[1] if found else 0
        if sign == 0:
            return ABSTAIN
        return "A" if sign < 0 else "B"
