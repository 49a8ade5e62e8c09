"""The contributions table every statistic reads, and its checks.

Statistics work on one long table (a row per contribution) rather than on aggregates, so that any
metric can be recomputed on any resample of episodes. This module builds that table from
``Contribution`` objects, rejects malformed tables with a message naming the column and row, and adds
the per-row weight the metric arithmetic uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from membench.core.columns import COLUMNS, ContributionColumns
from membench.core.errors import ConfigError, DataError
from membench.core.task import Contribution, Task
from membench.stats.metrics import MetricSet

#: name used in DataError messages: the table is built in memory, not read from a file.
SOURCE = "contributions"
#: per-row weight column: Σden for ratio metrics, 1 per non-errored row for sum metrics.
WEIGHT = "_weight"


def contributions_frame(contributions: Iterable[Contribution]) -> pd.DataFrame:
    """The long table of ``contributions``, one row each, labels spread into their own columns."""
    columns = ContributionColumns()
    columns.extend(contributions)
    return columns.frame()


def contributions_table(
    task: Task, contributions: Iterable[Contribution] | ContributionColumns
) -> pd.DataFrame:
    """The statistics' table of a run's contributions, however they were taken (from the run read
    back: ``analysis.runs``, or episode by episode as it ran: ``running.contributions``).

    Rows are put in episode order (a stable sort), so that the table does not depend on the order in
    which concurrent episodes wrote their records: sums over a cluster of several episodes (or over
    probes) then add up in one order, and the same records give the same bits. Statistics resample
    the ``episode_id`` column as the cluster. A task that declares a ``cluster_label`` has that
    label's value put there instead (the episode stays the unit of memory state; the cluster is what
    outcomes are correlated within); a row without the label keeps its episode."""
    if isinstance(contributions, ContributionColumns):
        frame = contributions.frame()
    else:
        frame = contributions_frame(contributions)
    if frame.empty:
        return frame
    frame = frame.sort_values("episode_id", kind="stable", ignore_index=True)
    key = task.cluster_label
    if key is None:
        return frame
    if key not in frame.columns:
        raise ConfigError(
            f"task {task.name} clusters by label '{key}', which none of its contributions carry"
        )
    frame["episode_id"] = frame[key].where(frame[key].notna(), frame["episode_id"])
    return frame


def prepare(contributions: pd.DataFrame, metrics: MetricSet, names: Sequence[str]) -> pd.DataFrame:
    """The rows of the aggregated metrics ``names``, checked, with their weight column.

    Rows of other metrics are dropped before any check: a run's table holds every metric of the task,
    and a comparison reads one.
    """
    missing = [column for column in COLUMNS if column not in contributions.columns]
    if missing:
        raise DataError(SOURCE, None, missing[0], f"missing column (a contributions table needs {COLUMNS})")
    wanted = contributions["metric"].isin(names).to_numpy()
    rows = contributions[wanted].copy()  # a copy: pandas < 3 warns when a filtered view is written
    rows.index = np.flatnonzero(wanted)
    for column in ("num", "den"):
        values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
        _require(rows, ~np.isfinite(values), column, "is not a finite number")
        rows[column] = values
    _require(rows, rows["den"].to_numpy() < 0, "den", "is negative")
    error = rows["error"]
    if not pd.api.types.is_bool_dtype(error):
        _require(rows, ~error.isin([0, 1]).to_numpy(), "error", "is not a boolean")
        rows["error"] = error.astype(bool)
    for column in ("episode_id", "probe_id"):
        _require(rows, rows[column].isna().to_numpy(), column, "is missing")
    sums = [name for name in names if metrics.spec(name).aggregate == "sum"]
    is_sum = rows["metric"].isin(sums).to_numpy()
    rows[WEIGHT] = np.where(is_sum, (~rows["error"]).to_numpy(dtype=float), rows["den"].to_numpy())
    return rows


def uncounted_errors(prepared: pd.DataFrame) -> np.ndarray:
    """Rows (of ``prepare``'s output) that errored in a way their metric does not count: they weigh
    nothing, so their probe leaves a comparison. An "(all)" metric counts an error as 0 over its
    denominator, so such a row still weighs and its probe stays."""
    return prepared["error"].to_numpy(dtype=bool) & (prepared[WEIGHT].to_numpy() == 0)


def _require(rows: pd.DataFrame, bad: np.ndarray, column: str, problem: str) -> None:
    """Raise on the first row flagged ``bad``, naming its row in the table (counted from 1, like lines)."""
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        value = rows[column].iloc[position]
        # rows.index holds each row's position in the caller's table.
        raise DataError(SOURCE, int(rows.index[position]) + 1, column, f"{problem} ({value!r})")


def probe_keys(rows: pd.DataFrame) -> tuple[np.ndarray, pd.MultiIndex]:
    """A code per row for its probe, and the distinct (episode_id, probe_id) pairs in code order.

    Probes are keyed by episode too, so that two episodes may reuse a probe name.
    """
    episode_codes, episodes = pd.factorize(rows["episode_id"])
    probe_codes, probes = pd.factorize(rows["probe_id"])
    stride = max(1, len(probes))
    codes, pairs = pd.factorize(episode_codes.astype(np.int64) * stride + probe_codes)
    keys = pd.MultiIndex.from_arrays(
        [episodes[pairs // stride], probes[pairs % stride]], names=["episode_id", "probe_id"]
    )
    return codes, keys
