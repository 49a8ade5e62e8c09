"""Metric contributions kept as columns: the contributions table's rows before pandas is needed.

A run keeps its contributions for its whole life (``running.contributions``): as columns of plain
values they are a handful of lists, where ``Contribution`` objects with their labels dicts were two
objects per row for the garbage collector to walk in every older collection of the run (at 9,600
HaluMem records, 170,000 rows; held as objects, the calls kept the endpoint 0.80 busy instead of
0.94). ``stats.frame`` builds the
table from these columns, whichever way the contributions came.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from membench.core.task import Contribution

if TYPE_CHECKING:
    import pandas as pd

#: the columns every contributions table has, in order; label columns follow in first-seen order.
COLUMNS = ("metric", "episode_id", "probe_id", "num", "den", "error")


class ContributionColumns:
    """Rows of contributions as columns: the fixed ones, then each label's (None where a row lacks it)."""

    def __init__(self) -> None:
        self.metric: list[str] = []
        self.episode_id: list[str] = []
        self.probe_id: list[str] = []
        self.num: list[float] = []
        self.den: list[float] = []
        self.error: list[bool] = []
        self.labels: dict[str, list[str | None]] = {}

    def extend(self, contributions: Iterable[Contribution]) -> None:
        for c in contributions:
            row = len(self.metric)
            self.metric.append(c.metric)
            self.episode_id.append(c.episode_id)
            self.probe_id.append(c.probe_id)
            self.num.append(float(c.num))
            self.den.append(float(c.den))
            self.error.append(bool(c.error))
            for key, value in c.labels.items():
                column = self.labels.get(key)
                if column is None:
                    column = self.labels[key] = [None] * row
                column.append(value)
            for column in self.labels.values():
                if len(column) == row:  # this row has no such label
                    column.append(None)

    def frame(self) -> pd.DataFrame:
        """The table: one row per contribution, the label columns after the fixed ones."""
        import pandas as pd

        if not self.metric:
            return pd.DataFrame([], columns=list(COLUMNS)).astype({"error": bool})
        data: dict[str, list[str] | list[float] | list[bool] | list[str | None]] = {
            "metric": self.metric,
            "episode_id": self.episode_id,
            "probe_id": self.probe_id,
            "num": self.num,
            "den": self.den,
            "error": self.error,
        }
        data.update(self.labels)
        return pd.DataFrame(data)
