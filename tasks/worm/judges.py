"""The WorM rule judge: each variant parses and scores its own answers, per response format.

Exact: the gold is the trial's own answer, and the variant's ``score`` parses strictly (an answer it
cannot read is ``invalid``, its own label, and scores 0). ``values`` always hold ``score``: the
question's value in [0, 1] (``correct`` for binary, choice, sequence and boxes; ``f1`` for a set), so
the main metric reads one key whatever the format.
"""

from __future__ import annotations

from typing import Any

from membench.core.types import Episode, Prediction, Probe, Score
from membench.judges.base import Judge
from membench_tasks.worm.variants import all_variants


def question_score(fmt: str, values: dict[str, float]) -> float:
    """The one number a question scores: F1 for a set, ``correct`` otherwise."""
    return values.get("f1" if fmt == "set" else "correct", 0.0)


class RuleJudge(Judge):
    name = "rule"
    version = "v1"
    exact = True

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}

    async def score(self, probe: Probe, prediction: Prediction, episode: Episode) -> Score:
        variant = all_variants()[probe.labels["variant"]]
        fmt = probe.gold["format"]
        gold = {k: v for k, v in probe.gold.items() if k != "format"}
        values = dict(variant.score(fmt, gold, prediction.answer or ""))
        values["score"] = 0.0 if values.get("invalid") else question_score(fmt, values)
        if values.get("invalid"):
            label = "invalid"
        else:
            label = "right" if values["score"] == 1.0 else ("partial" if values["score"] > 0 else "wrong")
        return Score(judge=self.name, label=label, values=values)
