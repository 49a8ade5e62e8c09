"""The Judge seam. Judges are task-specific in what they read from ``Probe.gold``; a task builds them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from membench.core.types import Episode, Prediction, Probe, Score


class Judge(ABC):
    #: short name used in records and reports: "rule", "lexical", "llm:<model>".
    name: str
    #: True when the verdicts are exact (rule judge on machine-checkable keys); False when approximate.
    exact: bool = False

    def identity(self) -> dict[str, Any]:
        return {"name": self.name}

    @abstractmethod
    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        """Judge one prediction. Return ``Score(status="error")`` (or raise) when no verdict is possible."""
