"""The Reader seam: one reader and one k for every system, so comparisons are fair."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from membench.core.types import Memory, Probe, UsageByRole

if TYPE_CHECKING:
    from membench.systems.base import Capabilities, MemorySystem


@dataclass(frozen=True)
class ReaderAnswer:
    text: str
    usage: UsageByRole = field(default_factory=dict)


class Reader(ABC):
    name: str

    def identity(self) -> dict[str, Any]:
        return {"name": self.name}

    def check_system(self, system_name: str, capabilities: Capabilities) -> None:  # noqa: B027
        """Raise ConfigError, before any work, when this reader cannot serve that system (default: all).

        Not abstract: most readers serve every system, so the default is to do nothing."""

    def bound_to(self, system: MemorySystem) -> Reader:
        """This reader for one episode worker's system (default: the same reader; the ``system`` reader
        answers through it)."""
        return self

    @abstractmethod
    async def answer(self, probe: Probe, memories: list[Memory]) -> ReaderAnswer:
        """Answer ``probe.question`` from ``memories`` (best first)."""
