"""The Judge seam: one verdict per prediction. Judges are task-specific in what they read from ``Probe.gold``.

One way to build a judge, whoever ships it (``membench.running.components.build_judge`` is the only caller):

- a task's own judges are named in ``Task.judge_names`` and built by ``Task.make_judge(name, llm)``;
- any other judge (``--plugin file.py:MyJudge``, or an entry point in the ``membench.judges`` group) is
  a ``Judge`` subclass with a ``name``, built as ``MyJudge(llm)``.

In both, ``llm`` is the judge's LLM client (``--judge-llm MODEL``; any ``membench.llm.types.LLM``) or
None when no judge model was given; a judge that needs one raises ConfigError without it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from membench.core.types import Episode, Prediction, Probe, Score

if TYPE_CHECKING:
    from membench.llm.types import LLM


class Judge(ABC):
    #: short name used in records and reports: "rule", "lexical", "llm:<model>".
    name: str
    #: True when the verdicts are exact (rule judge on machine-checkable keys); False when approximate.
    exact: bool = False

    def __init__(self, llm: LLM | None = None) -> None:  # noqa: B027 (a constructor, not a hook)
        """How every judge can be built (see the module docstring). An offline judge ignores ``llm``;
        one that calls a model overrides this and keeps its client."""

    def identity(self) -> dict[str, Any]:
        return {"name": self.name}

    @abstractmethod
    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        """Judge one prediction. Return ``Score(status="error")`` (or raise) when no verdict is possible."""
