"""The Reader seam: one reader and one k for every system, so comparisons are fair."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from membench.core.types import Memory, Probe, UsageByRole


@dataclass(frozen=True)
class ReaderAnswer:
    text: str
    usage: UsageByRole = field(default_factory=dict)


class Reader(ABC):
    name: str

    def identity(self) -> dict[str, Any]:
        return {"name": self.name}

    @abstractmethod
    async def answer(self, probe: Probe, memories: list[Memory]) -> ReaderAnswer:
        """Answer ``probe.question`` from ``memories`` (best first)."""
